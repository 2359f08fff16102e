"""Builds the neutral views of §6 from domain records; all user-facing wording lives here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core import confirms, glance
from core.commands import COMMANDS, CommandSpec
from core.durations import format_duration
from core.models import (
    EventType,
    ItemStatus,
    Member,
    ModAction,
    Plan,
    PlanItem,
    PlanModification,
    PlanStatus,
    Session,
    Status,
)
from core.records.requests import RequestStats
from core.views import Accent, Button, Field, View, escape, mention
from core.wording import noun_for, plural

APPROVE_ACTION = "plan_approve"
REJECT_ACTION = "plan_reject"
REREQUEST_ACTION = "plan_rerequest"

_ACCENTS = {
    Status.ACTIVE: Accent.INFO,
    Status.PENDING: Accent.WARNING,
    Status.PAUSED: Accent.WARNING,
    Status.COMPLETED: Accent.SUCCESS,
    Status.FAILED: Accent.DANGER,
    Status.CANCELLED: Accent.DANGER,
    Status.TIMED_OUT: Accent.DANGER,
    Status.ABANDONED: Accent.DANGER,
    Status.ARCHIVED: Accent.INFO,
}

_NOTICES: dict[EventType, tuple[str, Accent]] = {
    EventType.CREATED: ("started by {actor}", Accent.INFO),
    EventType.PLAN_SUBMITTED: ("plan v{plan} submitted by {actor} for approval", Accent.WARNING),
    EventType.PLAN_APPROVED: ("plan v{plan} approved by {actor}", Accent.SUCCESS),
    EventType.PLAN_REJECTED: ("plan v{plan} rejected by {actor}", Accent.DANGER),
    EventType.PLAN_EXPIRED: ("plan v{plan} approval request expired", Accent.WARNING),
    EventType.PAUSED: ("paused by {actor}", Accent.WARNING),
    EventType.RESUMED: ("resumed by {actor}", Accent.INFO),
    EventType.COMPLETED: ("completed by {actor}", Accent.SUCCESS),
    EventType.PLAN_APPROVAL: ("plan approval counted ({actor})", Accent.INFO),
    EventType.FAILED: ("failed ({actor})", Accent.DANGER),
    EventType.CANCELLED: ("cancelled by {actor}", Accent.DANGER),
    EventType.TIMED_OUT: ("timed out after {iterations}", Accent.DANGER),
    EventType.ABANDONED: ("abandoned after no activity", Accent.DANGER),
    EventType.ARCHIVED: ("archived by {actor}", Accent.INFO),
    EventType.EXTENDED: ("extended by {actor}", Accent.INFO),
    EventType.SHARED: ("shared with {target} as {role} by {actor}", Accent.INFO),
    EventType.UNSHARED: ("no longer shared with {target} (removed by {actor})", Accent.INFO),
    EventType.TRANSFERRED: ("handed over to {target} by {actor}", Accent.INFO),
}


def label(session: Session) -> str:
    return f"#{session.ref} {escape(session.title)}"


def when(value: datetime | None) -> str:
    """A moment as the cards show it (`2026-12-04 21:04 UTC`, `—` for none)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def session_card(
    session: Session,
    members: list[Member],
    plan: Plan | None,
    *,
    now: datetime,
    lineage: list[Session] | None = None,
) -> View:
    """The full `show` view: status, people, progress, deadline, plan and last decision."""
    fields = [
        Field("Status", session.status.value),
        Field("Mode", escape(session.mode)),
        Field("Owner", mention(session.owner_id)),
        Field("Iterations", f"{session.iterations}/{session.max_iterations}"),
        Field("Last activity", _ago(session.last_activity_at, now)),
        Field("Abandon deadline", _deadline(session, now)),
    ]
    others = [m for m in members if m.user_id != session.owner_id]
    if others:
        people = ", ".join(f"{mention(m.user_id)} ({m.role.value})" for m in others)
        fields.append(Field("Members", people, inline=False))
    if lineage:
        fields.append(Field("Forked from", " ← ".join(label(s) for s in lineage), inline=False))
    if session.result:
        fields.append(Field("Result", escape(session.result), inline=False))
    if session.error:
        fields.append(Field("Error", escape(session.error), inline=False))
    blocks = [plan_summary(plan), *decision_lines(plan)] if plan else []
    title = f"Session {label(session)}"
    summary = None
    if plan and plan.items:
        progress = glance.tally(plan.items)
        fields.insert(3, Field("Progress", glance.bar(progress)))
        summary = f"{title}: {glance.in_words(progress)}"
    return View(
        kind="session_card",
        title=title,
        fields=fields,
        blocks=blocks,
        accent=_ACCENTS[session.status],
        session_ref=session.ref,
        meta={"session_id": session.id},
        summary=summary,
    )


