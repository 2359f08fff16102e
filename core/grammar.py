"""Turns `/session …` text into a typed Command, using only the registry in commands.py."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.commands import COMMANDS, USAGE_WEIGHT, CommandSpec, Kind, Param
from core.durations import parse_duration
from core.errors import UsageError
from core.typos import suggest
from core.users import parse_user
from core.views import escape

MAX_COMMAND_TEXT = 8000
MAX_TITLE = 200
MAX_ITEMS = 50
MAX_ITEM_TEXT = 300

_FULL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_REF = re.compile(rf"#?\d{{1,9}}|{_FULL_ID.pattern}", re.I)
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_OPTION = re.compile(r"([a-z]+):(.*)", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command: its name, an explicit ref if one was given, and typed arguments."""

    name: str
    ref: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> CommandSpec:
        return COMMANDS[self.name]


def _echo(text: str, limit: int = 40) -> str:
    """User text quoted back in an error: clipped and escaped, so it cannot mention or link."""
    return escape(text[:limit])


def normalize_ref(text: str) -> str:
    """`#42` → `42`; a full id is kept lower-case."""
    return text.lstrip("#").lower()


def is_ref(token: str) -> bool:
    return bool(_REF.fullmatch(token))


def parse(text: str) -> Command:
    """Parse the text after `/session` (a leading `/session` is accepted and dropped)."""
    if len(text) > MAX_COMMAND_TEXT:
        raise UsageError(f"That command is too long (over {MAX_COMMAND_TEXT} characters).")
    text = _CONTROL.sub(" ", text)
    tokens = text.split()
    if tokens and tokens[0].lower() == "/session":
        tokens = tokens[1:]
    if not tokens:
        return Command("help")
    name = tokens[0].lower()
    spec = COMMANDS.get(name)
    if spec is None:
        raise _unknown(name)
    return _Parser(spec, tokens[1:]).run()


def _unknown(name: str) -> UsageError:
    close = suggest(name, list(COMMANDS), weights=USAGE_WEIGHT)
    if close is None:
        return UsageError(
            f"There is no command `{_echo(name)}`; `/session help` lists every command."
        )
    return UsageError(f"There is no command `{_echo(name)}`.", suggestion=close)


class _Parser:
    """Parses one command's words against its spec."""

    def __init__(self, spec: CommandSpec, tokens: list[str]) -> None:
        self.spec = spec
        self.tokens = tokens
        self.args: dict[str, Any] = {}
        self.ref: str | None = None

    def fail(self, message: str) -> UsageError:
        return UsageError(message, usage=self.spec.usage)

    def run(self) -> Command:
        self._take_ref()
        rest = self._take_options()
        special = _SPECIAL.get(self.spec.name)
        if special:
            special(self, rest)
        else:
            self._take_positionals(rest)
        self._check_required()
        return Command(self.spec.name, self.ref, self.args)

    def _take_ref(self) -> None:
        if not self.spec.has_ref or not self.tokens or not is_ref(self.tokens[0]):
            return
        first = self.tokens[0]
        needs_int = any(p.kind is Kind.INT for p in self.spec.positionals)
        # `modify 2 status:done`: a lone number is the item, not the ref.
        lone = len(self.tokens) < 2 or not self.tokens[1].isdigit()
        if needs_int and not first.startswith("#") and lone:
            return
        self.ref = normalize_ref(first)
        self.tokens = self.tokens[1:]

    def _take_options(self) -> list[str]:
        options = self.spec.options
        rest: list[str] = []
        tokens = self.tokens
        for index, token in enumerate(tokens):
            match = _OPTION.fullmatch(token)
            param = options.get(match.group(1).lower()) if match else None
            if param is None or match is None:
                rest.append(token)
                continue
            if param.name in self.args:
                raise self.fail(f"`{param.key}:` is given twice.")
            value = match.group(2)
            if param.rest:
                value = " ".join([value, *tokens[index + 1 :]]).strip()
                self.args[param.name] = self._convert(param, value)
                break
            self.args[param.name] = self._convert(param, value)
        return rest

    def _take_positionals(self, words: list[str]) -> None:
        params = self.spec.positionals
        for param in params:
            if not words:
                break
            if param.kind is Kind.TEXT:
                self.args[param.name] = self._convert(param, " ".join(words))
                words = []
                break
            if param.kind is Kind.WORD and param.choices and words[0].lower() not in param.choices:
                if param.required:
                    raise self.fail(self._bad_choice(param, words[0]))
                continue
            if param.kind is Kind.USER and parse_user(words[0]) is None and words[0] != "mine":
                if param.required:
                    raise self.fail(f"`{_echo(words[0])}` is not a user; write @name.")
                continue
            self.args[param.name] = self._convert(param, words[0])
            words = words[1:]
        if words:
            raise self._unexpected(words)

    def _unexpected(self, words: list[str]) -> UsageError:
        choices = [c for p in self.spec.params for c in p.choices]
        return UsageError(
            f"Unexpected words: `{_echo(' '.join(words), 60)}`.",
            usage=self.spec.usage,
            suggestion=suggest(words[0], choices),
        )

    def _check_required(self) -> None:
        for param in self.spec.params:
            if param.required and param.name not in self.args:
                raise self.fail(f"Missing {param.name}: {param.help.lower()}.")

    def _bad_choice(self, param: Param, word: str) -> str:
        close = suggest(word, param.choices)
        hint = f" Did you mean `{close}`?" if close else ""
        return f"`{_echo(word)}` is not one of {', '.join(param.choices)}.{hint}"

    def _convert(self, param: Param, value: str) -> Any:
        converter = _CONVERTERS[param.kind]
        try:
            return converter(self, param, value)
        except ValueError as exc:
            raise self.fail(f"Bad {param.name}: {exc}") from None


