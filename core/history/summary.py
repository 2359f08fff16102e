"""Session summaries behind a small interface; the default one is extractive (no model needed).

A deployment can pass any `Summarizer` (an LLM call, say) to `HistoryService(summarizer=…)`;
it receives the same `SummaryMaterial` and returns plain text (renderers escape it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from core.models import Actor, Event, Plan, Session
from core.records.history import Message
from core.wording import noun_for, plural

if TYPE_CHECKING:
    from core.history.messages import HistoryService

EXCERPT = 160
ENDS = 3
LATEST_EVENTS = 5


@dataclass(slots=True)
class SummaryMaterial:
    """What a summarizer may use: counts, the first and last messages, plan, latest events."""

    session: Session
    plan: Plan | None
    messages_by_role: dict[str, int]
    deleted: int
    first: list[Message]
    last: list[Message]
    events: list[Event]


@dataclass(slots=True)
class Summary:
    """A headline and short points, as plain text."""

    headline: str
    points: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join([self.headline, *(f"- {p}" for p in self.points)])


class Summarizer(Protocol):
    """Anything that turns SummaryMaterial into a Summary."""

    async def __call__(self, material: SummaryMaterial) -> Summary: ...


def _excerpt(message: Message) -> str:
    text = " ".join(message.content.split())
    if len(text) > EXCERPT:
        text = text[: EXCERPT - 1] + "…"
    return f"[{message.seq}] {message.role.value} @{message.author_id}: {text}"


class ExtractiveSummarizer:
    """Counts, first and last messages, plan state and latest events, lifted verbatim."""

    async def __call__(self, material: SummaryMaterial) -> Summary:
        s = material.session
        total = sum(material.messages_by_role.values())
        roles = ", ".join(f"{n} {r}" for r, n in sorted(material.messages_by_role.items()))
        headline = f"#{s.ref} {s.title} — {s.status.value}, {plural(total, 'message')}"
        headline += f" ({roles})" if roles else ""
        points = [
            f"Progress: {s.iterations}/{s.max_iterations} {noun_for(s.max_iterations, 'iteration')}"
        ]
        if material.plan is not None:
            plan = material.plan
            done = sum(1 for i in plan.items if i.status.value == "done")
            points.append(
                f"Plan v{plan.version} {plan.status.value}: "
                f"{done}/{len(plan.items)} {noun_for(len(plan.items), 'item')} done"
            )
        if material.first:
            points.append("First: " + " · ".join(_excerpt(m) for m in material.first))
        tail = [m for m in material.last if m not in material.first]
        if tail:
            points.append("Latest: " + " · ".join(_excerpt(m) for m in tail))
        if material.events:
            points.append("Events: " + ", ".join(e.type.value for e in material.events))
        if material.deleted:
            points.append(f"{plural(material.deleted, 'message')} deleted")
        return Summary(headline, points)


async def gather(history: HistoryService, session: Session) -> SummaryMaterial:
    """Collect the material for `session` from the store."""
    store = history.store
    last = await store.history.before(session.id, before_seq=None, limit=ENDS * 3)
    live_last = [m for m in last if not m.deleted][:ENDS]
    first = [m for m in await store.history.after(session.id, after_seq=0, limit=ENDS * 3)]
    _, deleted = await store.history.counts(session.id)
    return SummaryMaterial(
        session=session,
        plan=await store.plans.current(session.id),
        messages_by_role=await store.history.role_counts(session.id),
        deleted=deleted,
        first=[m for m in first if not m.deleted][:ENDS],
        last=list(reversed(live_last)),
        events=list(reversed(await store.events.newest(session.id, limit=LATEST_EVENTS))),
    )


async def summarize(history: HistoryService, actor: Actor, ref: str | None) -> Summary:
    """The summary of a session by the configured summarizer (any workspace member)."""
    session = await history.find(actor, ref)
    return await history.summarizer(await gather(history, session))
