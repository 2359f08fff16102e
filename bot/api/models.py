"""Every record the API reads or writes, defined once as a typed dict.

Pydantic derives from these both the checks (a request body is validated against its
record; a response is serialised through its record) and the JSON Schemas of the OpenAPI
document's components, so what is documented is what is enforced. Request records are
closed and strict (no unknown field, no `"1"` for 1); an optional field may be left out but
not sent as `null` unless its type says so.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from core.models import MAX_MODE, MODE_PATTERN
from core.services.asks import (
    ACTION_PATTERN,
    MAX_CHOICE,
    MAX_CHOICES,
    MAX_NEED,
    MAX_TEXT,
)
from core.services.sessions import MAX_REASON, MAX_TITLE

_RECORD = ConfigDict(extra="forbid")


def _request(*examples: dict[str, Any], **schema: Any) -> ConfigDict:
    """A request record: closed, strict, with examples (which the tests round-trip)."""
    extra = {"examples": list(examples), **schema}
    return ConfigDict(extra="forbid", strict=True, json_schema_extra=extra)


MAX_CONTENT = 64 * 1024  # the history feature's default; its own limit is checked in core
MAX_INT = 2**31 - 1

# -- field types -------------------------------------------------------------------------------

When = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Text = Annotated[str, Field(min_length=1)]
Reason = Annotated[str, Field(max_length=MAX_REASON)]
UserId = Annotated[str, Field(min_length=1, max_length=80)]
Mode = Annotated[
    str,
    Field(
        pattern=MODE_PATTERN,
        max_length=MAX_MODE,
        description="A one-word label, as chat's `mode:<word>` (developer, deploy, incident…).",
    ),
]
Duration = Annotated[
    str,
    Field(
        min_length=2,
        max_length=12,
        pattern="^([0-9]{1,5}[smhdw])+$",
        description="A duration: `90s`, `15m`, `2h30m`, `3d`, `1w`.",
    ),
]
Content = Annotated[str, Field(min_length=1, max_length=MAX_CONTENT)]
PlanTitle = Annotated[str, Field(min_length=1, max_length=500)]
JsonObject = dict[str, Any]

Status = Literal[
    "active",
    "paused",
    "pending",
    "completed",
    "failed",
    "cancelled",
    "timed_out",
    "abandoned",
    "archived",
]
ItemStatus = Literal["todo", "in_progress", "done", "blocked", "skipped"]
RoleName = Literal["owner", "editor", "approver", "viewer"]
MessageRole = Literal["user", "assistant", "system", "tool"]
RequestStatus = Literal["pending", "approved", "rejected", "answered", "expired"]
RiskLevel = Literal["low", "high"]
OnExpiry = Literal["reject", "approve", "escalate"]
ActionName = Annotated[
    str,
    Field(
        pattern=f"^{ACTION_PATTERN}$",
        description="The action's name: letters, digits and `_ . : / -` (deploy, db.migrate).",
    ),
]
AskText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


# -- requests ----------------------------------------------------------------------------------


@with_config(_request({}))
class Empty(TypedDict):
    """No fields (an empty body is fine too)."""


@with_config(
    _request(
        {
            "title": "Deploy v2",
            "mode": "deploy",
            "channel_id": "C0DEPLOY",
            "metadata": {"sha": "4e1f"},
        },
        {"title": "Nightly run", "max_iterations": 50, "plan": ["build", "ship"]},
    )
)
class CreateSession(TypedDict):
    """A new session."""

    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
    mode: NotRequired[Mode]
    max_iterations: NotRequired[Annotated[int, Field(ge=1, le=1_000_000)]]
    channel_id: NotRequired[
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=80,
                description="Where notifications go: required in a chat workspace "
                "(slack:, discord:, console:); `api:` workspaces need none.",
            ),
        ]
    ]
    plan: NotRequired[Annotated[list[PlanTitle], Field(min_length=1, max_length=50)]]
    metadata: NotRequired[
        Annotated[JsonObject, Field(description="Integration metadata (project_path, ids…).")]
    ]


@with_config(_request({"reason": "waiting for the freeze to end"}, {}))
class WithReason(TypedDict):
    reason: NotRequired[Reason]


@with_config(_request({"summary": "v2 live"}))
class WithSummary(TypedDict):
    summary: NotRequired[Reason]


@with_config(_request({"reason": "migration failed"}))
class FailSession(TypedDict):
    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON)]


@with_config(_request({"duration": "4h"}))
class Extend(TypedDict):
    duration: Duration


@with_config(_request({"user_id": "U0BOB", "role": "approver"}))
class Share(TypedDict):
    user_id: UserId
    role: NotRequired[Literal["editor", "approver", "viewer"]]


@with_config(_request({"role": "assistant", "content": "Build green, starting the migration."}))
class AppendMessage(TypedDict):
    content: Content
    role: NotRequired[MessageRole]
    parent_id: NotRequired[
        Annotated[
            str, Field(min_length=1, max_length=64, description="The id of the message replied to.")
        ]
    ]
    metadata: NotRequired[
        Annotated[JsonObject, Field(description="Anything kept with the message (≤ 16 KiB).")]
    ]


@with_config(_request({"content": "Build green; migration started."}))
class EditMessage(TypedDict):
    content: Content


@with_config(
    _request(
        {"merge": {"branch": "main", "lock": {"owner": "ci"}}, "ttl_seconds": 3600},
        {"merge": {"lock": None}},
    )
)
class MergeContext(TypedDict):
    merge: Annotated[
        JsonObject,
        Field(min_length=1, description="Deep-merged into the context; `null` deletes a key."),
    ]
    ttl_seconds: NotRequired[
        Annotated[int, Field(ge=1, le=10 * 365 * 86400, description="TTL of the keys written.")]
    ]


@with_config(_request({"count": 1, "data": {"step": "build"}}))
class RecordIteration(TypedDict):
    count: NotRequired[
        Annotated[int, Field(ge=1, le=1000, description="How many to count (default 1).")]
    ]
    data: NotRequired[Annotated[JsonObject, Field(description="Kept with the event.")]]


@with_config(
    _request(
        {
            "tool": "pytest",
            "input": {"args": ["-q"]},
            "output": "212 passed",
            "status": "ok",
            "duration_ms": 5400,
        }
    )
)
class RecordToolCall(TypedDict):
    tool: Annotated[str, Field(min_length=1, max_length=200, description="The tool's name.")]
    input: NotRequired[Any]
    output: NotRequired[Any]
    status: NotRequired[Annotated[str, Field(max_length=40, description="e.g. `ok`, `error`.")]]
    duration_ms: NotRequired[Annotated[int, Field(ge=0, le=86_400_000)]]


@with_config(_request({"items": ["build", "migrate", "ship"], "expires_in": "2h"}))
class SubmitPlan(TypedDict):
    items: Annotated[list[PlanTitle], Field(min_length=1, max_length=50)]
    required_approvals: NotRequired[
        Annotated[int, Field(ge=1, le=20, description="Distinct approvals needed (default 1).")]
    ]
    expires_in: NotRequired[Duration]


@with_config(
    _request(
        {"status": "done"},
        {"assignee": "U0CAROL"},
        {"comment": "blocked on review"},
        minProperties=1,
        maxProperties=1,
    )
)
class ModifyItem(TypedDict):
    """Exactly one change."""

    status: NotRequired[ItemStatus]
    assignee: NotRequired[UserId]
    comment: NotRequired[Annotated[str, Field(min_length=1, max_length=MAX_REASON)]]


@with_config(
    _request(
        {
            "action": "deploy",
            "args": {"service": "api", "version": "1.2"},
            "summary": "Ship 1.2 to production",
            "risk": "high",
            "expires_in": "30m",
        },
        {"question": "Which region first?", "choices": ["eu", "us"], "free_text": True},
    )
)
class CreateRequest(TypedDict):
    """An action to approve (`action`, with `args`) or a `question`: exactly one of the two."""

    action: NotRequired[ActionName]
    args: NotRequired[
        Annotated[JsonObject, Field(description="The action's arguments (≤ 16 KiB, 16 deep).")]
    ]
    summary: NotRequired[Annotated[str, Field(max_length=MAX_TEXT)]]
    risk: NotRequired[
        Annotated[RiskLevel, Field(description="`high` asks for a typed confirmation.")]
    ]
    need: NotRequired[
        Annotated[
            int,
            Field(
                ge=1,
                le=MAX_NEED,
                description="Distinct approvals needed (default 1; 2 for high risk).",
            ),
        ]
    ]
    approvers: NotRequired[
        Annotated[
            list[UserId],
            Field(max_length=MAX_NEED, description="Only these may decide (and admins)."),
        ]
    ]
    question: NotRequired[AskText]
    choices: NotRequired[
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=MAX_CHOICE)]],
            Field(max_length=MAX_CHOICES, description="Offered as buttons."),
        ]
    ]
    free_text: NotRequired[
        Annotated[bool, Field(description="Also accept a typed answer (default false).")]
    ]
    expires_in: NotRequired[Duration]
    on_expiry: NotRequired[
        Annotated[
            OnExpiry,
            Field(description="`reject` (default); `approve` only for low risk; `escalate`."),
        ]
    ]


@with_config(
    _request(
        {"decision": "approve", "digest": "5f0c2a91d3e4b6a7"},
        {"decision": "approve", "args": {"service": "api", "version": "1.3"}},
        {"decision": "approve", "confirm": "deploy"},
        {"decision": "reject", "reason": "not during the freeze"},
        {"decision": "answer", "choice": 1},
        {"decision": "answer", "text": "eu first"},
    )
)
class DecideRequest(TypedDict):
    """Approve or reject an action (approve may carry edited `args`), or answer a question
    (by `choice` or `text`)."""

    decision: Literal["approve", "reject", "answer"]
    args: NotRequired[
        Annotated[JsonObject, Field(description="Approve with these arguments instead.")]
    ]
    reason: NotRequired[Reason]
    confirm: NotRequired[
        Annotated[
            str,
            Field(max_length=80, description="The action's name: approving high risk needs it."),
        ]
    ]
    digest: NotRequired[
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=64,
                description="The digest you were shown: refused (409) if the arguments changed.",
            ),
        ]
    ]
    choice: NotRequired[
        Annotated[int, Field(ge=1, le=MAX_CHOICES, description="The choice's number, from 1.")]
    ]
    text: NotRequired[AskText]


# -- records -----------------------------------------------------------------------------------


@with_config(_RECORD)
class Session(TypedDict):
    id: str
    ref: Annotated[int, Field(ge=1)]
    workspace: str
    channel_id: str
    thread_ref: str | None
    owner_id: str
    title: str
    mode: str
    status: Status
    context: Annotated[JsonObject, Field(description="The session's context.")]
    metadata: Annotated[JsonObject, Field(description="Integration metadata.")]
    iterations: Annotated[int, Field(ge=0)]
    max_iterations: Annotated[int, Field(ge=1)]
    created_at: When
    updated_at: When
    last_activity_at: When
    ended_at: When | None
    abandon_at: When | None
    result: str | None
    outcome: str | None
    error: str | None
    parent_id: str | None
    forked_from_message_id: str | None
    version: Annotated[int, Field(ge=1)]


@with_config(_RECORD)
class Member(TypedDict):
    user_id: str
    role: RoleName
    added_by: str | None
    added_at: When | None


@with_config(_RECORD)
class PlanItem(TypedDict):
    position: Annotated[int, Field(ge=1)]
    title: str
    assignee: str | None
    status: ItemStatus
    ticket: str | None
    comments: list[JsonObject]


@with_config(_RECORD)
class Approval(TypedDict):
    user_id: str
    decision: Literal["approve", "reject"]
    content_hash: str
    reason: str | None
    at: When


@with_config(_RECORD)
class Plan(TypedDict):
    id: str
    version: Annotated[int, Field(ge=1)]
    status: Literal["pending", "approved", "rejected", "expired", "superseded"]
    content_hash: str
    required_approvals: Annotated[int, Field(ge=1)]
    submitted_by: str
    submitted_at: When
    decided_at: When | None
    decided_by: str | None
    decision_reason: str | None
    expires_at: When | None
    superseded_by: str | None
    superseded_at: When | None
    items: list[PlanItem]
    approvals: list[Approval]


@with_config(_RECORD)
class Revision(TypedDict):
    revision: Annotated[int, Field(ge=1)]
    content: str
    written_at: When
    replaced_at: When
    replaced_by: str


@with_config(_RECORD)
class Message(TypedDict):
    id: str
    seq: Annotated[int, Field(ge=1)]
    role: MessageRole
    author_id: str
    content: str
    parent_id: str | None
    metadata: Annotated[JsonObject, Field(description="Message metadata.")]
    created_at: When
    edited_at: When | None
    deleted_at: When | None
    deleted_by: str | None
    revisions: list[Revision]


@with_config(_RECORD)
class Event(TypedDict):
    id: str
    seq: Annotated[int, Field(ge=1)]
    type: str
    actor_id: str
    source: Literal["slack", "discord", "console", "api", "web", "scheduler", "system"]
    data: Annotated[JsonObject, Field(description="What happened, by event type.")]
    created_at: When


@with_config(_RECORD)
class Modification(TypedDict):
    id: str
    plan_id: str
    position: Annotated[int, Field(ge=1)]
    user_id: str
    action: Literal["status_change", "reassign", "comment"]
    value: str
    created_at: When
    processed: bool
    processed_at: When | None
    error: str | None


@with_config(_RECORD)
class SearchHit(TypedDict):
    session_id: str
    session_ref: Annotated[int, Field(ge=1)]
    session_title: str
    message_id: str
    seq: Annotated[int, Field(ge=1)]
    role: MessageRole
    author_id: str
    created_at: When
    snippet: Annotated[str, Field(description="The match is wrapped in `**`.")]


@with_config(_RECORD)
class RequestVote(TypedDict):
    user_id: str
    decision: Literal["approve", "reject"]
    digest: Annotated[str, Field(description="The arguments' digest this vote is bound to.")]
    reason: str | None
    at: When


@with_config(_RECORD)
class AgentRequest(TypedDict):
    """An action approval or a question from a session's agent, as the agent reads it."""

    id: str
    session_id: str
    kind: Literal["action", "question"]
    status: RequestStatus
    action: Annotated[str | None, Field(description="null for a question.")]
    args: Annotated[JsonObject | None, Field(description="The arguments as asked.")]
    edited_args: Annotated[
        JsonObject | None, Field(description="The arguments as an approver edited them.")
    ]
    args_to_run: Annotated[
        JsonObject | None,
        Field(
            description="What to run with once approved (the edit if any, else `args`); "
            "null unless approved."
        ),
    ]
    summary: str | None
    risk: RiskLevel | None
    need: Annotated[int | None, Field(description="Distinct approvals needed.")]
    approvals: Annotated[int, Field(ge=0, description="Approvals of the current arguments.")]
    approvers: Annotated[list[str], Field(description="Who may decide; empty: the session's.")]
    votes: list[RequestVote]
    digest: Annotated[
        str | None, Field(description="Digest of (action, current arguments) decisions bind to.")
    ]
    question: str | None
    choices: list[str]
    free_text: bool
    answer: str | None
    expires_at: When | None
    on_expiry: OnExpiry
    escalated: bool
    decided_by: Annotated[str | None, Field(description="Who settled it (null on expiry).")]
    decided_at: When | None
    reason: str | None
    created_by: str
    created_at: When