def _as_int(parser: _Parser, param: Param, value: str) -> int:
    if not re.fullmatch(r"\d{1,9}", value):
        raise ValueError(f"`{_echo(value)}` is not a whole number")
    number = int(value)
    if not param.minimum <= number <= param.maximum:
        raise ValueError(f"must be between {param.minimum} and {param.maximum}")
    return number


def _as_word(parser: _Parser, param: Param, value: str) -> str:
    word = value.strip()
    if not word or len(word) > 64:
        raise ValueError("expected a short word")
    if param.choices and word.lower() not in param.choices:
        raise ValueError(parser._bad_choice(param, word))
    return word.lower() if param.choices else word


def _as_user(parser: _Parser, param: Param, value: str) -> str:
    if value == "mine":
        return "mine"
    user = parse_user(value)
    if user is None:
        raise ValueError(f"`{_echo(value)}` is not a user; write @name")
    return user


def _as_ref(parser: _Parser, param: Param, value: str) -> str:
    if not is_ref(value):
        raise ValueError(f"`{_echo(value)}` is not a session ref like 42 or #42")
    return normalize_ref(value)


def _as_text(parser: _Parser, param: Param, value: str) -> str:
    return value.strip()


def _as_duration(parser: _Parser, param: Param, value: str) -> Any:
    return parse_duration(value)


def _as_clock(parser: _Parser, param: Param, value: str) -> tuple[int, int]:
    match = _CLOCK.fullmatch(value)
    if not match:
        raise ValueError(f"`{_echo(value)}` is not a time like 09:30")
    return int(match.group(1)), int(match.group(2))


_CONVERTERS = {
    Kind.INT: _as_int,
    Kind.WORD: _as_word,
    Kind.USER: _as_user,
    Kind.REF: _as_ref,
    Kind.TEXT: _as_text,
    Kind.DURATION: _as_duration,
    Kind.CLOCK: _as_clock,
}


def _parse_start(p: _Parser, words: list[str]) -> None:
    p._take_positionals(words)
    title = p.args.get("title", "")
    if len(title) > MAX_TITLE:
        raise p.fail(f"The title is too long ({len(title)} characters; at most {MAX_TITLE}).")


def _parse_plan(p: _Parser, words: list[str]) -> None:
    items = [part.strip() for part in " ".join(words).split(";")]
    items = [item for item in items if item]
    if not items:
        raise p.fail("A plan needs at least one item; separate items with `;`.")
    if len(items) > MAX_ITEMS:
        raise p.fail(f"A plan can have at most {MAX_ITEMS} items.")
    for item in items:
        if len(item) > MAX_ITEM_TEXT:
            raise p.fail(f"A plan item is too long (at most {MAX_ITEM_TEXT} characters).")
    p.args["items"] = items


def _parse_modify(p: _Parser, words: list[str]) -> None:
    p._take_positionals(words)
    changes = [k for k in ("status", "assign", "comment") if k in p.args]
    if len(changes) != 1:
        raise p.fail("Give exactly one of status:, assign: or comment:.")
    if "comment" in p.args and not p.args["comment"]:
        raise p.fail("The comment is empty.")


def _parse_remind(p: _Parser, words: list[str]) -> None:
    # Accept the spaced forms `in 2h` and `at 09:30` as well as `in:2h` / `at:09:30`.
    if words and words[0].lower() in ("in", "at") and len(words) > 1:
        key = words[0].lower()
        param = p.spec.options[key]
        if key in p.args:
            raise p.fail(f"`{key}` is given twice.")
        p.args[key] = p._convert(param, words[1])
        words = words[2:]
    if ("in" in p.args) == ("at" in p.args):
        raise p.fail("Say when: `in <duration>` or `at <HH:MM>`.")
    if words:
        p.args["text"] = " ".join(words)


