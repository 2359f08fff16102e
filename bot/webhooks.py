"""The aiohttp WebhookSender: posts signed webhook bodies (core decides what and when)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import aiohttp

from core.delivery import DeliveryError
from core.jobs.webhooks import WebhookResponse

_log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


class AiohttpWebhookSender:
    """One shared client session; I/O errors become DeliveryError (the outbox retries)."""

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookResponse:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as response:
                await response.read()
                return WebhookResponse(response.status, _retry_after(response.headers))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"{exc.__class__.__name__} posting to the webhook") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
