"""The settings and webhook caches expire on the injected clock, not the machine's."""

from __future__ import annotations

from datetime import timedelta

from core.clock import ManualClock
from core.records.jobs import WebhookSubscription
from core.store import ops
from core.store.store import Store
from core.wiring import Services

WS = "console:caches"


async def test_a_setting_written_behind_the_service_is_seen_once_the_clock_passes_the_cache(
    store: Store, services: Services, clock: ManualClock
) -> None:
    assert (await services.settings.get(WS)).timezone == "UTC"
    await store.apply([ops.PutSettings(WS, {"timezone": "Europe/Kyiv"})])  # another replica
    assert (await services.settings.get(WS)).timezone == "UTC", "still cached"
    clock.advance(timedelta(seconds=4.9))
    assert (await services.settings.get(WS)).timezone == "UTC"
    clock.advance(timedelta(seconds=0.2))
    assert (await services.settings.get(WS)).timezone == "Europe/Kyiv"


async def test_a_webhook_added_behind_the_router_is_seen_once_the_clock_passes_the_cache(
    store: Store, services: Services, clock: ManualClock
) -> None:
    router = services.webhooks
    assert await router.subscriptions(WS) == []
    hook = WebhookSubscription(
        "wh1", WS, "https://hooks.example.com/x", "s3cret", ("session.created",), "olga",
        clock.now(),
    )  # fmt: skip
    await store.webhooks.add(hook)
    assert await router.subscriptions(WS) == [], "still cached"
    clock.advance(timedelta(seconds=5))
    assert await router.subscriptions(WS) == [hook]
