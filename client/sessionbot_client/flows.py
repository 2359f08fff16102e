"""Every operation of the REST API as a `Flow` (see `wire`): the one definition both clients run.

Records come back as the API's JSON objects (`dict`); a request's outcome as `Approved` or
`Answer`, or one of the `RequestSettled` errors.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sessionbot_client.errors import Expired, Rejected, StillPending
from sessionbot_client.wire import Call, Flow, Settings, path, request

Ref = str | int  # a session's ref (42) or id
Json = dict[str, Any]
Risk = Literal["low", "high"]
OnExpiry = Literal["reject", "approve", "escalate"]
Duration = str | int | timedelta  # "30m", seconds, or a timedelta


@dataclass(frozen=True, slots=True)
class Approved:
    """An approved action: run it with `args` (the approver's edit when there was one)."""

    args: Json
    by: str | None  # None when it was approved on expiry (`on_expiry="approve"`)
    edited: bool
    request: Json

    @property
    def request_id(self) -> str:
        return str(self.request["id"])


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to a question: its `text`, the `choice` number (from 1) when it was one of
    the choices, and who answered."""

    text: str
    choice: int | None
    by: str | None
    request: Json

    @property
    def request_id(self) -> str:
        return str(self.request["id"])


def _key(given: str | None = None) -> str:
    """An `Idempotency-Key`, made once per operation and sent with each of its tries."""
    return given or f"sbc-{uuid.uuid4().hex}"


def _body(**fields: Any) -> Json:
    return {k: v for k, v in fields.items() if v is not None}


def duration(value: Duration | None) -> str | None:
    """The API's duration text (`90s`, `30m`) of seconds, a timedelta or such a text."""
    if value is None or isinstance(value, str):
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    return f"{max(1, math.ceil(seconds))}s"


def get(s: Settings, *parts: str | int, **params: str | int | None) -> Flow[Any]:
    query = {k: v for k, v in params.items() if v is not None}
    return request(Call("GET", path(*parts), params=query or None), s)


def post(
    s: Settings, *parts: str | int, body: Json | None = None, key: str | None = None
) -> Flow[Any]:
    return request(Call("POST", path(*parts), body=body or {}, idempotency_key=_key(key)), s)


def patch(s: Settings, *parts: str | int, body: Json) -> Flow[Any]:
    return request(Call("PATCH", path(*parts), body=body), s)


# -- sessions ----------------------------------------------------------------------------------


def start_session(
    s: Settings,
    title: str,
    *,
    mode: str | None = None,
    plan: list[str] | None = None,
    metadata: Json | None = None,
    channel_id: str | None = None,
    max_iterations: int | None = None,
) -> Flow[Json]:
    body = _body(
        title=title,
        mode=mode,
        plan=plan,
        metadata=metadata,
        channel_id=channel_id,
        max_iterations=max_iterations,
    )
    return post(s, "sessions", body=body)


def session_action(s: Settings, ref: Ref, action: str, **fields: Any) -> Flow[Json]:
    """pause / resume / complete / fail / cancel / heartbeat / extend … of a session."""
    return post(s, "sessions", ref, action, body=_body(**fields))


def share(s: Settings, ref: Ref, user_id: str, role: str) -> Flow[Json]:
    return post(s, "sessions", ref, "members", body={"user_id": user_id, "role": role})


def post_message(s: Settings, ref: Ref, content: str, role: str | None) -> Flow[Json]:
    return post(s, "sessions", ref, "messages", body=_body(content=content, role=role))


def update_context(s: Settings, ref: Ref, merge: Json, ttl_seconds: int | None) -> Flow[Json]:
    return patch(s, "sessions", ref, "context", body=_body(merge=merge, ttl_seconds=ttl_seconds))


def record_tool_call(s: Settings, ref: Ref, tool: str, **fields: Any) -> Flow[Json]:
    return post(s, "sessions", ref, "tool-calls", body=_body(tool=tool, **fields))


def submit_plan(
    s: Settings, ref: Ref, items: list[str], need: int | None, expires_in: Duration | None
) -> Flow[Json]:
    body = _body(items=items, required_approvals=need, expires_in=duration(expires_in))
    return post(s, "sessions", ref, "plan", body=body)


# -- requests ----------------------------------------------------------------------------------


def create_request(s: Settings, ref: Ref, body: Json, key: str | None) -> Flow[Json]:
    return post(s, "sessions", ref, "requests", body=body, key=key)


def decide(s: Settings, request_id: str, decision: str, **fields: Any) -> Flow[Json]:
    """Approve (possibly with edited `args`), reject or answer: as an approver would."""
    body = _body(decision=decision, **fields)
    return post(s, "requests", request_id, "decision", body=body)


def wait(s: Settings, request_id: str, timeout: float | None) -> Flow[Json]:
    """The request once it is no longer pending: long-polls of `s.poll` seconds, each retried
    through dropped connections and restarts (GETs: nothing is decided twice); `StillPending`
    when `timeout` seconds went by first."""
    started = s.clock()
    while True:
        hold = s.poll
        if timeout is not None:
            hold = max(0, min(hold, math.ceil(timeout - (s.clock() - started))))
        call = Call("GET", path("requests", request_id), params={"wait": hold}, wait=hold)
        record: Json = yield from request(call, s)
        if record["status"] != "pending":
            return record
        if timeout is not None and s.clock() - started >= timeout:
            raise StillPending(record)


def approved(record: Json) -> Approved:
    """An action's outcome: `Approved`, or `Rejected` / `Expired` raised."""
    if record["status"] == "approved":
        edited = record.get("edited_args") is not None
        return Approved(record["args_to_run"], record.get("decided_by"), edited, record)
    if record["status"] == "expired":
        raise Expired(record)
    raise Rejected(record)


def answered(record: Json) -> Answer:
    """A question's outcome: `Answer`, or `Expired` (or `Rejected`) raised."""
    if record["status"] == "answered":
        text = str(record["answer"])
        choices = list(record.get("choices") or [])
        choice = choices.index(text) + 1 if text in choices else None
        return Answer(text, choice, record.get("decided_by"), record)
    if record["status"] == "expired":
        raise Expired(record)
    raise Rejected(record)


def request_approval(
    s: Settings,
    ref: Ref,
    action: str,
    args: Json,
    *,
    summary: str | None = None,
    risk: Risk | None = None,
    need: int | None = None,
    approvers: list[str] | None = None,
    expires_in: Duration | None = None,
    on_expiry: OnExpiry | None = None,
    timeout: float | None = None,
    idempotency_key: str | None = None,
) -> Flow[Approved]:
    body = _body(
        action=action,
        args=args,
        summary=summary,
        risk=risk,
        need=need,
        approvers=approvers,
        expires_in=duration(expires_in),
        on_expiry=on_expiry,
    )
    created = yield from create_request(s, ref, body, idempotency_key)
    return approved((yield from wait(s, created["id"], timeout)))


def ask(
    s: Settings,
    ref: Ref,
    question: str,
    *,
    choices: list[str] | None = None,
    free_text: bool | None = None,
    expires_in: Duration | None = None,
    on_expiry: OnExpiry | None = None,
    timeout: float | None = None,
    idempotency_key: str | None = None,
) -> Flow[Answer]:
    if not choices and free_text is None:
        free_text = True  # with no choices, the only way to answer is in words
    body = _body(
        question=question,
        choices=choices,
        free_text=free_text,
        expires_in=duration(expires_in),
        on_expiry=on_expiry,
    )
    created = yield from create_request(s, ref, body, idempotency_key)
    return answered((yield from wait(s, created["id"], timeout)))


__all__ = [
    "Answer",
    "Approved",
    "Duration",
    "Json",
    "OnExpiry",
    "Ref",
    "Risk",
    "answered",
    "approved",
    "ask",
    "create_request",
    "decide",
    "duration",
    "get",
    "post",
    "post_message",
    "record_tool_call",
    "request_approval",
    "session_action",
    "share",
    "start_session",
    "submit_plan",
    "update_context",
    "wait",
]
