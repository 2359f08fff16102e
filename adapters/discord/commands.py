"""The `/session` app-command group, generated from the command registry (core/commands.py).

The registry's one description of each command drives the text parser, the help and these
options: a REF is a string with autocomplete, an INT an integer with its range, a USER a
Discord user, a WORD with choices a string with those choices, everything else a string.
Discord allows 25 subcommands per group, so `group="admin"` commands live in `/session admin`,
`group="members"` ones (share, transfer, unshare) in `/session members` and `group="agent"`
ones (requests, answer, context) in `/session agent`.
Option values become the grammar's Command through `core.grammar.build`, the same checks and
types as the text parser.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands

from adapters.discord.embeds import clip
from core.commands import COMMANDS, CommandSpec, Kind, Param
from core.grammar import Command, build

DESCRIPTION_MAX = 100
GROUP_DESCRIPTION = "Track work sessions: start, plan, approve, finish"
GROUP_DESCRIPTIONS = {
    "admin": "Workspace admin: scheduled summaries, settings and webhooks",
    "members": "Who is on a session: share it, hand it over, remove someone",
    "agent": "What agents ask and keep: requests to decide, answers, the session's context",
}

CommandHandler = Callable[[discord.Interaction, CommandSpec, dict[str, Any]], Awaitable[None]]
Completer = Callable[
    [discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]
]


@dataclass(frozen=True, slots=True)
class Completers:
    """The autocompletes: session refs, command names (help), questions to answer (answer)."""

    ref: Completer
    names: Completer
    questions: Completer


_RANGE: Any = app_commands.Range  # subscripted with runtime bounds below


def python_name(name: str) -> str:
    """The callback parameter for an option (`in` is a Python keyword: `in_`)."""
    return f"{name}_" if keyword.iskeyword(name) else name


def _annotation(param: Param) -> Any:
    if param.kind is Kind.INT:
        return _RANGE[int, param.minimum, param.maximum]
    if param.kind is Kind.USER:
        return discord.User
    return str


def _signature(spec: CommandSpec) -> inspect.Signature:
    params = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for param in spec.params:
        params.append(
            inspect.Parameter(
                python_name(param.name),
                inspect.Parameter.KEYWORD_ONLY,
                annotation=_annotation(param),
                default=inspect.Parameter.empty if param.required else None,
            )
        )
    return inspect.Signature(params)


def _decorate(spec: CommandSpec, callback: Any, complete: Completers) -> None:
    """Descriptions, renames, choices and autocompletes, as discord.py's decorators set them."""
    params = {python_name(p.name): p for p in spec.params}
    app_commands.describe(**{k: clip(p.help, DESCRIPTION_MAX) for k, p in params.items()})(callback)
    renames = {k: p.name for k, p in params.items() if k != p.name}
    if renames:
        app_commands.rename(**renames)(callback)
    choices = {
        k: [app_commands.Choice(name=c, value=c) for c in p.choices]
        for k, p in params.items()
        if p.choices
    }
    if choices:
        app_commands.choices(**choices)(callback)
    completers = {k: complete.ref for k, p in params.items() if p.kind is Kind.REF}
    if spec.name == "help":
        completers["command"] = complete.names
    if spec.name == "answer":
        completers["request"] = complete.questions
    if completers:
        app_commands.autocomplete(**completers)(callback)


def subcommand(
    spec: CommandSpec, handler: CommandHandler, complete: Completers
) -> app_commands.Command[Any, ..., None]:
    """One subcommand whose typed options mirror `spec`'s parameters."""
    by_python_name = {python_name(p.name): p.name for p in spec.params}

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        given = {by_python_name[k]: v for k, v in values.items() if v is not None}
        await handler(interaction, spec, given)

    callback.__signature__ = _signature(spec)  # type: ignore[attr-defined]
    callback.__name__ = callback.__qualname__ = f"session_{spec.name}"
    _decorate(spec, callback, complete)
    return app_commands.Command(
        name=spec.name, description=clip(spec.summary, DESCRIPTION_MAX), callback=callback
    )


def session_group(handler: CommandHandler, complete: Completers) -> app_commands.Group:
    """`/session` with every registry command (a group's ones one level down)."""
    root = app_commands.Group(name="session", description=GROUP_DESCRIPTION, guild_only=True)
    groups: dict[str | None, app_commands.Group] = {None: root}
    for spec in COMMANDS.values():
        parent = groups.get(spec.group)
        if parent is None:
            parent = groups[spec.group] = app_commands.Group(
                name=str(spec.group), description=GROUP_DESCRIPTIONS[str(spec.group)]
            )
            root.add_command(parent)
        parent.add_command(subcommand(spec, handler, complete))
    return root


def option_text(value: object) -> str:
    """A Discord option value as the grammar writes it (`<@id>` for users)."""
    if isinstance(value, discord.abc.Snowflake) and not isinstance(value, (str, int)):
        return f"<@{value.id}>"
    return str(value)


def command_from_options(name: str, values: Mapping[str, object]) -> Command:
    """The Command the grammar builds from these option values (keyed by parameter name)."""
    spec = COMMANDS[name]
    ref: str | None = None
    options: dict[str, str] = {}
    words: list[str] = []
    for param in spec.params:
        if values.get(param.name) is None:
            continue
        text = option_text(values[param.name])
        if param.kind is Kind.REF and not param.key:
            ref = text
        elif param.key:
            options[param.key] = text
        else:
            words.append(text)
    return build(name, ref=ref, options=options, words=words)
