"""Services: one object per use-case concern, built once per process around one store.

`build_services` is the only place that knows how the collaborators fit together: the settings
cache and `Access` are shared by every service, `Units` builds the rows of each change, and the
services take what they use as constructor arguments (nothing is looked up or attached later).
The bot builds one `Services` from its configuration (bot/app.py); the runner, the command
handlers, the REST API and the scheduled jobs receive it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.access import Access
from core.clock import Clock, SystemClock
from core.history.messages import HistoryService
from core.history.summary import ExtractiveSummarizer, Summarizer
from core.home import HomeService
from core.jobs.webhooks import WebhookRouter
from core.services.config import ServiceConfig
from core.services.members import Membership
from core.services.plans import Plans
from core.services.progress import Progress
from core.services.requests import Requests
from core.services.sessions import Lifecycle
from core.services.web_pages import WebReads
from core.services.workspace import Workspace
from core.settings import Settings
from core.store import wakes
from core.store.store import Store
from core.units import Units
from core.waiters import Waiters


@dataclass(frozen=True, slots=True)
class Services:
    store: Store
    clock: Clock
    config: ServiceConfig
    settings: Settings
    access: Access
    webhooks: WebhookRouter
    sessions: Lifecycle
    members: Membership
    plans: Plans
    progress: Progress
    history: HistoryService
    requests: Requests
    workspace: Workspace
    home: HomeService


def build_services(
    store: Store,
    *,
    clock: Clock | None = None,
    config: ServiceConfig | None = None,
    summarizer: Summarizer | None = None,
) -> Services:
    clock = clock or SystemClock()
    config = config or ServiceConfig()
    settings = Settings(store, config.defaults, clock)
    access = Access(store, settings, config.admins)
    webhooks = WebhookRouter(store.webhooks, clock=clock)
    units = Units(clock, settings, webhooks, touch_every=config.touch_every)
    sessions = Lifecycle(store, clock, config, settings, access, units)
    progress = Progress(store, clock, settings, access, units, sessions)
    requests = Requests(store, clock, settings, access, units, sessions)
    store.on_wake(lambda keys: _wake(keys, requests=requests.waiters, events=progress.followers))
    return Services(
        store=store,
        clock=clock,
        config=config,
        settings=settings,
        access=access,
        webhooks=webhooks,
        sessions=sessions,
        members=Membership(store, clock, sessions),
        plans=Plans(store, clock, settings, access, units, sessions),
        progress=progress,
        history=HistoryService(
            store,
            clock,
            settings,
            access,
            units,
            sessions,
            config=config.history,
            summarizer=summarizer or ExtractiveSummarizer(),
        ),
        requests=requests,
        workspace=Workspace(store, clock, settings, access, webhooks, config.webhook_policy),
        home=HomeService(store, clock, WebReads(store, access, sessions)),
    )


def _wake(keys: frozenset[str], *, requests: Waiters, events: Waiters) -> None:
    """Committed keys (this process's or another replica's) to the waiters they concern."""
    if wakes.ANY in keys:
        requests.wake_all()
        events.wake_all()
        return
    for request_id in wakes.ids(keys, "request"):
        requests.wake(request_id)
    for session_id in wakes.ids(keys, "events"):
        events.wake(session_id)
