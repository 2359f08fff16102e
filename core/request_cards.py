"""The wording of agents' requests: the message with its buttons, and the replies to deciders."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from core import confirms
from core.cards import confirmation, label
from core.durations import format_duration
from core.models import Session
from core.records.requests import Request, RequestKind, RequestStatus, Risk
from core.services.asks import MAX_TEXT
from core.views import Accent, Button, Field, Form, FormField, View, escape, mention

REQUEST_APPROVE = "request_approve"
REQUEST_REJECT = "request_reject"
REQUEST_CHOICE = "request_choice"
REQUEST_EDIT = "request_edit"  # opens the Edit form; its submit approves with the edited args
REQUEST_ANSWER = "request_answer"  # opens the Answer form of a free-text question
ACTIONS = frozenset({REQUEST_APPROVE, REQUEST_REJECT, REQUEST_CHOICE, REQUEST_EDIT, REQUEST_ANSWER})
ANSWER_PART = "text"  # the Answer button's value: `<request id>_text`
# The longest arguments (pretty JSON) a chat form holds: Slack's text input takes 3,000
# characters (Discord's 4,000); longer ones are edited through the API.
EDIT_MAX = 3000
SHOWN_ARGS = 12  # arguments listed in the message; the rest are counted
SHOWN_VALUE = 200  # characters of one argument's value
_ACCENTS = {
    RequestStatus.PENDING: Accent.WARNING,
    RequestStatus.APPROVED: Accent.SUCCESS,
    RequestStatus.ANSWERED: Accent.SUCCESS,
    RequestStatus.REJECTED: Accent.DANGER,
    RequestStatus.EXPIRED: Accent.DANGER,
}


def button_value(request: Request, part: str) -> str:
    """`<request id>_<digest or choice number>`: the click says what it saw."""
    return f"{request.id}_{part}"


def parse_value(value: str) -> tuple[str, str]:
    request_id, _, part = value.rpartition("_")
    return request_id, part


def args_lines(args: dict[str, Any], request_id: str) -> list[str]:
    """The arguments readably, one per line; long values cut, with where to read them all."""
    lines = []
    for key, value in list(args.items())[:SHOWN_ARGS]:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > SHOWN_VALUE:
            text = text[:SHOWN_VALUE] + "…"
        lines.append(f"{escape(str(key))}: `{escape(text)}`")
    cut = len(args) > SHOWN_ARGS or any(
        len(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) > SHOWN_VALUE
        for v in args.values()
    )
    if cut:
        more = len(args) - SHOWN_ARGS
        lines.append(
            (f"… and {more} more. " if more > 0 else "… ")
            + f"All arguments: `GET /api/v1/requests/{request_id}`"
        )
    return lines


def message(session: Session, request: Request) -> View:
    """The request in the session's thread: buttons while pending, the outcome afterwards."""
    pending = request.status is RequestStatus.PENDING
    fields = [Field("Requested by", mention(request.created_by))]
    buttons: list[Button] = []
    if request.kind is RequestKind.ACTION:
        title = f"Approve `{escape(request.action)}`? ({label(session)})"
        blocks = [escape(request.summary)] if request.summary else []
        blocks += args_lines(request.final_args, request.id) or ["(no arguments)"]
        approvals = len(request.approvers_of_current())
        fields += [
            Field("Risk", request.risk.value),
            Field("Approvals", f"{approvals}/{request.need}"),
        ]
        if request.approvers:
            fields.append(Field("Approvers", ", ".join(mention(a) for a in request.approvers)))
        if pending:
            buttons = [
                Button(
                    REQUEST_APPROVE,
                    button_value(request, request.digest),
                    "Approve",
                    "primary",
                    confirm=confirms.request_approval(request.risk, request.action),
                ),
                Button(REQUEST_EDIT, button_value(request, request.digest), "Edit"),
                Button(REQUEST_REJECT, button_value(request, request.digest), "Reject", "danger"),
            ]
        if request.edited_args is not None:
            blocks.append("Arguments edited by the approver (the agent runs these).")
    else:
        title = f"Question for {label(session)}"
        blocks = [escape(request.question)]
        if request.choices:
            blocks.append(" · ".join(f"{n}. {escape(c)}" for n, c in enumerate(request.choices, 1)))
        if pending:
            buttons = [
                Button(REQUEST_CHOICE, button_value(request, str(n)), choice[:75])
                for n, choice in enumerate(request.choices, 1)
            ]
            if request.free_text:
                buttons.append(
                    Button(REQUEST_ANSWER, button_value(request, ANSWER_PART), "Answer", "primary")
                )
    if pending and request.expires_at:
        fields.append(Field("Expires", f"{request.expires_at:%Y-%m-%d %H:%M} UTC"))
    if pending and request.escalated:
        blocks.append("Escalated: no decision in time, so more approvers were asked.")
    if not pending:
        blocks.append(outcome_line(request))
    return View(
        kind="request",
        title=title,
        fields=fields,
        blocks=blocks,
        buttons=buttons,
        accent=_ACCENTS[request.status],
        session_ref=session.ref,
        meta={"request_id": request.id, "session_id": session.id, "status": request.status.value},
    )


