"""Delivers the notification outbox: claim due rows, hand them to an adapter, record the result.

Delivery is at least once: a row is leased before it is sent and marked delivered after, so a
crash in between re-sends it; the per-row dedupe key guarantees a change never enqueues the same
notification twice. Rows go to lanes (see `lane_of`): different destinations and sessions are
delivered concurrently (bounded overall and per destination), one lane's rows in order, so a
slow webhook receiver delays only its own lane. Failures back off exponentially (honouring a
platform's retry-after) and a row that keeps failing ends `dead`, counted in stats and metrics.

Commits: a lane records the results of the rows it delivered once its queue is empty, it stops,
or a quarter of the lease has passed, and lanes finishing together share that commit
(core/outbox_results.py); until then a delivered row counts as delivered here and stays leased
in the database. A round that leased
less than it had room for found everything due: it does not lease again until a commit or the
poll wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from core import cards, home, request_cards
from core.clock import Clock
from core.delivery import Delivery, DeliveryError
from core.jobs.webhooks import UNREACHABLE, WebhookDelivery, WebhookSender
from core.models import OutboxKind, OutboxRow, Plan, Session
from core.outbox_results import Results
from core.records.requests import Request
from core.store import wakes
from core.store.outbox import Delivered, Failed
from core.store.store import Store
from core.views import View

__all__ = ["Delivery", "DeliveryError", "OutboxDispatcher"]

_log = logging.getLogger(__name__)

# Seconds the deliveries in progress get to finish once run_forever is stopped; a platform
# that does not answer (a client timeout is 30 s) must not hold the process past its SIGTERM.
STOP_GRACE = 5.0

# Rows claimed ahead per delivery slot, for chat rows and webhook rows separately: enough to
# keep every lane busy, never a backlog that waits past its lease (a replica would send it too).
CLAIM_AHEAD = 2


def lane_of(row: OutboxRow) -> tuple[str, str]:
    """(destination, order key): lanes run concurrently, a lane's rows one after another.

    The destination is the chat platform or the webhook's host, so each has its own concurrency
    bound. Rows of one session keep their order (its card before its thread notices, its plan
    message before that message's updates); a row without a session is a lane of its own.
    """
    if row.kind is OutboxKind.WEBHOOK:
        destination = "webhook:" + (urlsplit(str(row.target.get("url", ""))).hostname or "")
    else:
        destination = row.workspace.split(":", 1)[0]
    if row.kind is OutboxKind.HOME:  # a person's Home republishes in order
        return destination, f"home:{row.target.get('user_id')}"
    return destination, row.session_id or f"row:{row.id}"


@dataclass(slots=True)
class _Lane:
    destination: str
    rows: deque[tuple[OutboxRow, asyncio.Future[None]]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class OutboxDispatcher:
    """Claims due outbox rows and delivers them through the matching adapter."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        deliveries: Sequence[Delivery],
        max_attempts: int = 8,
        base_delay: timedelta = timedelta(seconds=2),
        max_delay: timedelta = timedelta(minutes=15),
        batch: int = 50,
        lease: timedelta = timedelta(minutes=2),
        poll_every: float = 5.0,
        webhook_sender: WebhookSender | None = None,
        concurrency: int = 16,
        per_destination: int = 4,
        stop_grace: float = STOP_GRACE,
        homes: home.HomeLookup | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.deliveries = {d.platform: d for d in deliveries}
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.batch = batch
        self.lease = lease
        self.poll_every = poll_every
        self.webhooks: WebhookDelivery | None = None
        if webhook_sender is not None:
            self.use_webhooks(webhook_sender)
        self._wake = asyncio.Event()
        store.on_wake(self._woken)  # rows committed here or, on PostgreSQL, by another replica
        self.per_destination = per_destination
        self.stop_grace = stop_grace
        self.homes = homes  # builds the Home a `home` row republishes
        self._limit = asyncio.Semaphore(concurrency)
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self.capacity = concurrency * CLAIM_AHEAD
        self._in_flight: dict[str, bool] = {}  # row id -> is a webhook row
        self._stop: asyncio.Event | None = None  # run_forever's: set, lanes start no new row
        self.delivered = 0
        self.failed = 0
        self.results = Results(store.outbox)
        self._unrecorded: set[str] = set()  # dedupe keys delivered here, result not committed

    def register(self, delivery: Delivery) -> None:
        """Add an adapter's delivery (adapters are built after the core they call)."""
        self.deliveries[delivery.platform] = delivery

    def use_webhooks(self, sender: WebhookSender) -> None:
        """Deliver `webhook` rows of every workspace (signed) through `sender`."""
        self.webhooks = WebhookDelivery(self.store, clock=self.clock, sender=sender)

    def wake(self) -> None:
        """Ask the loop to look for rows now (safe to call from any thread via the loop)."""
        self._wake.set()

    def _woken(self, keys: frozenset[str]) -> None:
        if wakes.OUTBOX in keys or wakes.ANY in keys:
            self._wake.set()

    async def run_once(self, *, webhooks: bool = True) -> int:
        """Deliver one batch of due rows (lanes concurrently); returns how many were attempted.

        With `webhooks=False` only the chat rows are waited for: webhook rows go on in their
        lanes (the console shows its notices without waiting for a slow receiver).
        """
        return (await self._round(webhooks=webhooks))[0]

    async def _round(self, *, webhooks: bool) -> tuple[int, bool]:
        """`run_once`: how many rows were attempted, and whether more may be due."""
        rows, more = await self._claim()
        submitted = self._submit(rows)
        waited = [
            submitted[r.id]
            for r in rows
            if r.id in submitted and (webhooks or r.kind is not OutboxKind.WEBHOOK)
        ]
        if waited:
            await asyncio.gather(*waited)
        return len(submitted), more

    async def drain(
        self, *, max_rounds: int = 50, stop: asyncio.Event | None = None, webhooks: bool = True
    ) -> None:
        """Deliver until nothing is due (or, once `stop` is set, until this round is done)."""
        for _ in range(max_rounds):
            attempted, more = await self._round(webhooks=webhooks)
            if not (attempted and more) or (stop is not None and stop.is_set()):
                return

    async def run_forever(self, stop: asyncio.Event, *, lock: asyncio.Lock | None = None) -> None:
        """Deliver as rows are committed, and every `poll_every` seconds for retries.

        Each round claims what is due and hands it to the lanes without waiting for them, so a
        slow webhook receiver never holds back the next round. With a `lock` (the console's), a
        round holds it until its chat notices are shown; webhook rows never take it. On stop,
        the deliveries in progress get `stop_grace` seconds to finish, then are cancelled; those
        and the rows still queued behind them stay leased in the database and are delivered
        when the lease runs out (here after a restart, or by a replica): at least once.
        """
        self._stop = stop
        stopping = asyncio.create_task(self._wake_on(stop))  # the grace starts at the signal
        try:
            await self._rounds(stop, lock)
            await self.settle(timeout=self.stop_grace)
        finally:
            stopping.cancel()
            self._stop = None

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def _rounds(self, stop: asyncio.Event, lock: asyncio.Lock | None) -> None:
        while not stop.is_set():
            self._wake.clear()  # before the round: a wake-up (or stop) during it is kept
            submitted: dict[str, asyncio.Future[None]] = {}
            more = False
            try:
                async with lock or contextlib.nullcontext():
                    rows, more = await self._claim()
                    submitted = self._submit(rows)
                    if lock is not None:
                        chat = [
                            submitted.get(r.id) for r in rows if r.kind is not OutboxKind.WEBHOOK
                        ]
                        await asyncio.gather(*(f for f in chat if f is not None))
            except Exception:
                _log.exception("outbox delivery round failed")
            if stop.is_set():
                break
            if submitted and more:
                continue  # a full lease: more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_every)

    async def settle(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until every row handed to a lane is delivered or failed; with `timeout`, the
        lanes still delivering after it are cancelled (their rows stay leased)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._lanes:
            lanes = [lane.task for lane in list(self._lanes.values()) if lane.task]
            left = None if deadline is None else max(0.0, deadline - loop.time())
            done, late = await asyncio.wait(lanes, timeout=left)
            if late:
                _log.warning("stopping %d outbox deliveries still in progress", len(late))
                for task in late:
                    task.cancel()
                await asyncio.wait(late)
                for task in late:
                    if not task.cancelled() and task.exception() is not None:
                        _log.warning("an outbox lane failed while stopping: %r", task.exception())
            for task in done:
                task.result()  # a lane that failed raises here, as gather did

    def _room(self, *, webhook: bool) -> int:
        """How many more rows of this kind may be claimed now (at most a batch)."""
        busy = sum(1 for is_webhook in self._in_flight.values() if is_webhook is webhook)
        return max(0, min(self.batch, self.capacity - busy))

    async def _claim(self) -> tuple[list[OutboxRow], bool]:
        """Lease what is due, chat rows and webhook rows each within their own room, so slow
        webhook receivers never use up the room of chat notices (nor the other way round);
        and whether more may be due (a lease that filled its room)."""
        rows: list[OutboxRow] = []
        more = False
        room = self._room(webhook=False)
        if self.deliveries and room:
            prefixes = [f"{platform}:" for platform in self.deliveries]
            rows = await self.store.outbox.claim(
                workspaces=prefixes, now=self.clock.now(), limit=room, lease=self.lease
            )
            more = len(rows) == room
        room = self._room(webhook=True)
        if self.webhooks is not None and room:
            hooks = await self.store.webhooks.claim_rows(
                now=self.clock.now(), limit=room, lease=self.lease
            )
            more = more or len(hooks) == room
            rows += hooks
        return rows, more

    def _submit(self, rows: list[OutboxRow]) -> dict[str, asyncio.Future[None]]:
        """Queue each row on its lane (starting the lane if idle); futures by row id.

        A row still in flight (its lease ran out while it waited behind a slow receiver, so it
        was claimed again) is not queued twice.
        """
        loop = asyncio.get_running_loop()
        submitted: dict[str, asyncio.Future[None]] = {}
        for row in rows:
            if row.id in self._in_flight:
                continue
            done: asyncio.Future[None] = loop.create_future()
            self._in_flight[row.id] = row.kind is OutboxKind.WEBHOOK
            submitted[row.id] = done
            destination, key = lane_of(row)
            lane = self._lanes.get((destination, key))
            if lane is None:
                lane = _Lane(destination)
                self._lanes[(destination, key)] = lane
                lane.rows.append((row, done))
                lane.task = asyncio.create_task(self._run_lane((destination, key), lane))
            else:
                lane.rows.append((row, done))
        return submitted

    async def _run_lane(self, key: tuple[str, str], lane: _Lane) -> None:
        """Deliver a lane's rows in order, each within its destination's concurrency bound."""
        limit = self._limits.setdefault(lane.destination, asyncio.Semaphore(self.per_destination))
        results: list[tuple[OutboxRow, asyncio.Future[None], Delivered | Failed]] = []
        held_since = self.clock.now()
        try:
            while lane.rows:
                async with limit, self._limit:
                    if self._stop is not None and self._stop.is_set():
                        break
                    row, done = lane.rows.popleft()
                    if not results:
                        held_since = self.clock.now()
                    results.append((row, done, await self._deliver(row)))
                # held past a quarter of the lease, a result is written before the lease ends
                if not lane.rows or self.clock.now() - held_since >= self.lease / 4:
                    await self._record(results)
        finally:
            await self._record(results)  # stopping or cancelled: what was delivered so far
            for left, waiting in lane.rows:  # stopping (or cancelled): left leased for later
                self._release(left.id)
                if not waiting.done():
                    waiting.set_result(None)
            del self._lanes[key]

    async def _record(
        self, results: list[tuple[OutboxRow, asyncio.Future[None], Delivered | Failed]]
    ) -> None:
        """Commit the results a lane holds, then let their rows go (a failed commit: their
        leases run out and they are delivered again)."""
        taken = results[:]
        results.clear()
        try:
            await self.results.record([result for _, _, result in taken])
        except Exception:
            _log.exception("the results of %d outbox rows were not recorded", len(taken))
        finally:
            for row, done, _ in taken:
                self._unrecorded.discard(row.dedupe_key)
                self._release(row.id)
                if not done.done():
                    done.set_result(None)

    async def _is_pending(self, dedupe_key: str) -> bool:
        """Whether the row of `dedupe_key` is still to deliver (here: not yet delivered)."""
        if dedupe_key in self._unrecorded:
            return False
        return await self.store.outbox.is_pending(dedupe_key)

    def _release(self, row_id: str) -> None:
        """The row left its lane; wake the claimer if that made room where there was none."""
        webhook = self._in_flight.pop(row_id, None)
        if webhook is not None and self._room(webhook=webhook) == 1:
            self._wake.set()

    async def _deliver(self, row: OutboxRow) -> Delivered | Failed:
        """Deliver `row`; what became of it, to record."""
        try:
            if row.kind is OutboxKind.WEBHOOK:
                result_ref = await self._webhook(row)
            else:
                delivery = self.deliveries[row.workspace.split(":", 1)[0]]
                result_ref = await self._send(delivery, row, View.from_json(row.payload))
        except DeliveryError as exc:
            return self._failed(row, str(exc), exc.retry_after, exc.permanent)
        except Exception as exc:
            _log.exception("delivering outbox row %s failed", row.id)
            shown = UNREACHABLE if row.kind is OutboxKind.WEBHOOK else exc.__class__.__name__
            return self._failed(row, shown, None, False)  # an admin sees webhook errors: no detail
        self.delivered += 1
        self._unrecorded.add(row.dedupe_key)
        return Delivered(row.id, self.clock.now(), result_ref)

    async def _webhook(self, row: OutboxRow) -> str | None:
        if self.webhooks is None:
            raise DeliveryError("no webhook sender in this process", retry_after=60)
        return await self.webhooks.deliver(row)

    async def _send(self, delivery: Delivery, row: OutboxRow, view: View) -> str | None:
        target = row.target
        if row.kind is OutboxKind.HOME:
            await home.publish(delivery, row.workspace, target["user_id"], self.homes)
            return None
        if row.kind is OutboxKind.DM:
            return await delivery.direct(row.workspace, target["user_id"], view)
        if row.kind is OutboxKind.MESSAGE_UPDATE:
            await self._update_messages(delivery, row, view)
            return None
        thread_ref = await self._thread_of(target)
        message_ref = await delivery.post(row.workspace, target["channel_id"], thread_ref, view)
        if not message_ref:  # settled without a chat (NoChatDelivery): nothing to point at
            return None
        if "card_of" in target:
            await self.store.sessions.set_thread_ref(target["card_of"], message_ref)
        if "request_id" in target:
            await self.store.requests.add_message(
                target["request_id"],
                platform=delivery.platform,
                channel_id=target["channel_id"],
                message_ref=message_ref,
            )
        if "plan_id" in target:
            await self.store.plans.add_message(
                target["plan_id"],
                platform=delivery.platform,
                channel_id=target["channel_id"],
                message_ref=message_ref,
            )
        return message_ref

    async def _thread_of(self, target: dict[str, str]) -> str | None:
        session_id = target.get("thread_of")
        if session_id is None:
            return None
        session = await self.store.sessions.by_id(session_id)
        if session is None:
            raise DeliveryError("the session no longer exists", permanent=True)
        if session.thread_ref is None and await self._is_pending(f"card:{session_id}"):
            raise DeliveryError("waiting for the session card to be posted", retry_after=1)
        return session.thread_ref

    async def _update_messages(self, delivery: Delivery, row: OutboxRow, view: View) -> None:
        """Edit every posted copy of a plan or request message to show it as it is now, not as
        the row saw it: an update retried after a later one must not bring back an older state."""
        found: tuple[Session, Plan | Request] | None
        if "request_id" in row.target:
            kind, found = (
                "request",
                await self.store.requests.with_session(row.target["request_id"]),
            )
        else:
            kind, found = "plan", await self.store.plans.with_session(row.target["plan_id"])
        if found is None:  # a session goes with its plans and requests
            raise DeliveryError(f"the {kind} no longer exists", permanent=True)
        session, shown = found
        if isinstance(shown, Request):
            view = request_cards.message(session, shown)
        else:
            view = cards.plan_message(session, shown)
        copies = [m for m in shown.messages if m.platform == delivery.platform]
        if not copies:
            if await self._is_pending(f"{kind}:{shown.id}"):
                raise DeliveryError(f"the {kind} message is not posted yet", retry_after=1)
            return
        for copy in copies:
            await delivery.update(row.workspace, copy.channel_id, copy.message_ref, view)

    def _failed(
        self, row: OutboxRow, error: str, retry_after: float | None, permanent: bool
    ) -> Failed:
        attempts = row.attempts + 1
        dead = permanent or attempts >= self.max_attempts
        delay = self.base_delay * (2 ** (attempts - 1))
        if retry_after is not None:
            delay = timedelta(seconds=retry_after)
        delay = min(delay, self.max_delay)
        self.failed += 1
        if dead:
            _log.warning("outbox row %s is dead after %d attempts: %s", row.id, attempts, error)
        return Failed(row.id, error, self.clock.now() + delay, dead)
