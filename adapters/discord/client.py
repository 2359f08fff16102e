"""The Discord adapter (§8): a discord.py client with the `/session` group and plan buttons.

Handlers stay thin: interaction → (Actor, ChatRef, Command) → one CommandRunner call → reply.
The guild is the workspace (`discord:<guild_id>`), members with Manage Server are admins, and
the interaction id is the inbound dedupe key, so a replayed INTERACTION_CREATE or a double
click never acts twice. Replies to reads, help and errors are ephemeral; state changes are
answered in the channel.

Scale-out: one gateway connection per shard. Two processes on the same shard would both get
every interaction (the second answer fails with "already acknowledged"), so run one process
per shard set: give `shard_ids` and `shard_count` to split shards over processes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence

import discord
from discord import app_commands

from adapters.discord.autocomplete import QuestionChoices, RefChoices, command_choices
from adapters.discord.buttons import ButtonKit
from adapters.discord.commands import Completers, command_from_options, session_group
from adapters.discord.delivery import DiscordDelivery
from adapters.discord.replies import DEFER_AFTER, Replier
from adapters.discord.start import context_menu, message_form, source_of, start_submit
from core.cards import error_view
from core.commands import CommandSpec
from core.errors import ConfigError, SessionBotError
from core.forms import FormInput
from core.models import Actor, ChatRef, Source
from core.outbox import Delivery
from core.runner import CommandRunner
from core.views import Reply, View

_log = logging.getLogger(__name__)

PLATFORM = "discord"
MAX_RATELIMIT_WAIT = 30.0  # longer waits come back to the outbox as retry_after
# Seconds the command sync gets in the background: one call per configured guild may take
# longer than a start attempt may (the supervisor's bound covers only the login).
SYNC_TIMEOUT = 300.0
DM_REFUSAL = View(
    kind="notice",
    title="sessionbot works inside servers",
    blocks=["Run `/session` in a channel of a server where sessionbot is installed."],
)


def actor_of(interaction: discord.Interaction) -> Actor:
    """The member as a core Actor; Manage Server (or Administrator) makes them an admin."""
    perms = interaction.permissions
    return Actor(
        f"{PLATFORM}:{interaction.guild_id}",
        str(interaction.user.id),
        Source.DISCORD,
        platform_admin=perms.manage_guild or perms.administrator,
    )


def chat_of(interaction: discord.Interaction) -> ChatRef:
    """The channel; inside a thread, its parent (sessions live in channels, threads in them)."""
    channel = interaction.channel
    channel_id = interaction.channel_id
    thread_ref: str | None = None
    if isinstance(channel, discord.Thread) and channel.parent_id is not None:
        channel_id, thread_ref = channel.parent_id, str(channel.id)
    return ChatRef(PLATFORM, f"{PLATFORM}:{interaction.guild_id}", str(channel_id), thread_ref)


def delivery_key(interaction: discord.Interaction) -> str:
    return f"{PLATFORM}:{interaction.id}"


def new_client(
    *, shard_ids: Sequence[int], shard_count: int | None, guild_ready_timeout: float
) -> discord.Client:
    """A client needing no privileged intent; sharded when shard ids are configured."""
    intents = discord.Intents.none()
    intents.guilds = True  # channel cache: which channels allow threads
    mentions = discord.AllowedMentions.none()
    if shard_ids:
        return discord.AutoShardedClient(
            intents=intents,
            shard_ids=list(shard_ids),
            shard_count=shard_count,
            guild_ready_timeout=guild_ready_timeout,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
            allowed_mentions=mentions,
            chunk_guilds_at_startup=False,
        )
    return discord.Client(
        intents=intents,
        guild_ready_timeout=guild_ready_timeout,
        max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        allowed_mentions=mentions,
        chunk_guilds_at_startup=False,
    )


class DiscordAdapter:
    """The running Discord connection: commands, buttons and outbox delivery."""

    name = PLATFORM

    def __init__(
        self,
        runner: CommandRunner,
        *,
        token: str,
        guild_ids: Sequence[int] = (),
        shard_ids: Sequence[int] = (),
        shard_count: int | None = None,
        guild_ready_timeout: float = 2.0,
        defer_after: float = DEFER_AFTER,
    ) -> None:
        self.runner = runner
        self._token = token
        self.guild_ids = tuple(guild_ids)
        self.client = new_client(
            shard_ids=shard_ids, shard_count=shard_count, guild_ready_timeout=guild_ready_timeout
        )
        self.tree = app_commands.CommandTree(self.client)
        self.tree.error(self._on_tree_error)
        self.buttons = ButtonKit(self._on_click)
        self.client.add_dynamic_items(self.buttons.item_class)
        self.client.event(self.on_interaction)  # registered by name: Client.dispatch calls it
        self.replier = Replier(self.buttons, defer_after=defer_after)
        self.delivery: Delivery = DiscordDelivery(self.client, self.buttons)
        self._refs = RefChoices(runner.services)
        self._questions = QuestionChoices(runner.services)
        complete = Completers(self._complete_ref, self._names, self._complete_question)
        self.group = session_group(self._on_command, complete)
        self.tree.add_command(self.group)
        self.tree.add_command(context_menu(self._on_message_menu))
        self._gateway: asyncio.Task[None] | None = None
        self._syncing: asyncio.Task[None] | None = None
        self._failure: str | None = None
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in (REST), then keep the gateway connection and sync the commands in the background.

        A refused token raises ConfigError naming DISCORD_TOKEN; any other failure (Discord
        unreachable, a 5xx, a cancelled attempt) is raised as it is, for the caller to retry,
        after closing the HTTP session this login opened (each login opens a new one).
        """
        self._started = True
        try:
            await self.client.login(self._token)
        except BaseException as exc:
            await self._close_http()
            if isinstance(exc, discord.LoginFailure):
                raise ConfigError(
                    "DISCORD_TOKEN", "Discord refused it (401 Unauthorized)"
                ) from None
            raise
        self._gateway = asyncio.create_task(self._connect(), name="discord-gateway")
        self._syncing = asyncio.create_task(self._sync_bounded(), name="discord-sync")

    async def _close_http(self) -> None:
        """Close the session (and its connector) a login opened; the next login makes both anew."""
        await self.client.http.close()
        self.client.http.connector = discord.utils.MISSING

    async def commands_synced(self) -> None:
        """Wait for the background command sync started by `start` (done or given up)."""
        if self._syncing is not None:
            await asyncio.shield(self._syncing)

    async def _sync_bounded(self) -> None:
        try:
            async with asyncio.timeout(SYNC_TIMEOUT):
                await self.sync_commands()
        except TimeoutError:
            _log.error("syncing /session gave up after %gs; restart to try again", SYNC_TIMEOUT)

    async def _connect(self) -> None:
        try:
            await self.client.connect(reconnect=True)
        except Exception as exc:
            self._failure = f"discord gateway stopped: {exc.__class__.__name__}"
            _log.exception("discord gateway stopped")

    async def sync_commands(self) -> None:
        """Guild sync (instant) for the configured guilds, else one global sync."""
        try:
            for guild_id in self.guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            if not self.guild_ids:
                await self.tree.sync()
        except discord.HTTPException as exc:
            _log.error("syncing /session failed: HTTP %s (code %s)", exc.status, exc.code)

    async def stop(self) -> None:
        if not self._started:  # (a sharded client cannot even close before its login)
            return
        if self._syncing is not None and not self._syncing.done():
            self._syncing.cancel()
            await asyncio.gather(self._syncing, return_exceptions=True)
        await self.client.close()
        if self._gateway is not None:
            await self._gateway

    async def ready_problem(self) -> str | None:
        if self._failure:
            return self._failure
        if self.client.is_closed():
            return "discord client closed"
        if not self.client.is_ready():
            return "discord gateway not connected yet"
        return None

    # -- handlers ----------------------------------------------------------------------------

    async def _on_command(
        self, interaction: discord.Interaction, spec: CommandSpec, values: dict[str, object]
    ) -> None:
        if interaction.guild_id is None:
            await self.replier.send(interaction, Reply(DM_REFUSAL))
            return
        try:
            command = command_from_options(spec.name, values)
        except SessionBotError as exc:
            await self.replier.send(interaction, Reply(error_view(exc.message)))
            return
        work = self.runner.run(
            actor_of(interaction),
            chat_of(interaction),
            command,
            delivery_key=delivery_key(interaction),
        )
        await self.replier.answer(interaction, work, ephemeral=not spec.changes_state)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Every interaction; modal submits (Reject, request forms) are decided here (ButtonKit),
        and the start form's."""
        started = start_submit(interaction)
        if started is None:
            await self.buttons.modal_submit(interaction)
        elif await self._in_server(interaction):
            message_id, values = started
            chat = chat_of(interaction)
            source = source_of(chat, message_id) if message_id else None
            key = delivery_key(interaction)
            work = self.runner.start_form(
                actor_of(interaction), chat, values, source=source, delivery_key=key
            )
            await self.replier.answer(interaction, work, ephemeral=False)

    async def _on_message_menu(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """ "Start session from message": the start form, prefilled with the message's text."""
        if await self._in_server(interaction):
            form = message_form(chat_of(interaction), message)
            await self.replier.send(interaction, Reply(form.as_view(), form=form))

    async def _in_server(self, interaction: discord.Interaction) -> bool:
        """Whether it came from a server; a DM is answered that sessionbot works in servers."""
        if interaction.guild_id is None:
            await self.replier.send(interaction, Reply(DM_REFUSAL))
        return interaction.guild_id is not None

    async def _on_click(
        self, interaction: discord.Interaction, action_id: str, value: str, form: FormInput | None
    ) -> None:
        if interaction.guild_id is None:
            await self.replier.send(interaction, Reply(DM_REFUSAL))
            return
        work = self.runner.click(
            actor_of(interaction),
            chat_of(interaction),
            action_id,
            value,
            form=form,
            delivery_key=delivery_key(interaction),
        )
        await self.replier.answer(interaction, work, ephemeral=False)

    async def _complete_ref(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._suggest(interaction, self._refs.choices, current)

    async def _complete_question(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._suggest(interaction, self._questions.choices, current)

    async def _suggest(
        self,
        interaction: discord.Interaction,
        source: Callable[[Actor, str], Awaitable[list[app_commands.Choice[str]]]],
        current: str,
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        try:
            return await source(actor_of(interaction), current)
        except Exception:  # a suggestion list is never worth an error
            _log.exception("autocomplete failed")
            return []

    async def _names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return command_choices(current)

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """What discord.py itself refused (e.g. stale command options): answer, never fail."""
        ref = secrets.token_hex(3)
        _log.error("discord command failed (ref %s): %r", ref, error)
        text = f"Something went wrong (ref {ref})."
        if isinstance(error, app_commands.CommandSignatureMismatch):
            text = "This command changed since Discord last loaded it; try again in a minute."
        await self.replier.send(interaction, Reply(error_view(text)))
