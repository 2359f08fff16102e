"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the API's bodies and records.

Request schemas are inline and checked by `validation.validate`; response schemas refer to the
named records in `COMPONENTS`. Both go into the OpenAPI document unchanged, so what is
documented is what is enforced.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

MAX_INT = 2**31 - 1


def string(
    *,
    min_length: int | None = None,
    max_length: int | None = None,
    enum: tuple[str, ...] | None = None,
    nullable: bool = False,
    fmt: str | None = None,
    description: str | None = None,
) -> Schema:
    schema: Schema = {"type": ["string", "null"] if nullable else "string"}
    if min_length is not None:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    if enum is not None:
        schema["enum"] = list(enum) + ([None] if nullable else [])
    if fmt is not None:
        schema["format"] = fmt
    if description is not None:
        schema["description"] = description
    return schema


def integer(
    low: int | None = None, high: int | None = None, *, description: str | None = None
) -> Schema:
    schema: Schema = {"type": "integer"}
    if low is not None:
        schema["minimum"] = low
    if high is not None:
        schema["maximum"] = high
    if description is not None:
        schema["description"] = description
    return schema


def obj(
    properties: dict[str, Schema],
    required: tuple[str, ...] = (),
    *,
    description: str | None = None,
    min_properties: int | None = None,
    max_properties: int | None = None,
) -> Schema:
    """A closed object: fields not listed are refused."""
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    if min_properties is not None:
        schema["minProperties"] = min_properties
    if max_properties is not None:
        schema["maxProperties"] = max_properties
    if description is not None:
        schema["description"] = description
    return schema