@with_config(_RECORD)
class ErrorDetail(TypedDict):
    code: Annotated[str, Field(description="A stable, machine-readable code.")]
    message: Annotated[str, Field(description="What went wrong, for people.")]
    decided_by: NotRequired[
        Annotated[
            str | None, Field(description="409 on a settled request or plan: who settled it.")
        ]
    ]
    decided_at: NotRequired[When | None]


@with_config(_RECORD)
class Error(TypedDict):
    error: ErrorDetail


# -- responses made of records -----------------------------------------------------------------


@with_config(_RECORD)
class SessionDetail(TypedDict):
    session: Session
    members: list[Member]
    plan: Plan | None


@with_config(_RECORD)
class SessionPage(TypedDict):
    sessions: list[Session]
    total: Annotated[int, Field(ge=0)]
    next_cursor: Annotated[str | None, Field(description="Pass as `cursor` for the next page.")]


@with_config(_RECORD)
class MessagePage(TypedDict):
    messages: list[Message]
    next_before: Annotated[int | None, Field(description="Pass as `before` for older ones.")]
    last_seq: Annotated[int, Field(ge=0)]


@with_config(_RECORD)
class SearchResults(TypedDict):
    query: str
    hits: list[SearchHit]


@with_config(_RECORD)
class EventPage(TypedDict):
    events: list[Event]
    next_before: Annotated[
        int | None, Field(ge=1, description="Pass as `before` for older events; null at the end.")
    ]


