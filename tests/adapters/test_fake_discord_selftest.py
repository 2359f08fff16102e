"""Self-test: the real discord.py client works end to end against tests.fakes.discord_api."""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest

with warnings.catch_warnings():
    # discord.py imports the stdlib ``audioop`` (deprecated in 3.11); filterwarnings=error.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands, ui

from tests.fakes.discord_api import (
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_MESSAGE,
    LOADING,
    MANAGE_GUILD,
    MODAL,
    UPDATE_MESSAGE,
    FakeDiscord,
)

SESSION_NAMES = [f"sess-{i:02d}" for i in range(40)]
TIMEOUT = 5.0


class SessionButton(
    ui.DynamicItem[ui.Button[ui.View]],
    template=r"sess:(?P<action>approve|reject):(?P<sid>[0-9a-z-]+)",
):
    """Persistent per-session button routed by its custom_id."""

    def __init__(self, action: str, sid: str) -> None:
        """Build the button for ``action`` on session ``sid``."""
        super().__init__(ui.Button(label=action.title(), custom_id=f"sess:{action}:{sid}"))
        self.action, self.sid = action, sid

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> SessionButton:
        """Rebuild the button from a click's custom_id."""
        return cls(match["action"], match["sid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Edit the clicked message (callback type 7)."""
        content = f"session {self.sid}: {self.action.removesuffix('e')}ed"
        await interaction.response.edit_message(content=content, view=None)


class NoteModal(ui.Modal, title="Add a note"):
    """Modal with one text input."""

    text: ui.TextInput[NoteModal] = ui.TextInput(label="Note", custom_id="note_text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Echo the submitted note."""
        await interaction.response.send_message(f"noted: {self.text.value}", ephemeral=True)


class SelfTestClient(discord.Client):
    """A client with a ``/session`` group bound to one guild."""

    def __init__(self, guild_id: int) -> None:
        """Create the command tree for ``guild_id``."""
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.1)
        self.guild_ref = discord.Object(id=guild_id)
        self.ready = asyncio.Event()
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(_session_group(), guild=self.guild_ref)

    async def setup_hook(self) -> None:
        """Register the persistent dynamic button."""
        self.add_dynamic_items(SessionButton)

    async def on_ready(self) -> None:
        """Signal readiness to the test."""
        self.ready.set()


def _session_group() -> app_commands.Group:
    """Build the ``/session`` group under test."""
    session = app_commands.Group(name="session", description="Manage sessions")

    @session.command(name="start", description="Start a session")
    async def start(interaction: discord.Interaction, title: str) -> None:
        """Reply with the title, the caller's Manage Server bit and an Approve button."""
        member = interaction.user
        admin = isinstance(member, discord.Member) and member.guild_permissions.manage_guild
        view = ui.View(timeout=None)
        view.add_item(SessionButton("approve", title))
        await interaction.response.send_message(f"started {title} (admin={admin})", view=view)

    @session.command(name="attach", description="Attach to a session")
    async def attach(interaction: discord.Interaction, name: str) -> None:
        """Defer, then answer with a follow-up."""
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"attached {name}")

    @attach.autocomplete("name")
    async def attach_names(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Suggest matching session names, capped at Discord's 25."""
        names = [n for n in SESSION_NAMES if n.startswith(current)]
        return [app_commands.Choice(name=n, value=n) for n in names][:25]

    @session.command(name="note", description="Add a note")
    async def note(interaction: discord.Interaction) -> None:
        """Open the note modal."""
        await interaction.response.send_modal(NoteModal())

    return session


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A started fake with discord.py pointed at it."""
    async with FakeDiscord() as server:
        with server.patch_discord():
            yield server


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[SelfTestClient]:
    """A logged-in, gateway-connected client that has seen on_ready."""
    bot = SelfTestClient(fake.guild.id)
    await bot.login("fake-token")
    task = asyncio.create_task(bot.connect(reconnect=False))
    try:
        async with asyncio.timeout(TIMEOUT):
            await bot.ready.wait()
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, TIMEOUT)


async def _start_session(fake: FakeDiscord, title: str, **kwargs: Any) -> dict[str, Any]:
    """Push ``/session start title:<title>`` and return the callback body."""
    payload = fake.slash_command_payload(subcommand="start", options={"title": title}, **kwargs)
    await fake.push_interaction(payload)
    return (await fake.wait_for_callback(payload)).json  # type: ignore[no-any-return]


async def test_ready_builds_guild_cache(fake: FakeDiscord, client: SelfTestClient) -> None:
    """READY + GUILD_CREATE populate user, application id, channels and roles."""
    guild = client.get_guild(fake.guild.id)
    assert guild is not None
    assert client.user is not None and client.user.id == fake.bot_user.id
    assert client.application_id == fake.application_id
    assert guild.get_channel(fake.guild.text_channel.id) is not None
    admin_role = guild.get_role(fake.guild.admin_role_id)
    assert admin_role is not None and admin_role.permissions.manage_guild
    assert guild.me is not None and guild.me.guild_permissions.send_messages
    assert guild.get_member(fake.guild.admin.id) is None  # no GUILD_MEMBERS intent
    identify = (await fake.wait_for_gateway_op(2))[0]
    assert identify["d"]["token"] == "fake-token"


async def test_guild_sync_echoes_commands_with_ids(
    fake: FakeDiscord, client: SelfTestClient
) -> None:
    """tree.sync(guild=...) PUTs the group; the fake echoes it with stable ids."""
    first = await client.tree.sync(guild=client.guild_ref)
    second = await client.tree.sync(guild=client.guild_ref)
    assert [c.name for c in first] == ["session"]
    assert first[0].id == second[0].id
    assert first[0].guild_id == fake.guild.id
    put = fake.requests_matching(f"/applications/*/guilds/{fake.guild.id}/commands", method="PUT")
    subcommands = {o["name"] for o in put[0].json[0]["options"]}
    assert subcommands == {"start", "attach", "note"}


async def test_slash_command_reply_reaches_fake(fake: FakeDiscord, client: SelfTestClient) -> None:
    """An INTERACTION_CREATE over the gateway runs the tree; the reply is a type-4 callback."""
    await client.tree.sync(guild=client.guild_ref)
    admin_reply = await _start_session(fake, "deploy", user=fake.guild.admin)
    member_reply = await _start_session(fake, "docs", user=fake.guild.member)
    assert admin_reply["type"] == CHANNEL_MESSAGE
    assert admin_reply["data"]["content"] == "started deploy (admin=True)"
    assert member_reply["data"]["content"] == "started docs (admin=False)"
    button = admin_reply["data"]["components"][0]["components"][0]
    assert button["custom_id"] == "sess:approve:deploy"
    messages = fake.channel_messages(fake.guild.text_channel.id)
    assert [m["content"] for m in messages] == [
        "started deploy (admin=True)",
        "started docs (admin=False)",
    ]


async def test_explicit_permissions_drive_guild_permissions(
    fake: FakeDiscord, client: SelfTestClient
) -> None:
    """A ``permissions`` override with Manage Server also grants the Admin role."""
    await client.tree.sync(guild=client.guild_ref)
    reply = await _start_session(fake, "x", user=fake.guild.member, permissions=MANAGE_GUILD)
    assert reply["data"]["content"] == "started x (admin=True)"


async def test_dynamic_button_click_updates_message(
    fake: FakeDiscord, client: SelfTestClient
) -> None:
    """A click routed to the DynamicItem answers with type 7 and the stored message changes."""
    await client.tree.sync(guild=client.guild_ref)
    await _start_session(fake, "deploy", user=fake.guild.admin)
    message = fake.channel_messages(fake.guild.text_channel.id)[-1]
    click = fake.component_payload("sess:approve:deploy", int(message["id"]))
    await fake.push_interaction(click)
    callback = (await fake.wait_for_callback(click)).json
    assert callback["type"] == UPDATE_MESSAGE
    assert callback["data"]["content"] == "session deploy: approved"
    assert callback["data"]["components"] == []
    assert fake.messages[int(message["id"])]["content"] == "session deploy: approved"


async def test_click_on_message_from_before_restart(
    fake: FakeDiscord, client: SelfTestClient
) -> None:
    """A click on a message the client never saw is still routed by custom_id."""
    click = fake.component_payload("sess:reject:old-1")
    await fake.push_interaction(click)
    callback = (await fake.wait_for_callback(click)).json
    assert callback["data"]["content"] == "session old-1: rejected"


async def test_autocomplete_returns_at_most_25_choices(
    fake: FakeDiscord, client: SelfTestClient
) -> None:
    """Autocomplete produces a type-8 callback with ≤ 25 filtered choices."""
    await client.tree.sync(guild=client.guild_ref)
    everything = fake.autocomplete_payload(subcommand="attach", focused="name", value="sess-")
    narrowed = fake.autocomplete_payload(subcommand="attach", focused="name", value="sess-1")
    await fake.push_interaction(everything)
    await fake.push_interaction(narrowed)
    all_choices = (await fake.wait_for_callback(everything)).json
    few_choices = (await fake.wait_for_callback(narrowed)).json
    assert all_choices["type"] == AUTOCOMPLETE_RESULT
    assert len(all_choices["data"]["choices"]) == 25
    assert [c["value"] for c in few_choices["data"]["choices"]] == SESSION_NAMES[10:20]


async def test_defer_then_followup_fills_thinking_message(
    fake: FakeDiscord, client: SelfTestClient
) -> None:
    """Type 5 creates a loading message; the first follow-up replaces it."""
    await client.tree.sync(guild=client.guild_ref)
    payload = fake.slash_command_payload(subcommand="attach", options={"name": "sess-01"})
    await fake.push_interaction(payload)
    assert (await fake.wait_for_callback(payload)).json["type"] == DEFERRED_MESSAGE
    followup = (await fake.wait_for("/webhooks/*/*", method="POST"))[0]
    assert followup.json["content"] == "attached sess-01"
    state = fake.interactions[int(payload["id"])]
    assert state.original_message_id is not None
    assert state.followup_ids == [state.original_message_id]
    original = fake.messages[state.original_message_id]
    assert original["content"] == "attached sess-01"
    assert not original["flags"] & LOADING


async def test_modal_round_trip(fake: FakeDiscord, client: SelfTestClient) -> None:
    """send_modal is a type-9 callback; the modal submit is answered ephemerally."""
    await client.tree.sync(guild=client.guild_ref)
    command = fake.slash_command_payload(subcommand="note")
    await fake.push_interaction(command)
    modal = (await fake.wait_for_callback(command)).json
    assert modal["type"] == MODAL
    submit = fake.modal_submit_payload(modal["data"]["custom_id"], {"note_text": "ship it"})
    await fake.push_interaction(submit)
    reply = (await fake.wait_for_callback(submit)).json
    assert reply["data"]["content"] == "noted: ship it"
    assert reply["data"]["flags"] == 64


async def test_rate_limited_post_is_retried_once(fake: FakeDiscord, client: SelfTestClient) -> None:
    """A 429 on a channel post is retried by discord.py and delivered exactly once."""
    channel_id = fake.guild.text_channel.id
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    fake.rate_limit_next(f"/channels/{channel_id}/messages", retry_after=0.2, method="POST")
    sent = await asyncio.wait_for(channel.send("hello"), TIMEOUT)
    attempts = fake.requests_matching(f"/channels/{channel_id}/messages", method="POST")
    assert [r.status for r in attempts] == [429, 200]
    assert [m["content"] for m in fake.channel_messages(channel_id)] == ["hello"]
    assert sent.id == int(fake.channel_messages(channel_id)[0]["id"])


async def test_fail_next_raises_forbidden(fake: FakeDiscord, client: SelfTestClient) -> None:
    """An injected 403/50001 surfaces as discord.Forbidden and stores nothing."""
    channel_id = fake.guild.text_channel.id
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    fake.fail_next("/channels/*/messages", 403, 50001, method="POST")
    with pytest.raises(discord.Forbidden) as err:
        await asyncio.wait_for(channel.send("nope"), TIMEOUT)
    assert err.value.code == 50001
    assert fake.channel_messages(channel_id) == []


async def test_edit_threads_and_dm(fake: FakeDiscord, client: SelfTestClient) -> None:
    """Message edit, thread from message, forum post and DM channel all round-trip."""
    channel = client.get_channel(fake.guild.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("summary")
    edited = await message.edit(content="summary v2")
    thread = await message.create_thread(name="session-1")
    forum = client.get_channel(fake.guild.forum_channel.id)  # type: ignore[union-attr]
    assert isinstance(forum, discord.ForumChannel)
    post = await forum.create_thread(name="session-2", content="opening post")
    dm = await client.create_dm(discord.Object(id=fake.guild.member.id))
    await dm.send("hi there")
    assert edited.content == "summary v2" and edited.edited_at is not None
    assert thread.id == message.id and thread.parent_id == channel.id
    assert post.message.content == "opening post" and post.thread.id == post.message.id
    assert [m["content"] for m in fake.channel_messages(dm.id)] == ["hi there"]


async def test_resume_after_reconnect(fake: FakeDiscord, client: SelfTestClient) -> None:
    """op 7 RECONNECT makes the client RESUME; interactions keep flowing."""
    await client.tree.sync(guild=client.guild_ref)
    await fake.request_reconnect()
    resume = (await fake.wait_for_gateway_op(6))[0]
    await fake.wait_until_connected()
    assert resume["d"]["session_id"] in fake._sessions
    reply = await _start_session(fake, "after-resume")
    assert reply["data"]["content"].startswith("started after-resume")


async def test_late_ack_is_unknown_interaction(fake: FakeDiscord, client: SelfTestClient) -> None:
    """Past the ack deadline (3 s by default, 0 here) the callback gets 404 / 10062."""
    await client.tree.sync(guild=client.guild_ref)
    fake.ack_deadline = 0.0
    payload = fake.slash_command_payload(subcommand="start", options={"title": "late"})
    await fake.push_interaction(payload)
    callback = await fake.wait_for_callback(payload)
    assert callback.status == 404
    assert fake.channel_messages(fake.guild.text_channel.id) == []


async def test_more_than_25_choices_is_rejected(fake: FakeDiscord, client: SelfTestClient) -> None:
    """Like Discord, the fake answers 400 / 50035 to an autocomplete with 30 choices."""
    payload = fake.autocomplete_payload(subcommand="attach", focused="name")
    interaction = discord.Interaction(data=payload, state=client._connection)  # type: ignore[arg-type]
    choices = [app_commands.Choice(name=n, value=n) for n in SESSION_NAMES[:30]]
    with pytest.raises(discord.HTTPException) as err:
        await asyncio.wait_for(interaction.response.autocomplete(choices), TIMEOUT)
    assert err.value.status == 400 and err.value.code == 50035
