"""Answers through a payload's `response_url` (what Bolt's `respond()` does), over one session.

Bolt's `respond()` opens a new HTTP session, and so a new connection, for every answer; under
load that costs more than the rest of a command together. This sends the same JSON with
slack_sdk's webhook client over one shared keep-alive session.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.blocks import render
from core.views import Reply

_log = logging.getLogger(__name__)


def message_body(reply: Reply) -> dict[str, Any]:
    """A reply as the JSON a response_url or a slash command's ack body takes."""
    message = render(reply.view)
    return {
        "response_type": "ephemeral" if reply.ephemeral else "in_channel",
        "text": message.text,
        "blocks": message.blocks,
    }


class ResponseUrls:
    """Posts replies to response_urls: ephemeral for reads, help and errors; else in channel."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _client(self, response_url: str) -> AsyncWebhookClient:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return AsyncWebhookClient(response_url, timeout=10, session=self._session)

    async def reply(self, response_url: str | None, reply: Reply | None) -> None:
        """Send a core reply; None (a redelivery already answered) sends nothing."""
        if reply is None:
            return
        body = message_body(reply)
        await self._post(
            response_url,
            text=body["text"],
            blocks=body["blocks"],
            response_type=body["response_type"],
        )

    async def notice(self, response_url: str | None, text: str) -> None:
        """A one-line ephemeral note (e.g. the invite hint); failures are only logged."""
        try:
            await self._post(response_url, text=text, response_type="ephemeral")
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            _log.warning("could not post a notice to a response_url: %s", exc.__class__.__name__)

    async def _post(
        self,
        response_url: str | None,
        *,
        text: str,
        response_type: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        if not response_url:
            _log.warning("no response_url to answer on; reply dropped")
            return
        sent = await self._client(response_url).send(
            text=text, blocks=blocks, response_type=response_type, replace_original=False
        )
        if sent.status_code >= 400:
            _log.warning("response_url answered HTTP %s: %s", sent.status_code, sent.body[:200])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