def array(items: Schema, *, min_items: int | None = None, max_items: int | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if min_items is not None:
        schema["minItems"] = min_items
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def free_object(description: str) -> Schema:
    """Any JSON object (metadata, data, context)."""
    return {"type": "object", "description": description}


EMPTY = obj({}, description="No fields (an empty body is fine too).")
WHEN = string(fmt="date-time")
WHEN_OR_NULL = string(fmt="date-time", nullable=True)
TEXT_OR_NULL = string(nullable=True)
DURATION = string(
    min_length=2, max_length=12, description="A duration: `90s`, `15m`, `2h30m`, `3d`, `1w`."
) | {"pattern": "^([0-9]{1,5}[smhdw])+$"}
STATUSES = (
    "active",
    "paused",
    "pending",
    "completed",
    "failed",
    "cancelled",
    "timed_out",
    "abandoned",
    "archived",
)
ITEM_STATUSES = ("todo", "in_progress", "done", "blocked", "skipped")
ROLES = ("owner", "editor", "approver", "viewer")
MESSAGE_ROLES = ("user", "assistant", "system", "tool")


def _record(properties: dict[str, Schema]) -> Schema:
    """A response record: every field is always present."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_SESSION = _record(
    {
        "id": string(),
        "ref": integer(1),
        "workspace": string(),
        "channel_id": string(),
        "thread_ref": TEXT_OR_NULL,
        "owner_id": string(),
        "title": string(),
        "mode": string(),
        "status": string(enum=STATUSES),
        "context": free_object("The session's context."),
        "metadata": free_object("Integration metadata."),
        "iterations": integer(0),
        "max_iterations": integer(1),
        "created_at": WHEN,
        "updated_at": WHEN,
        "last_activity_at": WHEN,
        "ended_at": WHEN_OR_NULL,
        "abandon_at": WHEN_OR_NULL,
        "result": TEXT_OR_NULL,
        "outcome": TEXT_OR_NULL,
        "error": TEXT_OR_NULL,
        "parent_id": TEXT_OR_NULL,
        "forked_from_message_id": TEXT_OR_NULL,
        "version": integer(1),
    }
)
_MEMBER = _record(
    {
        "user_id": string(),
        "role": string(enum=ROLES),
        "added_by": TEXT_OR_NULL,
        "added_at": WHEN_OR_NULL,
    }
)
_PLAN_ITEM = _record(
    {
        "position": integer(1),
        "title": string(),
        "assignee": TEXT_OR_NULL,
        "status": string(enum=ITEM_STATUSES),
        "ticket": TEXT_OR_NULL,
        "comments": array({"type": "object"}),
    }
)
_APPROVAL = _record(
    {
        "user_id": string(),
        "decision": string(enum=("approve", "reject")),
        "content_hash": string(),
        "reason": TEXT_OR_NULL,
        "at": WHEN,
    }
)
_PLAN = _record(
    {
        "id": string(),
        "version": integer(1),
        "status": string(enum=("pending", "approved", "rejected", "expired", "superseded")),
        "content_hash": string(),
        "required_approvals": integer(1),
        "submitted_by": string(),
        "submitted_at": WHEN,
        "decided_at": WHEN_OR_NULL,
        "decided_by": TEXT_OR_NULL,
        "decision_reason": TEXT_OR_NULL,
        "expires_at": WHEN_OR_NULL,
        "superseded_by": TEXT_OR_NULL,
        "superseded_at": WHEN_OR_NULL,
        "items": array(ref("PlanItem")),
        "approvals": array(ref("Approval")),
    }
)
_REVISION = _record(
    {
        "revision": integer(1),
        "content": string(),
        "written_at": WHEN,
        "replaced_at": WHEN,
        "replaced_by": string(),
    }
)
_MESSAGE = _record(
    {
        "id": string(),
        "seq": integer(1),
        "role": string(enum=MESSAGE_ROLES),
        "author_id": string(),
        "content": string(),
        "parent_id": TEXT_OR_NULL,
        "metadata": free_object("Message metadata."),
        "created_at": WHEN,
        "edited_at": WHEN_OR_NULL,
        "deleted_at": WHEN_OR_NULL,
        "deleted_by": TEXT_OR_NULL,
        "revisions": array(ref("Revision")),
    }
)
_EVENT = _record(
    {
        "id": string(),
        "seq": integer(1),
        "type": string(),
        "actor_id": string(),
        "source": string(enum=("slack", "discord", "console", "api", "scheduler", "system")),
        "data": free_object("What happened, by event type."),
        "created_at": WHEN,
    }
)
_MODIFICATION = _record(
    {
        "id": string(),
        "plan_id": string(),
        "position": integer(1),
        "user_id": string(),
        "action": string(enum=("status_change", "reassign", "comment")),
        "value": string(),
        "created_at": WHEN,
        "processed": {"type": "boolean"},
        "processed_at": WHEN_OR_NULL,
        "error": TEXT_OR_NULL,
    }
)
_HIT = _record(
    {
        "session_id": string(),
        "session_ref": integer(1),
        "session_title": string(),
        "message_id": string(),
        "seq": integer(1),
        "role": string(enum=MESSAGE_ROLES),
        "author_id": string(),
        "created_at": WHEN,
        "snippet": string(description="The match is wrapped in `**`."),
    }
)
_ERROR = _record(
    {
        "error": _record(
            {
                "code": string(description="A stable, machine-readable code."),
                "message": string(description="What went wrong, for people."),
            }
        )
    }
)

COMPONENTS: dict[str, Schema] = {
    "Session": _SESSION,
    "Member": _MEMBER,
    "Plan": _PLAN,
    "PlanItem": _PLAN_ITEM,
    "Approval": _APPROVAL,
    "Message": _MESSAGE,
    "Revision": _REVISION,
    "Event": _EVENT,
    "Modification": _MODIFICATION,
    "SearchHit": _HIT,
    "Error": _ERROR,
}


def page_of(name: str, key: str, **more: Schema) -> Schema:
    """A response holding a list of `name` records under `key`, plus paging fields."""
    return _record({key: array(ref(name)), **more})


def record(**properties: Schema) -> Schema:
    return _record(properties)


__all__ = [
    "COMPONENTS",
    "DURATION",
    "EMPTY",
    "Schema",
    "array",
    "free_object",
    "integer",
    "obj",
    "page_of",
    "record",
    "ref",
    "string",
]
