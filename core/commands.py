"""One description of every `/session` command (§4): drives the parser, help and Discord options."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.permissions import Perm


class Kind(StrEnum):
    """How a parameter is written and parsed."""

    REF = "ref"  # 42, #42 or a full id
    INT = "int"
    DURATION = "duration"  # 90s, 15m, 2h, 3d, 1w
    USER = "user"  # <@U123|name>, <@123>, @name or a bare id (core/users.py)
    WORD = "word"  # one of `choices`
    TEXT = "text"  # the rest of the words
    CLOCK = "clock"  # HH:MM


@dataclass(frozen=True, slots=True)
class Param:
    """One argument: positional when `key` is None, else written `key:value`."""

    name: str
    kind: Kind
    help: str
    required: bool = False
    key: str | None = None
    choices: tuple[str, ...] = ()
    minimum: int = 1
    maximum: int = 1_000_000
    rest: bool = False  # an option whose value runs to the end of the line


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A subcommand: its words, its meaning and who may run it."""

    name: str
    usage: str
    summary: str
    params: tuple[Param, ...] = ()
    perm: Perm = Perm.READ
    changes_state: bool = False
    has_ref: bool = False
    group: str | None = None  # Discord subcommand group (`admin`, `members`, `agent`), else flat
    examples: tuple[str, ...] = field(default_factory=tuple)
    details: str = ""  # more than the summary, for `/session help <command>`

    @property
    def options(self) -> dict[str, Param]:
        return {p.key: p for p in self.params if p.key}

    @property
    def positionals(self) -> list[Param]:
        return [p for p in self.params if not p.key and p.kind is not Kind.REF]


LIST_FILTERS = ("active", "paused", "pending", "done", "abandoned", "archived", "all")
ITEM_STATUSES = ("todo", "in_progress", "done", "blocked", "skipped")
SHARE_ROLES = ("editor", "approver", "viewer")
SUMMARY_MODES = ("now", "off", "daily", "weekdays", "weekly")
WEBHOOK_ACTIONS = ("add", "remove", "list")
REQUEST_FILTERS = ("pending", "all")

_REF = Param("ref", Kind.REF, "Session: 42, #42 or its id (default: your active session)")
# approve / reject: the rule telling the two apart is `target` in core/request_commands.py.
_TARGET = Param("ref", Kind.REF, "A session (42, #42 or its id), or a request's id")
_BY_REQUEST_ID = (
    "Given a request's full id (`/session requests` lists them) it decides that request; "
    "anything else (42, #42, a session's id, nothing) is a session, and decides its plan. "
    "A command shows no digest: it decides the request's arguments as they are when it runs."
)
_PAGE = Param("page", Kind.INT, "Page number", key="page", maximum=10_000)


def _spec(name: str, usage: str, summary: str, *params: Param, **kw: object) -> CommandSpec:
    has_ref = any(p.kind is Kind.REF and not p.key for p in params)
    return CommandSpec(name, usage, summary, params, has_ref=has_ref, **kw)  # type: ignore[arg-type]


