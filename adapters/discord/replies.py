"""Answers an interaction with a Reply: in time (deferring when work runs long), in pages.

Discord wants a first answer within 3 s. The work starts at once; if it is not done after
`defer_after` seconds the interaction is deferred ("thinking…") and the reply follows. A
deferral fixes whether the answer is ephemeral; when the reply turns out the other way (an
error after a public deferral), the thinking message is deleted and the reply sent afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import discord

from adapters.discord.buttons import ButtonKit
from adapters.discord.embeds import content_of, render
from adapters.discord.forms import FormModal, form_id
from core.views import Reply

_log = logging.getLogger(__name__)

DEFER_AFTER = 2.0


class Replier:
    """Sends Replies to interactions."""

    def __init__(self, buttons: ButtonKit, *, defer_after: float = DEFER_AFTER) -> None:
        self.buttons = buttons
        self.defer_after = defer_after

    async def answer(
        self, interaction: discord.Interaction, work: Awaitable[Reply | None], *, ephemeral: bool
    ) -> None:
        """Run `work`, deferring (as `ephemeral` guesses) if it outlasts `defer_after`."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.defer_after)
        deferred: bool | None = None
        if not done:
            deferred = await self._defer(interaction, ephemeral=ephemeral)
        reply = await task
        if reply is None:  # a redelivery that was already handled: no second answer
            if deferred is not None:
                await self._call(interaction.delete_original_response())
            return
        if deferred is not None and deferred != reply.ephemeral:
            await self._call(interaction.delete_original_response())
        await self.send(interaction, reply)

    async def send(self, interaction: discord.Interaction, reply: Reply) -> None:
        """The reply's form as a modal when it has fields and the interaction is still
        unanswered; else its pages: the first as the response (or follow-up), the rest as
        follow-ups."""
        if reply.form is not None and reply.form.fields and not interaction.response.is_done():
            custom_id = form_id(reply.form)
            if custom_id is not None:
                await self._call(interaction.response.send_modal(FormModal(reply.form, custom_id)))
                return
        if reply.form is not None and not reply.form.fields:  # it only says why it can't open
            reply = Reply(reply.form.as_view())
        pages = render(reply.view)
        first: dict[str, Any] = {"embeds": pages[0], "ephemeral": reply.ephemeral}
        if reply.view.summary:
            first["content"] = content_of(reply.view)
        view = self.buttons.view_for(reply.view.buttons)
        if view is not None:
            first["view"] = view
        if interaction.response.is_done():
            await self._call(interaction.followup.send(**first))
        else:
            await self._call(interaction.response.send_message(**first))
        for page in pages[1:]:
            await self._call(interaction.followup.send(embeds=page, ephemeral=reply.ephemeral))

    async def _defer(self, interaction: discord.Interaction, *, ephemeral: bool) -> bool | None:
        if interaction.response.is_done():
            return None
        await self._call(interaction.response.defer(ephemeral=ephemeral, thinking=True))
        return ephemeral

    async def _call(self, request: Awaitable[object]) -> None:
        """One Discord call; a failure (expired or answered interaction) is logged, not raised."""
        try:
            await request
        except discord.HTTPException as exc:
            _log.warning("discord reply failed: HTTP %s (code %s)", exc.status, exc.code)
