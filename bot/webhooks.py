"""The aiohttp WebhookSender: posts signed webhook bodies (core decides what and when).

Every connection goes through `PolicyResolver`, which asks the real resolver and refuses the
connection if any answer is an address the target policy forbids (core/jobs/webhook_policy.py),
so a DNS answer that changes after `webhook add` cannot reach an internal address. Literal
addresses never reach a resolver; `check_url` judges them before the request. Redirects are not
followed, proxies from the environment are not used, and the DNS cache is off.

Errors recorded for the admin are generic ("connection refused by policy", "unreachable",
"HTTP 5xx"): no exception class, address, port or exact status.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from core.delivery import DeliveryError
from core.jobs.webhook_policy import WebhookPolicy, WebhookTargetRefused
from core.jobs.webhooks import REFUSED_BY_POLICY, UNREACHABLE, WebhookResponse

_log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_READ = 64 * 1024  # bytes of a receiver's answer read at most; the rest is dropped


class AddressRefused(OSError):
    """A resolved address the policy forbids (aiohttp wraps it in a ClientConnectorError)."""


class PolicyResolver(AbstractResolver):
    """Resolves through `inner`, then refuses the whole answer if one address is forbidden."""

    def __init__(self, policy: WebhookPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self.inner.resolve(host, port, family)
        for answer in answers:
            reason = self.policy.check_address(host, answer["host"])
            if reason is not None:
                _log.warning(
                    "webhook connection refused by policy: the host resolves to %s", reason
                )
                raise AddressRefused(f"refused by policy: {reason}")
        return answers

    async def close(self) -> None:
        await self.inner.close()


class AiohttpWebhookSender:
    """One shared client session; I/O errors become DeliveryError (the outbox retries)."""

    def __init__(
        self,
        *,
        policy: WebhookPolicy | None = None,
        timeout: float = TIMEOUT_SECONDS,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.policy = policy or WebhookPolicy()
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=PolicyResolver(self.policy, self._resolver), use_dns_cache=False
            )
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, connector=connector, trust_env=False
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookResponse:
        try:
            self.policy.check_url(url)
        except WebhookTargetRefused as exc:
            raise DeliveryError(REFUSED_BY_POLICY, permanent=True) from exc
        try:
            async with self._client().post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as response:
                await response.content.read(MAX_RESPONSE_READ)  # the status is the answer
                return WebhookResponse(response.status, _retry_after(response.headers))
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):
                raise DeliveryError(REFUSED_BY_POLICY, permanent=True) from exc
            raise DeliveryError(UNREACHABLE) from exc
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise DeliveryError(UNREACHABLE) from exc

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