def outcome_line(request: Request) -> str:
    who = mention(request.decided_by) if request.decided_by else "no one in time"
    if request.status is RequestStatus.ANSWERED:
        return f"Answered by {who}: {escape(request.answer or '')}"
    if request.status is RequestStatus.EXPIRED:
        return "Expired: no decision in time."
    if request.decided_by is None:
        return f"{request.status.value.capitalize()} on expiry (low risk)."
    line = f"{request.status.value.capitalize()} by {who}"
    return line + (f" — {escape(request.reason)}" if request.reason else "")


def reminder(session: Session, request: Request, *, percent: int, now: datetime) -> View:
    """A reminder that a request still waits (in the thread, and by DM to each approver)."""
    what = f"`{escape(request.action)}`" if request.kind is RequestKind.ACTION else "a question"
    left = request.expires_at - now if request.expires_at else None
    fields = [Field("Requested by", mention(request.created_by)), Field("Request", request.id)]
    if left is not None:
        fields.append(Field("Time left", format_duration(max(left, timedelta(0)))))
    return View(
        kind="reminder",
        title=f"Reminder: {what} waits for your decision ({label(session)})",
        fields=fields,
        blocks=[f"{percent} % of its time has passed; it is in the session's thread."],
        accent=Accent.WARNING,
        session_ref=session.ref,
        meta={"reminder": "auto_request", "request_id": request.id, "percent": percent},
    )


def decided(session: Session, request: Request, *, approvals: int, settled: bool) -> View:
    """The decider's reply: the outcome, or an approval counted towards the N needed."""
    if not settled:
        text = f"approval counted for `{escape(request.action)}`: {approvals}/{request.need}"
        return confirmation(session, text, accent=Accent.WARNING)
    return confirmation(session, outcome_line(request), accent=_ACCENTS[request.status])


def confirm_needed(session: Session, request: Request) -> View:
    """A high-risk Approve click: approving needs the action's name typed, not a click."""
    action = escape(request.action)
    text = (
        f"`{action}` is a high-risk action: approving it needs its name typed. "
        f"Approve it with `/session approve {request.id} confirm:{action}` (or `confirm` set "
        f"to `{action}` in `POST /api/v1/requests/{request.id}/decision`)."
    )
    return confirmation(session, text, accent=Accent.WARNING)


def request_list(session: Session, requests: list[Request], *, pending_only: bool = True) -> View:
    """One session's requests (`/session requests <ref>`): the pending ones, or all of them."""
    which = "Pending requests" if pending_only else "Requests"
    if not requests:
        return View(kind="list", title=f"{which} of {label(session)}: none")
    lines = [_line(r, status=not pending_only) for r in requests]
    return View(
        kind="list",
        title=f"{which} of {label(session)} ({len(lines)})",
        blocks=lines,
        footer=_HOW_TO_DECIDE if any(r.status is RequestStatus.PENDING for r in requests) else None,
    )