def _ago(value: datetime, now: datetime) -> str:
    return f"{format_duration(now - value)} ago" if now > value else "just now"


def _deadline(session: Session, now: datetime) -> str:
    if session.abandon_at is None or session.status not in (
        Status.ACTIVE,
        Status.PAUSED,
        Status.PENDING,
    ):
        return "—"
    return f"in {format_duration(session.abandon_at - now)}" if session.abandon_at > now else "due"


def plan_summary(plan: Plan) -> str:
    lines = [f"*Plan v{plan.version}* — {plan.status.value}"]
    lines += [item_line(item, status=True) for item in plan.items]
    return "\n".join(lines)


def item_line(item: PlanItem, *, status: bool) -> str:
    """One plan item with its status as a checklist mark, assignee and comments (who said
    what, when)."""
    state = f"{glance.check(item.status)} " if status else ""
    who = f" → {mention(item.assignee)}" if item.assignee else ""
    lines = [f"{state}{item.position}. {escape(item.title)}{who}"]
    for comment in item.comments:
        at = _comment_time(comment.get("at"))
        text = escape(str(comment.get("text", "")))
        lines.append(f"    💬 {mention(comment.get('by'))}{at}: {text}")
    return "\n".join(lines)


def _comment_time(value: object) -> str:
    try:
        return f" at {when(datetime.fromisoformat(str(value)))}"
    except ValueError:
        return ""


def decision_lines(plan: Plan) -> list[str]:
    """What settled the plan and, once superseded, by whom and when: one line each."""
    lines: list[str] = []
    settled = plan.settled_as
    if settled is PlanStatus.EXPIRED:
        lines.append(f"The approval request expired at {when(plan.decided_at)}.")
    elif settled is not None:
        verb = "Approved" if settled is PlanStatus.APPROVED else "Rejected"
        why = f" — {escape(plan.decision_reason)}" if plan.decision_reason else ""
        lines.append(f"{verb} by {mention(plan.decided_by)} at {when(plan.decided_at)}{why}")
    if plan.status is PlanStatus.SUPERSEDED:
        who = f" by {mention(plan.superseded_by)}" if plan.superseded_by else ""
        at = f" at {when(plan.superseded_at)}" if plan.superseded_at else ""
        lines.append(f"Superseded{who}{at} (plan v{plan.version + 1}).")
    return lines


def plan_message(session: Session, plan: Plan) -> View:
    """The top-level plan message: buttons while pending, the decision afterwards."""
    approvals = len(plan.approvers_of_current())
    fields = [
        Field("Submitted by", mention(plan.submitted_by)),
        Field("Approvals", f"{approvals}/{plan.required_approvals}"),
    ]
    if plan.expires_at and plan.status is PlanStatus.PENDING:
        fields.append(Field("Expires", when(plan.expires_at)))
    pending = plan.status is PlanStatus.PENDING
    started = any(i.status is not ItemStatus.TODO for i in plan.items)
    checklist = started or not pending
    items = "\n".join(item_line(i, status=checklist) for i in plan.items)
    blocks = [items, *decision_lines(plan)]
    title = f"Plan v{plan.version} for {label(session)}"
    summary = None
    if checklist and plan.items:
        progress = glance.tally(plan.items)
        fields.append(Field("Progress", glance.bar(progress)))
        summary = f"{title}: {glance.in_words(progress)}"
    buttons: list[Button] = []
    if pending:
        ask = confirms.plan_approval(session.mode, f"{label(session)} (plan v{plan.version})")
        buttons = [
            Button(APPROVE_ACTION, plan.id, "Approve", "primary", confirm=ask),
            Button(REJECT_ACTION, plan.id, "Reject", "danger"),
        ]
    elif plan.status is PlanStatus.EXPIRED:
        buttons = [Button(REREQUEST_ACTION, plan.id, "Request approval again")]
    accent = {
        PlanStatus.APPROVED: Accent.SUCCESS,
        PlanStatus.REJECTED: Accent.DANGER,
        PlanStatus.PENDING: Accent.WARNING,
    }.get(plan.status, Accent.INFO)
    return View(
        kind="plan",
        title=title,
        fields=fields,
        blocks=blocks,
        buttons=buttons,
        accent=accent,
        session_ref=session.ref,
        meta={"plan_id": plan.id, "session_id": session.id, "status": plan.status.value},
        summary=summary,
    )