@with_config(_RECORD)
class ToolCallRecorded(TypedDict):
    seq: Annotated[int, Field(ge=1)]


@with_config(_RECORD)
class DecisionResult(TypedDict):
    session: Session
    plan: Plan
    settled: Annotated[bool, Field(description="The plan is now approved or rejected.")]
    approvals: Annotated[int, Field(ge=0)]
    repeated: Annotated[bool, Field(description="This person had already approved.")]


@with_config(_RECORD)
class RequestList(TypedDict):
    requests: list[AgentRequest]


@with_config(_RECORD)
class RequestDecided(TypedDict):
    request: AgentRequest
    settled: Annotated[bool, Field(description="The request is now decided or answered.")]
    repeated: Annotated[bool, Field(description="This person had already approved.")]


@with_config(_RECORD)
class ContextView(TypedDict):
    context: Annotated[JsonObject, Field(description="The visible context (expired keys out).")]
    expires: Annotated[dict[str, When], Field(description="When keys written with a TTL expire.")]


__all__ = [
    "MAX_CONTENT",
    "MAX_INT",
    "AgentRequest",
    "AppendMessage",
    "ContextView",
    "CreateRequest",
    "CreateSession",
    "DecideRequest",
    "DecisionResult",
    "EditMessage",
    "Empty",
    "Error",
    "EventPage",
    "Extend",
    "FailSession",
    "MergeContext",
    "Message",
    "MessagePage",
    "Modification",
    "ModifyItem",
    "Plan",
    "RecordIteration",
    "RecordToolCall",
    "RequestDecided",
    "RequestList",
    "SearchResults",
    "Session",
    "SessionDetail",
    "SessionPage",
    "Share",
    "SubmitPlan",
    "ToolCallRecorded",
    "WithReason",
    "WithSummary",
]