def waiting_list(found: list[tuple[Session, Request]], total: int) -> View:
    """`/session requests`: the pending requests of this workspace this person may decide."""
    if not found:
        return View(kind="list", title="No requests are waiting for you")
    lines = [f"{_line(r)} · {label(s)}" for s, r in found]
    if total > len(found):
        lines.append(f"… the oldest {len(found)} of {total} shown.")
    return View(
        kind="list",
        title=f"Requests waiting for you ({total})",
        blocks=lines,
        footer=_HOW_TO_DECIDE,
    )


_HOW_TO_DECIDE = (
    "Decide by id: `/session approve <id>` (high risk: `confirm:<action>`), "
    "`/session reject <id> <reason…>`, `/session answer <id> <text…>` or `choice:<n>`."
)


def _line(request: Request, *, status: bool = False) -> str:
    """`<id> · <action or question> · high risk · by @x` (with its status when asked)."""
    r = request
    if r.kind is RequestKind.ACTION:
        parts = [r.id, f"`{escape(r.action)}`"] + (["high risk"] if r.risk is Risk.HIGH else [])
    else:
        choices = " ".join(f"{n}. {escape(c)}" for n, c in enumerate(r.choices, 1))
        parts = [r.id, escape(r.question[:80]) + (f" ({choices})" if choices else "")]
    if status:
        parts.append(r.status.value)
    return " · ".join([*parts, f"by {mention(r.created_by)}"])


def _decision_route(request: Request) -> str:
    return f"POST /api/v1/requests/{request.id}/decision"


def confirm_form(request: Request, value: str) -> Form:
    """A high-risk Approve: the form where the approver types the action's name."""
    return Form(
        REQUEST_APPROVE,
        value,
        title="High-risk approval",
        submit="Approve",
        fields=(_confirm_field(request),),
        text=f"`{escape(request.action)}` is a high-risk action: type its name to approve it.",
    )


def _confirm_field(request: Request) -> FormField:
    return FormField(
        "confirm", "Type the action's name", placeholder=request.action[:100], max_length=100
    )


def edit_form(request: Request, value: str) -> Form:
    """Edit: the current arguments as pretty JSON to change, then approve (with the typed name
    for a high-risk action); arguments too long for a chat form are edited through the API."""
    current = json.dumps(request.final_args, indent=2, ensure_ascii=False)
    title = "Edit the arguments"
    if len(current) > EDIT_MAX:
        text = (
            f"These arguments are {len(current):,} characters as JSON, more than the "
            f"{EDIT_MAX:,} a chat form holds, so they cannot be edited in chat: edit them with "
            f'`{_decision_route(request)}` and `{{"decision": "approve", "args": {{…}}}}`.'
        )
        return Form(REQUEST_EDIT, value, title=title, submit="Close", text=text)
    confirm = (_confirm_field(request),) if request.risk is Risk.HIGH else ()
    args = FormField(
        "args", "Arguments (a JSON object)", initial=current, multiline=True, max_length=EDIT_MAX
    )
    text = (
        f"Approve `{escape(request.action)}` with these arguments: the agent runs the edited "
        "ones, and the audit trail keeps both."
    )
    return Form(
        REQUEST_EDIT,
        value,
        title=title,
        submit="Approve edited",
        fields=(*confirm, args),
        text=text,
    )


def answer_form(request: Request, value: str) -> Form:
    """Answer: a question answered in words."""
    answer = FormField("answer", "Your answer", multiline=True, max_length=MAX_TEXT)
    text = escape(request.question)
    return Form(REQUEST_ANSWER, value, title="Answer the question", submit="Answer",
                fields=(answer,), text=text)  # fmt: skip


def elsewhere(session: Session, request: Request) -> View:
    """Where a form cannot open: how to edit or answer the request through the API."""
    if request.kind is RequestKind.QUESTION:
        what, body = "Answer in the form", '{"decision": "answer", "text": "…"}'
    elif request.risk is Risk.HIGH:
        what = "Edit the arguments (and type the action's name) in the form"
        body = f'{{"decision": "approve", "args": {{…}}, "confirm": "{escape(request.action)}"}}'
    else:
        what, body = "Edit the arguments in the form", '{"decision": "approve", "args": {…}}'
    text = f"{what}; where none opens, use `{_decision_route(request)}` with `{body}`."
    return confirmation(session, text, accent=Accent.WARNING)
