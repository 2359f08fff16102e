"""Session context (§5): a JSON object with deep-merge updates, per-key TTLs and a size limit.

`null` in an update deletes that key (at any depth). A TTL applies to the top-level keys an
update writes; expired keys vanish on read and the next write drops them for good
(maintenance purges the rest with `purge_context`). The context bundle — session, context,
current plan, last 10 events and last 20 messages — is what a resume shows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core import jsonlimits
from core.errors import InvalidTransition, LimitExceeded, UsageError
from core.models import JSON, OPEN_STATUSES, Actor, EventType, Session, Status
from core.permissions import Perm
from core.records.history import ContextBundle
from core.states import allowed_from
from core.store import ops
from core.store.codec import dumps

if TYPE_CHECKING:
    from core.history.messages import HistoryService
    from core.wiring import Services

_log = logging.getLogger(__name__)

BUNDLE_EVENTS = 10
BUNDLE_MESSAGES = 20
MAX_KEY = 200


@dataclass(slots=True)
class ContextView:
    """The visible context and when its TTL'd keys expire."""

    session: Session
    context: JSON
    expires: dict[str, datetime] = field(default_factory=dict)


def deep_merge(base: JSON, update: JSON) -> JSON:
    """`update` merged into a copy of `base`: objects merge, `None` deletes, others replace."""
    merged = dict(base)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            below = merged.get(key)
            merged[key] = deep_merge(below if isinstance(below, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def visible(context: JSON, expiry: dict[str, datetime], now: datetime) -> JSON:
    """The context without keys whose TTL has passed."""
    return {k: v for k, v in context.items() if k not in expiry or expiry[k] > now}


def _value(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)

    try:
        return jsonlimits.parse(text, f"`{text[:20]}`", parse_constant=refuse)
    except jsonlimits.TooDeep as exc:
        raise UsageError(exc.reason, usage=_USAGE) from None
    except ValueError:
        return text


def parse_pairs(pairs: dict[str, str]) -> JSON:
    """`key=value` words as an update: values are JSON when they parse, else strings;
    `a.b=1` sets a nested key and `key=null` deletes."""
    update: JSON = {}
    for key, text in pairs.items():
        path = key.split(".")
        if any(not part for part in path) or len(key) > MAX_KEY:
            raise UsageError(f"`{key[:40]}` is not a usable key.", usage=_USAGE)
        nested: Any = _value(text)
        for part in reversed(path[1:]):
            nested = {part: nested}
        below = update.get(path[0])
        if isinstance(below, dict) and isinstance(nested, dict):
            update[path[0]] = {**below, **nested}
        else:
            update[path[0]] = nested
    try:
        jsonlimits.check_depth(update, "The context")  # dotted keys nest too
    except jsonlimits.TooDeep as exc:
        raise UsageError(exc.reason, usage=_USAGE) from None
    return update


_USAGE = "/session context [ref] [key=value …]"


async def read(
    history: HistoryService, actor: Actor, ref: str | None, *, channel_id: str | None = None
) -> ContextView:
    """The session's context as of now (any member of the workspace)."""
    session = await history.find(actor, ref, channel_id)
    return await _view(history, session)


async def _view(history: HistoryService, session: Session) -> ContextView:
    expiry = await history.store.context.expiry(session.id)
    now = history.clock.now()
    shown = visible(session.context, expiry, now)
    return ContextView(session, shown, {k: v for k, v in expiry.items() if k in shown})


async def update(
    history: HistoryService,
    actor: Actor,
    ref: str | None,
    changes: JSON,
    *,
    ttl: timedelta | None = None,
    channel_id: str | None = None,
) -> ContextView:
    """Deep-merge `changes` (owner, editor or admin) in one write transaction, so concurrent
    updates never lose each other; `ttl` applies to the top-level keys written."""
    if not isinstance(changes, dict) or not changes:
        raise UsageError("Give at least one key to set or delete.", usage=_USAGE)
    if ttl is not None and ttl <= timedelta(0):
        raise UsageError("A TTL must be longer than zero.")
    session = await history.find(actor, ref, channel_id)
    await history.access.require(actor, session, Perm.WORK)
    now = history.clock.now()
    limit = history.config.max_context_bytes

    def merge(
        current: JSON, expiry: dict[str, datetime], status: str
    ) -> tuple[JSON, dict[str, datetime | None]]:
        if status == Status.ARCHIVED.value:
            raise InvalidTransition(
                ref=session.ref,
                action="change the context",
                status=status,
                allowed=allowed_from(Status.ARCHIVED),
            )
        merged = deep_merge(visible(current, expiry, now), changes)
        size = len(dumps(merged).encode())
        if size > limit:
            raise LimitExceeded(f"The context ({size:,} bytes)", f"{limit:,}", unit=" bytes")
        dropped: dict[str, datetime | None] = {
            k: None for k, when in expiry.items() if when <= now or k not in merged
        }
        for key, value in changes.items():
            dropped[key] = now + ttl if ttl is not None and value is not None else None
        return merged, dropped

    data: dict[str, Any] = {
        "set": sorted(k for k, v in changes.items() if v is not None),
        "deleted": sorted(k for k, v in changes.items() if v is None),
    }
    if ttl is not None:
        data["ttl_seconds"] = int(ttl.total_seconds())
    extra: list[ops.Op] = [history.units.event(session, EventType.CONTEXT_UPDATED, actor, data)]
    if session.status in OPEN_STATUSES:
        extra.append(await history.units.touch(session, now))
    merged, expires = await history.store.context.merge(session.id, merge, now=now, extra=extra)
    session.context = merged
    return ContextView(session, merged, expires)


async def bundle(
    history: HistoryService, actor: Actor, ref: str | None, *, channel_id: str | None = None
) -> ContextBundle:
    """Session, visible context, current plan, last 10 events and last 20 messages."""
    session = await history.find(actor, ref, channel_id)
    return await bundle_of(history, session)


async def bundle_of(history: HistoryService, session: Session) -> ContextBundle:
    store = history.store
    view = await _view(history, session)
    messages = await store.history.before(session.id, before_seq=None, limit=BUNDLE_MESSAGES)
    return ContextBundle(
        session=session,
        context=view.context,
        plan=await store.plans.current(session.id),
        events=await store.events.newest(session.id, limit=BUNDLE_EVENTS),
        messages=messages,
    )


async def purge_context(services: Services, now: datetime) -> int:
    """The maintenance job's `ContextPurge`: drop every context key expired at `now`."""
    purged = await services.store.context.purge_expired(now)
    if purged:
        _log.info("purged %s expired context keys", purged)
    return purged
