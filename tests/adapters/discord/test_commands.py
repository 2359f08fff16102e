"""The `/session` options are generated from the registry and build what the text grammar parses."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord import app_commands

from adapters.discord.commands import Completers, command_from_options, session_group
from core.commands import COMMANDS, Kind
from core.errors import UsageError
from core.grammar import parse

BOB = discord.Object(id=111111111111111111)
REQUEST_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"

# Every registry command: the text a Slack or console user types, and the option values
# Discord hands the adapter for the same intent (ints for INT, a user object for USER).
CASES: list[tuple[str, dict[str, Any]]] = [
    ("help", {}),
    ("help pause", {"command": "pause"}),
    (
        "start Deploy v2 to prod mode:deploy max:5",
        {"title": "Deploy v2 to prod", "mode": "deploy", "max": 5},
    ),
    ("list", {}),
    (
        "list pending <@111111111111111111> mode:deploy page:2",
        {"filter": "pending", "owner": BOB, "mode": "deploy", "page": 2},
    ),
    ("show #4", {"ref": "#4"}),
    ("show", {}),
    ("pause 4 out for lunch", {"ref": "4", "reason": "out for lunch"}),
    ("resume #4", {"ref": "#4"}),
    ("complete all done", {"summary": "all done"}),
    ("fail 4 the disk is full", {"ref": "4", "reason": "the disk is full"}),
    ("cancel 4", {"ref": "4"}),
    (
        "plan 4 need:2 expires:2h Back up; Migrate; Flip",
        {"ref": "4", "need": 2, "expires": "2h", "items": "Back up; Migrate; Flip"},
    ),
    ("approve 4", {"ref": "4"}),
    (f"approve {REQUEST_ID} confirm:deploy", {"ref": REQUEST_ID, "confirm": "deploy"}),
    ("reject not now", {"reason": "not now"}),
    (f"reject {REQUEST_ID} wrong version", {"ref": REQUEST_ID, "reason": "wrong version"}),
    ("requests", {}),
    ("requests #4 status:all", {"ref": "#4", "status": "all"}),
    (f"answer {REQUEST_ID} eu, then us", {"request": REQUEST_ID, "text": "eu, then us"}),
    (f"answer {REQUEST_ID} choice:2", {"request": REQUEST_ID, "choice": 2}),
    ("modify 4 2 status:done", {"ref": "4", "item": 2, "status": "done"}),
    ("modify 3 assign:<@111111111111111111>", {"item": 3, "assign": BOB}),
    ("modify 4 1 comment:looks good to me", {"ref": "4", "item": 1, "comment": "looks good to me"}),
    ("note 4 hello world", {"ref": "4", "text": "hello world"}),
    ("history 4 page:3", {"ref": "4", "page": 3}),
    ("search deploy failed in:4", {"query": "deploy failed", "in": "4"}),
    ("export 4 json", {"ref": "4", "format": "json"}),
    ("context 4 a=1 b=x", {"ref": "4", "pairs": "a=1 b=x"}),
    ("context", {}),
    ("extend 4 2h", {"ref": "4", "duration": "2h"}),
    ("fork 4 at:3", {"ref": "4", "at": 3}),
    ("share 4 <@111111111111111111> approver", {"ref": "4", "user": BOB, "role": "approver"}),
    ("share <@111111111111111111>", {"user": BOB}),
    ("transfer 4 <@111111111111111111>", {"ref": "4", "user": BOB}),
    ("unshare <@111111111111111111>", {"user": BOB}),
    ("remind 4 in:2h check the rollout", {"ref": "4", "in": "2h", "text": "check the rollout"}),
    ("remind at:09:30 standup", {"at": "09:30", "text": "standup"}),
    ("archive 4", {"ref": "4"}),
    ("stats days:7", {"days": 7}),
    (
        "summary weekly mon 09:00 tz:Europe/Paris",
        {"when": "weekly", "day": "mon", "time": "09:00", "tz": "Europe/Paris"},
    ),
    ("summary off", {"when": "off"}),
    ("summary", {}),
    ("settings abandon_after 2h", {"key": "abandon_after", "value": "2h"}),
    ("settings", {}),
    (
        "webhook add https://hooks.example/x created completed",
        {"action": "add", "target": "https://hooks.example/x", "events": "created completed"},
    ),
    ("webhook remove 3f2a", {"action": "remove", "target": "3f2a"}),
    ("webhook list", {"action": "list"}),
]


def test_cases_cover_every_registry_command() -> None:
    assert {text.split()[0] for text, _ in CASES} == set(COMMANDS)


@pytest.mark.parametrize(("text", "values"), CASES, ids=[c[0] for c in CASES])
def test_options_build_the_command_the_text_grammar_parses(
    text: str, values: dict[str, Any]
) -> None:
    assert command_from_options(text.split()[0], values) == parse(text)


def test_option_text_is_never_reread_as_a_ref_or_an_option() -> None:
    note = command_from_options("note", {"text": "42 is the answer"})
    start = command_from_options("start", {"title": "Fix mode:x bug"})
    assert note.ref is None and note.args["text"] == "42 is the answer"
    assert start.args == {"title": "Fix mode:x bug"}


def test_a_ref_option_that_is_no_ref_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="is not a session ref"):
        command_from_options("pause", {"ref": "yesterday", "reason": "x"})


def _generated() -> dict[str, dict[str, Any]]:
    async def handler(*_: Any) -> None: ...

    async def complete(interaction: Any, current: str) -> list[app_commands.Choice[str]]:
        return []

    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents(guilds=True)))
    root = session_group(handler, Completers(complete, complete, complete)).to_dict(tree)
    found: dict[str, dict[str, Any]] = {}
    for option in root["options"]:
        children = option["options"] if option["type"] == 2 else [option]
        found |= {
            c["name"]: c | {"group": option["name"] if option["type"] == 2 else None}
            for c in children
        }
    return found


_TYPES = {Kind.INT: 4, Kind.USER: 6}


def test_every_registry_command_is_a_subcommand_with_typed_options() -> None:
    generated = _generated()
    assert set(generated) == set(COMMANDS)
    for name, spec in COMMANDS.items():
        command = generated[name]
        assert command["group"] == spec.group
        options = {o["name"]: o for o in command["options"]}
        assert set(options) == {p.name for p in spec.params}
        for param in spec.params:
            option = options[param.name]
            assert option["type"] == _TYPES.get(param.kind, 3), (name, param.name)
            assert option["required"] == param.required
            assert [c["value"] for c in option.get("choices", [])] == list(param.choices)
            assert option.get("autocomplete", False) == (
                param.kind is Kind.REF
                or (name, param.name) in {("help", "command"), ("answer", "request")}
            )
            if param.kind is Kind.INT:
                assert (option["min_value"], option["max_value"]) == (
                    param.minimum,
                    param.maximum,
                )


def test_the_group_fits_discord_limits() -> None:
    generated = _generated()
    top_level = {c["group"] or n for n, c in generated.items()}
    assert len(top_level) <= 25
    for group in {c["group"] for c in generated.values()} - {None}:
        assert len([c for c in generated.values() if c["group"] == group]) <= 25, group
    for name, command in generated.items():
        assert len(name) <= 32 and 1 <= len(command["description"]) <= 100
        assert len(command["options"]) <= 25
        assert all(len(o["description"]) <= 100 for o in command["options"])