def notice(session: Session, event: EventType, actor_id: str, **data: object) -> View:
    """A short lifecycle notification for the session's thread."""
    template, accent = _NOTICES.get(event, ("{event} by {actor}", Accent.INFO))
    values = {
        "actor": mention(actor_id),
        "event": event.value.replace("_", " "),
        "iterations": plural(session.iterations, "iteration"),
        **{k: (escape(v) if isinstance(v, str) else v) for k, v in data.items()},
    }
    if isinstance(data.get("user_id"), str):
        values["target"] = mention(str(data["user_id"]))
    text = template.format_map(_Defaults(values))
    blocks = [f"Reason: {escape(str(data['reason']))}"] if data.get("reason") else []
    return View(
        kind="notice",
        title=f"Session {label(session)} {text}",
        blocks=blocks,
        accent=accent,
        session_ref=session.ref,
        meta={"event": event.value, "session_id": session.id},
    )


class _Defaults(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"


def plan_pointer(session: Session, plan: Plan) -> View:
    return View(
        kind="notice",
        title=f"Session {label(session)}: plan v{plan.version} posted in the channel for approval",
        accent=Accent.WARNING,
        session_ref=session.ref,
        meta={"event": "plan_pointer", "plan_id": plan.id},
    )


def confirmation(session: Session, text: str, *, accent: Accent = Accent.INFO) -> View:
    """A one-line reply to a command that changed something."""
    return View(
        kind="confirmation",
        title=f"Session {label(session)}: {text}",
        accent=accent,
        session_ref=session.ref,
        meta={"session_id": session.id, "status": session.status.value},
    )


# -- one-line replies to commands that changed something ----------------------------------------


def started(session: Session, actor_id: str) -> View:
    return confirmation(session, f"started by {mention(actor_id)} ({session.mode})")


def status_changed(session: Session, verb: str, actor_id: str, note: str | None) -> View:
    """`paused by @ana — waiting for review` (the note is the reason or summary given)."""
    text = f"{verb} by {mention(actor_id)}"
    return confirmation(session, text + (f" — {escape(note)}" if note else ""))


def extended(session: Session) -> View:
    deadline = f"{session.abandon_at:%Y-%m-%d %H:%M} UTC" if session.abandon_at else "—"
    return confirmation(session, f"extended; abandon deadline {deadline}")


def shared(session: Session, user_id: str, role: str) -> View:
    return confirmation(session, f"shared with {mention(user_id)} as {role}")


def unshared(session: Session, user_id: str) -> View:
    return confirmation(session, f"no longer shared with {mention(user_id)}")


def handed_over(session: Session, previous_owner: str) -> View:
    text = f"handed over to {mention(session.owner_id)}; {mention(previous_owner)} "
    return confirmation(session, text + "stays on as an editor")


def plan_posted(session: Session, plan: Plan, deciders: int) -> View:
    """The submitter's reply, warning when fewer people can decide than the plan needs."""
    text = f"plan v{plan.version} with {plural(len(plan.items), 'item')} submitted for approval"
    if plan.required_approvals > 1:
        text += f" (needs {plan.required_approvals})"
    if plan.required_approvals > deciders:
        text += (
            f". Warning: only {deciders} known {'person' if deciders == 1 else 'people'} can"
            " approve it (the owner, approvers and named admins): share it with more approvers"
            " (`/session share @name approver`) or it cannot pass"
        )
    return confirmation(session, text, accent=Accent.WARNING)


def requested_again(session: Session, plan: Plan) -> View:
    text = f"approval requested again for plan v{plan.version}"
    return confirmation(session, text, accent=Accent.WARNING)


def decision(
    session: Session, plan: Plan, *, approvals: int, settled: bool, repeated: bool
) -> View:
    """The decider's reply: a repeated approval, one counted towards N, or the decision."""
    need = plan.required_approvals
    if repeated:
        text = f"you already approved plan v{plan.version} ({approvals}/"
        return confirmation(session, text + f"{need} {noun_for(need, 'approval')})")
    if not settled:
        text = f"approval counted for plan v{plan.version}: {approvals}/{need}"
        return confirmation(session, text, accent=Accent.WARNING)
    verb = plan.status.value
    text = f"plan v{plan.version} {verb} by {mention(plan.decided_by)}"
    if plan.decision_reason:
        text += f" — {escape(plan.decision_reason)}"
    accent = Accent.SUCCESS if verb == "approved" else Accent.DANGER
    return confirmation(session, text + f"; session is {session.status.value}", accent=accent)


def item_modified(session: Session, mod: PlanModification) -> View:
    shown = mention(mod.value) if mod.action is ModAction.REASSIGN else escape(mod.value)
    return confirmation(
        session, f"item {mod.position}: {mod.action.value.replace('_', ' ')} → {shown}"
    )


def session_list(
    sessions: list[Session], *, total: int, page: int, pages: int, heading: str, now: datetime
) -> View:
    if not sessions:
        return View(kind="list", title=f"{heading}: none", blocks=["No sessions match."])
    lines = [
        f"#{s.ref} · {escape(s.title)} · {s.status.value} · {escape(s.mode)} · "
        f"{mention(s.owner_id)} · {_ago(s.last_activity_at, now)}"
        for s in sessions
    ]
    return View(
        kind="list",
        title=f"{heading} ({total})",
        blocks=lines,
        footer=f"Page {page} of {pages}" + (f" · next: page:{page + 1}" if page < pages else ""),
    )


def help_view(spec: CommandSpec | None = None) -> View:
    if spec is not None:
        blocks = [spec.summary, f"`{spec.usage}`"] + ([spec.details] if spec.details else [])
        blocks += [f"Example: `{e}`" for e in spec.examples]
        return View(kind="help", title=f"/session {spec.name}", blocks=blocks)
    lines = [f"`{s.usage}`\n    {s.summary}" for s in COMMANDS.values()]
    return View(
        kind="help",
        title="sessionbot commands",
        blocks=lines,
        footer="Refs: 42, #42 or the full id; without a ref, your active session here is used. "
        "`approve`, `reject` and `answer` also take a request's id.",
    )


def error_view(message: str) -> View:
    return View(kind="error", title="⚠ " + message.split("\n")[0], blocks=message.split("\n")[1:],
                accent=Accent.DANGER)  # fmt: skip


def stats_view(stats: Any) -> View:
    """Counts by status and mode, success rate, durations, approval latency, outbox health."""
    by_status = ", ".join(f"{k}: {v}" for k, v in sorted(stats.by_status.items())) or "none"
    by_mode = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(stats.by_mode.items())) or "none"
    rate = f"{stats.success_rate:.0%}" if stats.success_rate is not None else "—"
    duration = format_duration(stats.median_duration) if stats.median_duration else "—"
    latency = stats.median_approval_latency
    latency = format_duration(latency) if latency is not None else "—"
    fields = [
        Field("By status", by_status, inline=False),
        Field("By mode", by_mode, inline=False),
        Field("Average iterations", f"{stats.average_iterations:.1f}"),
        Field("Success rate", rate),
        Field("Median duration", duration),
        Field("Median approval latency", latency),
        *request_fields(stats.requests),
        Field("Outbox", f"{stats.outbox_pending} pending, {stats.outbox_dead} dead"),
    ]
    if stats.outbox_waiting:
        waiting = f"{stats.outbox_waiting} for a platform with no adapter configured here"
        fields.append(Field("Outbox waiting", waiting))
    return View(
        kind="stats", title=f"Stats for the last {plural(stats.days, 'day')}", fields=fields
    )


_SETTLED = ("approved", "rejected", "answered", "expired")


def request_fields(requests: RequestStats) -> list[Field]:
    """Agents' requests in stats and channel summaries: how many were created and settled, and
    how long people took to decide them."""
    counts = [f"{requests.created} created"]
    counts += [f"{requests.settled.get(status, 0)} {status}" for status in _SETTLED]
    latency = requests.median_latency
    return [
        Field("Requests", " · ".join(counts), inline=False),
        Field(
            "Median request decision latency",
            format_duration(latency) if latency is not None else "—",
        ),
    ]
