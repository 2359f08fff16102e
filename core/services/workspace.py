"""A workspace's own affairs: its settings and webhooks (admins only), and its stats."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.access import Access
from core.clock import Clock
from core.errors import NotFound, UsageError
from core.jobs.webhook_policy import WebhookPolicy
from core.jobs.webhooks import WebhookRouter, new_secret
from core.models import Actor, EventType, WorkspaceSettings, new_id
from core.records.jobs import JobRun, WebhookSubscription
from core.records.requests import RequestStats
from core.records.stats import DayPart, add_up
from core.settings import Settings
from core.store.store import Store
from core.waiting import waiting_total

EVENT_NAMES = frozenset(e.value for e in EventType)


# The approval-latency histogram's buckets: (upper bound, label); the last has none.
LATENCY_BUCKETS: tuple[tuple[timedelta, str], ...] = (
    (timedelta(minutes=1), "under 1 min"),
    (timedelta(minutes=10), "1–10 min"),
    (timedelta(hours=1), "10–60 min"),
    (timedelta(days=1), "1–24 h"),
    (timedelta.max, "over 1 day"),
)


@dataclass(slots=True)
class Stats:
    days: int
    by_status: dict[str, int]
    by_mode: dict[str, int]
    average_iterations: float
    success_rate: float | None
    median_duration: timedelta | None
    median_approval_latency: timedelta | None
    outbox_pending: int
    outbox_dead: int
    jobs: list[JobRun] = field(default_factory=list)
    outbox_waiting: int = 0  # pending for a platform this process has no adapter for
    requests: RequestStats = field(default_factory=RequestStats)
    # how many approvals took how long: (label of LATENCY_BUCKETS, count), in order
    approval_histogram: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class Workspace:
    store: Store
    clock: Clock
    settings: Settings
    access: Access
    webhooks: WebhookRouter
    policy: WebhookPolicy
    # The platforms this process delivers to (set by the bot once its adapters are known).
    delivered_platforms: Callable[[], Collection[str]] | None = None

    async def admin_settings(self, actor: Actor) -> WorkspaceSettings:
        await self.access.require_admin(actor)
        return await self.settings.get(actor.workspace)

    async def set_setting(self, actor: Actor, key: str, text: str) -> WorkspaceSettings:
        """An admin changes one workspace setting (validated; takes effect immediately)."""
        await self.access.require_admin(actor)
        return await self.settings.put(actor.workspace, key, text)

    async def webhook_list(
        self, actor: Actor
    ) -> tuple[list[WebhookSubscription], dict[str, str | None]]:
        """The workspace's webhooks, each with what the delivery policy says against its URL."""
        await self.access.require_admin(actor, action="manage webhooks")
        hooks = await self.store.webhooks.in_workspace(actor.workspace)
        return hooks, {w.id: self.policy.violation(w.url) for w in hooks}

    async def add_webhook(self, actor: Actor, url: str, events: list[str]) -> WebhookSubscription:
        """Subscribe `url` to `events` (all when none); its secret is in what this returns."""
        await self.access.require_admin(actor, action="manage webhooks")
        await self.policy.check_target(url)
        events = [e for e in events if e != "all"]
        unknown = sorted(set(events) - EVENT_NAMES)
        if unknown:
            raise UsageError(
                f"Unknown event type `{unknown[0][:40]}`. "
                f"Events: {', '.join(sorted(EVENT_NAMES))}.",
                usage="/session webhook add <url> [events…]",
            )
        webhook = WebhookSubscription(
            id=new_id(),
            workspace=actor.workspace,
            url=url,
            secret=new_secret(),
            events=tuple(events),
            created_by=actor.user_id,
            created_at=self.clock.now(),
        )
        await self.store.webhooks.add(webhook)
        self.webhooks.forget(actor.workspace)
        return webhook

    async def remove_webhook(self, actor: Actor, target: str) -> WebhookSubscription:
        await self.access.require_admin(actor, action="manage webhooks")
        removed = await self.store.webhooks.remove(actor.workspace, target)
        if removed is None:
            raise NotFound("webhook", target[:40])
        self.webhooks.forget(actor.workspace)
        return removed

    async def approval_latency(
        self, workspace: str, *, since: datetime, until: datetime, channel_id: str | None = None
    ) -> timedelta | None:
        """The one median approval latency: submission to a person's decision (approved or
        rejected, also when later superseded), over the decisions made in (since, until]."""
        latencies = await self.store.plans.approval_latencies(
            workspace, since=since, until=until, channel_id=channel_id
        )
        return _median(latencies)

    async def request_stats(
        self, workspace: str, *, since: datetime, until: datetime, channel_id: str | None = None
    ) -> RequestStats:
        """Agents' requests over (since, until]; their decision latency is the same median as
        the plans' approval latency, over the requests a person decided."""
        tally = await self.store.requests.tally(
            workspace, since=since, until=until, channel_id=channel_id
        )
        return RequestStats(tally.created, tally.settled, _median(tally.latencies))

    async def stats(self, actor: Actor, *, days: int = 30) -> Stats:
        now = self.clock.now()
        since = now - timedelta(days=days)
        parts = await self.store.tallies.days(
            actor.workspace, since, None, until=now, after_start=True, with_ended=False
        )
        return await self.stats_of(actor, days, parts.values(), now=now)

    async def stats_of(
        self, actor: Actor, days: int, parts: Iterable[DayPart], *, now: datetime
    ) -> Stats:
        """The stats of the last `days` days to `now`, from the window's parts (every day of
        it, the first one from `now` - `days`) and what is read at the moment."""
        totals = add_up(parts, [b for b, _ in LATENCY_BUCKETS[:-1]])
        ended = sum(totals.outcomes.values())
        counts, jobs, waiting, requests = await asyncio.gather(  # at once on PostgreSQL's pool
            self.store.outbox.counts(),
            self.store.jobs.runs(workspace=actor.workspace),
            waiting_total(self.store.outbox, self.delivered_platforms),
            self.request_stats(actor.workspace, since=now - timedelta(days=days), until=now),
        )
        return Stats(
            days=days,
            by_status=totals.by_status,
            by_mode=totals.by_mode,
            average_iterations=totals.average_iterations,
            success_rate=totals.outcomes.get("completed", 0) / ended if ended else None,
            median_duration=totals.median_duration,
            median_approval_latency=totals.median_latency,
            outbox_pending=counts.get("pending", 0),
            outbox_dead=counts.get("dead", 0),
            jobs=jobs,
            outbox_waiting=waiting,
            requests=requests,
            approval_histogram=[
                (label, n)
                for (_, label), n in zip(LATENCY_BUCKETS, totals.latency_counts, strict=True)
            ],
        )


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))