COMMANDS: dict[str, CommandSpec] = {
    s.name: s
    for s in (
        _spec(
            "help",
            "/session help [command]",
            "Show every command, or one command in detail.",
            Param("command", Kind.WORD, "A command name"),
        ),
        _spec(
            "start",
            "/session start [title…] [mode:<mode>] [max:<n>]",
            "Start a new work session in this channel (no title: a form opens).",
            Param("title", Kind.TEXT, "What the session is about"),
            Param("mode", Kind.WORD, "A short label: developer, deploy, incident…", key="mode"),
            Param("max", Kind.INT, "Maximum iterations (default 100)", key="max"),
            perm=Perm.READ,
            changes_state=True,
            examples=("/session start Deploy v2.3 to prod mode:deploy",),
        ),
        _spec(
            "list",
            "/session list [active|paused|pending|done|abandoned|archived|all] [mine|@user] "
            "[mode:<m>] [page:<n>]",
            "List sessions in this workspace (default: open ones).",
            Param("filter", Kind.WORD, "Which statuses", choices=LIST_FILTERS),
            Param("owner", Kind.USER, "`mine` or a user: only their sessions"),
            Param("mode", Kind.WORD, "Only this mode", key="mode"),
            _PAGE,
        ),
        _spec("show", "/session show [ref]", "Show a session in detail.", _REF),
        _spec(
            "pause",
            "/session pause [ref] [reason…]",
            "Pause a session.",
            _REF,
            Param("reason", Kind.TEXT, "Why"),
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "resume",
            "/session resume [ref]",
            "Resume a paused or abandoned session and show its context.",
            _REF,
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "complete",
            "/session complete [ref] [summary…]",
            "Mark a session completed.",
            _REF,
            Param("summary", Kind.TEXT, "What was achieved"),
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "fail",
            "/session fail [ref] <reason…>",
            "Mark a session failed.",
            _REF,
            Param("reason", Kind.TEXT, "What went wrong", required=True),
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "cancel",
            "/session cancel [ref] [reason…]",
            "Cancel a session.",
            _REF,
            Param("reason", Kind.TEXT, "Why"),
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "plan",
            "/session plan [ref] [need:<n>] [expires:<duration>] <item>; <item>; …",
            "Post a plan with Approve / Reject buttons.",
            _REF,
            Param("need", Kind.INT, "Approvals needed (default 1)", key="need", maximum=20),
            Param("expires", Kind.DURATION, "Approval request expires after", key="expires"),
            Param("items", Kind.TEXT, "Plan items separated by `;`", required=True),
            perm=Perm.WORK,
            changes_state=True,
            examples=("/session plan need:2 Back up the DB; Run migrations; Flip traffic",),
        ),
        _spec(
            "approve",
            "/session approve [ref] | <request id> [confirm:<action>]",
            "Approve the pending plan, or an agent's request by its id.",
            _TARGET,
            Param("confirm", Kind.TEXT, "A high-risk request: its action's name", key="confirm"),
            perm=Perm.DECIDE,
            changes_state=True,
            details=_BY_REQUEST_ID,
        ),
        _spec(
            "reject",
            "/session reject [ref] [reason…] | <request id> <reason…>",
            "Reject the pending plan, or an agent's request by its id.",
            _TARGET,
            Param("reason", Kind.TEXT, "Why (an agent receives it)"),
            perm=Perm.DECIDE,
            changes_state=True,
            details=_BY_REQUEST_ID,
        ),
        _spec(
            "modify",
            "/session modify [ref] <item#> status:<todo|in_progress|done|blocked|skipped> "
            "| assign:<@user> | comment:<text…>",
            "Change a plan item's status or assignee, or comment on it.",
            _REF,
            Param("item", Kind.INT, "Item number", required=True, maximum=50),
            Param("status", Kind.WORD, "New status", key="status", choices=ITEM_STATUSES),
            Param("assign", Kind.USER, "New assignee", key="assign"),
            Param("comment", Kind.TEXT, "A comment", key="comment", rest=True),
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "note",
            "/session note [ref] <text…>",
            "Add a note to the session's history.",
            _REF,
            Param("text", Kind.TEXT, "The note", required=True),
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "history",
            "/session history [ref] [page:<n>]",
            "Show the session's conversation history, newest first.",
            _REF,
            _PAGE,
        ),
        _spec(
            "search",
            "/session search <query…> [in:<ref>]",
            'Search messages: words, "exact phrase", prefix*, AND/OR/NOT.',
            Param("query", Kind.TEXT, "What to find", required=True),
            Param("in", Kind.REF, "Only in this session", key="in"),
        ),
        _spec(
            "export",
            "/session export [ref] [json|md]",
            "Export a session as JSON or Markdown.",
            _REF,
            Param("format", Kind.WORD, "json or md (default md)", choices=("json", "md")),
        ),
        _spec(
            "context",
            "/session context [ref] [key=value …]",
            "Show the session's context, or merge keys into it (`key=null` deletes).",
            _REF,
            Param("pairs", Kind.TEXT, "key=value pairs; values are JSON when they parse"),
            perm=Perm.READ,
            group="agent",
        ),
        _spec(
            "requests",
            "/session requests [ref] [status:pending|all]",
            "Agents' requests you may decide, or one session's requests.",
            _REF,
            Param(
                "status",
                Kind.WORD,
                "pending (default) or all",
                key="status",
                choices=REQUEST_FILTERS,
            ),
            group="agent",
            details="Without a ref: the pending requests of this workspace you may decide or "
            "answer, oldest first. With one: that session's pending requests (`status:all`: all).",
        ),
        _spec(
            "answer",
            "/session answer <request id> <text…> | choice:<n>",
            "Answer an agent's question in words or by a choice's number.",
            Param("request", Kind.WORD, "The request's id (`requests` lists them)", required=True),
            Param("text", Kind.TEXT, "The answer in words"),
            Param("choice", Kind.INT, "The number of a choice", key="choice", maximum=10),
            perm=Perm.WORK,
            changes_state=True,
            group="agent",
            details="`/session requests` lists the questions waiting for you, with their ids.",
        ),
        _spec(
            "extend",
            "/session extend [ref] <duration>",
            "Push the abandon deadline; reopens a timed-out session.",
            _REF,
            Param("duration", Kind.DURATION, "How much longer, e.g. 2h", required=True),
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "fork",
            "/session fork [ref] [at:<message seq>]",
            "Start a new session from this one's history.",
            _REF,
            Param("at", Kind.INT, "Copy history up to this message", key="at"),
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "share",
            "/session share [ref] <@user> [editor|approver|viewer]",
            "Add someone to the session (default role: editor).",
            _REF,
            Param("user", Kind.USER, "Who", required=True),
            Param("role", Kind.WORD, "Their role", choices=SHARE_ROLES),
            perm=Perm.MANAGE,
            changes_state=True,
            group="members",
        ),
        _spec(
            "transfer",
            "/session transfer [ref] <@user>",
            "Hand the session over to someone; the old owner stays on as an editor.",
            _REF,
            Param("user", Kind.USER, "The new owner", required=True),
            perm=Perm.MANAGE,
            changes_state=True,
            group="members",
        ),
        _spec(
            "unshare",
            "/session unshare [ref] <@user>",
            "Remove someone from the session.",
            _REF,
            Param("user", Kind.USER, "Who", required=True),
            perm=Perm.MANAGE,
            changes_state=True,
            group="members",
        ),
        _spec(
            "remind",
            "/session remind [ref] <in <duration> | at <HH:MM>> [text…]",
            "Set a reminder for yourself about a session.",
            _REF,
            Param("in", Kind.DURATION, "Remind after this long", key="in"),
            Param("at", Kind.CLOCK, "Remind at this time of day", key="at"),
            Param("text", Kind.TEXT, "What to remind about"),
            perm=Perm.WORK,
            changes_state=True,
        ),
        _spec(
            "archive",
            "/session archive [ref]",
            "Archive a finished session.",
            _REF,
            perm=Perm.MANAGE,
            changes_state=True,
        ),
        _spec(
            "stats",
            "/session stats [days:<n>]",
            "Counts, success rate, durations, approval latency and agents' requests.",
            Param("days", Kind.INT, "Look back this many days (default 30)", key="days"),
        ),
        _spec(
            "summary",
            "/session summary [now | off | daily <HH:MM> | weekdays <HH:MM> | weekly <day> "
            "<HH:MM>] [tz:<Area/City>]",
            "Show this channel's summary schedule; admins post one now or schedule one.",
            Param("when", Kind.WORD, "now, off, daily, weekdays or weekly", choices=SUMMARY_MODES),
            Param("day", Kind.WORD, "Day of week for weekly", choices=()),
            Param("time", Kind.CLOCK, "Time of day"),
            Param("tz", Kind.WORD, "IANA timezone, e.g. Europe/Paris", key="tz"),
            group="admin",
            changes_state=True,
        ),
        _spec(
            "settings",
            "/session settings [<key> <value>]",
            "Show or change workspace settings (admins).",
            Param("key", Kind.WORD, "Setting name"),
            Param("value", Kind.TEXT, "New value"),
            group="admin",
            changes_state=True,
        ),
        _spec(
            "webhook",
            "/session webhook [add <url> [events…] | remove <id> | list]",
            "Manage webhook subscriptions (admins).",
            Param("action", Kind.WORD, "add, remove or list", choices=WEBHOOK_ACTIONS),
            Param("target", Kind.WORD, "The URL to add or the id to remove"),
            Param("events", Kind.TEXT, "Event types (default: all)"),
            group="admin",
            changes_state=True,
        ),
    )
}

# How often each command is typed, roughly (a static guess, higher = more often): when a
# mistyped word is equally close to two commands, the suggestion is the more common one.
USAGE_WEIGHT: dict[str, int] = {
    "start": 9, "show": 8, "list": 8, "plan": 7, "approve": 7, "help": 6, "complete": 6,
    "note": 5, "pause": 5, "resume": 5, "modify": 5, "reject": 4, "history": 4, "search": 4,
    "stats": 3, "cancel": 3, "fail": 3, "share": 3, "extend": 3, "remind": 3, "context": 2,
    "export": 2, "fork": 2, "archive": 2, "summary": 2, "settings": 1, "webhook": 1,
    "requests": 3, "answer": 3,
}  # fmt: skip