def _parse_share(p: _Parser, words: list[str]) -> None:
    if any(word.lower() == "owner" for word in words):
        raise p.fail("A session has one owner; hand it over with `/session transfer [ref] @name`.")
    p._take_positionals(words)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_summary(p: _Parser, words: list[str]) -> None:
    if not words:  # a bare `summary` shows the schedule
        return
    when = words[0].lower()
    if when not in ("now", "off", "daily", "weekdays", "weekly"):
        raise p.fail(p._bad_choice(p.spec.params[0], words[0]))
    p.args["when"] = when
    rest = words[1:]
    if when == "weekly":
        if not rest or rest[0].lower()[:3] not in _DAYS:
            raise p.fail("Say which day: mon, tue, wed, thu, fri, sat or sun.")
        p.args["day"] = rest[0].lower()[:3]
        rest = rest[1:]
    if when in ("daily", "weekdays", "weekly"):
        if len(rest) != 1:
            raise p.fail("Say the time of day, e.g. 09:00.")
        p.args["time"] = p._convert(p.spec.params[2], rest[0])
    elif rest:
        raise p.fail(f"Unexpected words: `{_echo(' '.join(rest), 60)}`.")


def _parse_settings(p: _Parser, words: list[str]) -> None:
    if not words:
        return
    if len(words) < 2:
        raise p.fail("Give a setting name and a value, or nothing to see them all.")
    p.args["key"] = words[0].lower()
    p.args["value"] = " ".join(words[1:])


def _parse_webhook(p: _Parser, words: list[str]) -> None:
    action = words[0].lower() if words else "list"
    p.args["action"] = action
    if action == "list":
        if words[1:]:
            raise p.fail("`webhook list` takes nothing more.")
    elif action == "add":
        if len(words) < 2 or not re.fullmatch(r"https?://\S+", words[1]):
            raise p.fail("Give the URL to post to, starting with https://.")
        p.args["target"] = words[1]
        p.args["events"] = [w.lower() for w in words[2:]]
    elif action == "remove":
        if len(words) != 2:
            raise p.fail("Give the id of the webhook to remove.")
        p.args["target"] = words[1]
    else:
        raise p.fail(p._bad_choice(p.spec.params[0], words[0]))


def _parse_context(p: _Parser, words: list[str]) -> None:
    pairs: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise p.fail(f"`{_echo(word)}` is not key=value.")
        pairs[key] = value
    if pairs:
        p.args["pairs"] = pairs


def _parse_requests(p: _Parser, words: list[str]) -> None:
    p._take_positionals(words)
    if p.args.get("status") == "all" and p.ref is None:
        raise p.fail("`status:all` lists one session's requests: give its ref.")


def _parse_answer(p: _Parser, words: list[str]) -> None:
    """`answer <request id> <text…>` or `answer <request id> choice:<n>`, never both."""
    if not words:
        raise p.fail("Give the request's id: `/session requests` lists them.")
    if not _FULL_ID.fullmatch(words[0]):
        what = "a session ref" if is_ref(words[0]) else "not a request's id"
        raise p.fail(
            f"`{_echo(words[0])}` is {what}; give the request's full id "
            "(`/session requests` lists them)."
        )
    p.args["request"] = words[0].lower()
    if words[1:]:
        p.args["text"] = " ".join(words[1:])
    if ("text" in p.args) == ("choice" in p.args):
        raise p.fail("Answer in words or with `choice:<n>`: one of the two.")


_SPECIAL = {
    "start": _parse_start,
    "plan": _parse_plan,
    "modify": _parse_modify,
    "remind": _parse_remind,
    "share": _parse_share,
    "summary": _parse_summary,
    "settings": _parse_settings,
    "webhook": _parse_webhook,
    "context": _parse_context,
    "requests": _parse_requests,
    "answer": _parse_answer,
}


def build(
    name: str,
    *,
    ref: str | None = None,
    options: dict[str, str] | None = None,
    words: list[str] | None = None,
) -> Command:
    """Build a Command from structured input (Discord options) with the checks of `parse`.

    `options` holds the `key:` options by key, `words` the positional text in spec order; an
    option's text never turns into a ref or an option, unlike the same words typed in a line.
    """
    spec = COMMANDS.get(name)
    if spec is None:
        raise _unknown(name)
    options, words = options or {}, words or []
    if sum(map(len, [ref or "", *options.values(), *words])) > MAX_COMMAND_TEXT:
        raise UsageError(f"That command is too long (over {MAX_COMMAND_TEXT} characters).")
    parser = _Parser(spec, [])
    if ref is not None:
        if not spec.has_ref:
            raise parser.fail(f"`/session {name}` takes no session ref.")
        if not is_ref(ref.strip()):
            raise parser.fail(f"`{_echo(ref)}` is not a session ref like 42 or #42.")
        parser.ref = normalize_ref(ref.strip())
    for key, value in options.items():
        param = spec.options.get(key)
        if param is None:
            raise parser.fail(f"Unknown option `{_echo(key, 20)}:`.")
        clean = " ".join(_CONTROL.sub(" ", value).split())
        parser.args[param.name] = parser._convert(param, clean)
    tokens = _CONTROL.sub(" ", " ".join(words)).split()
    special = _SPECIAL.get(spec.name)
    if special:
        special(parser, tokens)
    else:
        parser._take_positionals(tokens)
    parser._check_required()
    return Command(spec.name, parser.ref, parser.args)
