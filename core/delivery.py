"""What an adapter (or the webhook sender) implements to deliver outbox rows, and its error."""

from __future__ import annotations

from typing import Protocol

from core.views import View


class DeliveryError(Exception):
    """A delivery failed; `retry_after` (seconds) and `permanent` steer the retry."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Delivery(Protocol):
    """What each chat adapter implements to send neutral views."""

    platform: str

    async def post(
        self, workspace: str, channel_id: str, thread_ref: str | None, view: View
    ) -> str: ...

    async def update(
        self, workspace: str, channel_id: str, message_ref: str, view: View
    ) -> None: ...

    async def direct(self, workspace: str, user_id: str, view: View) -> str: ...


class NoChatDelivery:
    """The deliveries of `api:` workspaces, which have no chat: agents and scripts read their
    sessions through the REST API (and webhooks), so their notices are settled unsent."""

    platform = "api"

    async def post(
        self, workspace: str, channel_id: str, thread_ref: str | None, view: View
    ) -> str:
        return ""  # no message: no thread, no plan message to update later

    async def update(self, workspace: str, channel_id: str, message_ref: str, view: View) -> None:
        return None

    async def direct(self, workspace: str, user_id: str, view: View) -> str:
        return ""
