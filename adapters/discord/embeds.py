"""Renders neutral views as Discord embeds, inside Discord's limits (truncate with "…", page).

Limits (Discord API): 2,000 chars of content (only a view's summary in words; the rest is in
embeds), title
256, description 4,096, 25 fields per embed, field name 256 and value 1,024, footer 2,048,
10 embeds and 6,000 chars in total per message. A long view is split over several embeds and
several messages ("pages"); a view that must stay one message (a plan edited in place) is cut.

Text is escaped for Discord markdown by `escape`, the one function every piece of text goes
through: formatting characters, `[` (masked links), `<` (mentions, role pings, channels,
timestamps), `>` (quotes) and headings at a line start get a backslash, and `@everyone`, `@here` and
raw ids get a zero-width space. Only the renderer's own `<@snowflake>` mentions and `**bold**`
survive; the client also sends `allowed_mentions` with nothing allowed, so nothing pings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord

from core.users import is_user_id
from core.views import Accent, View, unescape

CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBEDS_PER_MESSAGE = 10
MESSAGE_TOTAL_MAX = 6000
MAX_PAGES = 5
FOOTER_BUDGET = 300  # room kept in every embed for a footer
MORE = "… more not shown"

_COLOURS = {
    Accent.INFO: 0x5865F2,
    Accent.SUCCESS: 0x57F287,
    Accent.WARNING: 0xFEE75C,
    Accent.DANGER: 0xED4245,
}
_MENTION = re.compile(r"<@([A-Za-z0-9][A-Za-z0-9._:@-]{0,63})>")  # as core's mention() writes
_BOLD = re.compile(r"\*([^*\n]+)\*")
# What Discord would turn into a ping or a mention when it comes from user text.
_PING = re.compile(r"@(everyone|here|[!&]?[0-9]{15,21})")
# Characters that format, link, quote or mention anywhere; and constructs only at a line start.
_MARKDOWN = re.compile(r"[\\*_~|`\[\]<>]")
_LINE_START = re.compile(r"^(\s*)(#{1,3}\s|-#\s)", re.M)

Page = list[discord.Embed]


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Plain text as inert Discord markdown: no formatting, link, mention or ping survives."""
    text = _MARKDOWN.sub(lambda m: "\\" + m.group(0), text)
    text = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _PING.sub("@\u200b\\1", text)


def _segment(markup_text: str, *, bold: str) -> str:
    """Neutral text between mentions: entities decoded and escaped, `*b*` wrapped in `bold`."""
    parts: list[str] = []
    position = 0
    for match in _BOLD.finditer(markup_text):
        parts.append(escape(unescape(markup_text[position : match.start()])))
        parts.append(bold + escape(unescape(match.group(1))) + bold)
        position = match.end()
    parts.append(escape(unescape(markup_text[position:])))
    return "".join(parts)


def _render(text: str, *, bold: str, mentions: bool) -> str:
    parts: list[str] = []
    position = 0
    for match in _MENTION.finditer(text):
        parts.append(_segment(text[position : match.start()], bold=bold))
        user_id = match.group(1)
        if mentions and is_user_id(user_id, "discord"):
            parts.append(f"<@{user_id}>")
        else:
            parts.append("@" + escape(unescape(user_id)))
        position = match.end()
    parts.append(_segment(text[position:], bold=bold))
    return "".join(parts)


def markup(text: str) -> str:
    """Neutral markup → Discord markdown: `<@snowflake>` stays a mention, `*b*` is `**b**`."""
    return _render(text, bold="**", mentions=True)


def plain(text: str) -> str:
    """Markup for places where Discord renders no mentions or bold (titles, names, footers)."""
    return _render(text, bold="", mentions=False)


def _chunks(text: str, limit: int) -> list[str]:
    """Split at line ends into pieces of at most `limit` (a longer line is cut hard)."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        joined = f"{current}\n{line}" if current else line
        if len(joined) > limit:
            pieces.append(current)
            joined = line
        current = joined
    if current.strip():
        pieces.append(current)
    return pieces


@dataclass(slots=True)
class _Field:
    name: str
    value: str
    inline: bool

    @property
    def size(self) -> int:
        return len(self.name) + len(self.value)


def _title_and_lead(view: View) -> tuple[str | None, str | None]:
    """Embed titles render no mentions: such a title becomes the bold first line instead."""
    if _MENTION.search(view.title):
        return None, f"**{markup(view.title)}**"
    return clip(plain(view.title), TITLE_MAX), None


def embeds_of(view: View) -> list[discord.Embed]:
    """Every embed the view needs, each within the per-embed limits and the 6,000 total."""
    colour = _COLOURS.get(view.accent, _COLOURS[Accent.INFO])
    title, lead = _title_and_lead(view)
    text = "\n".join(part for part in [lead, *map(markup, view.blocks)] if part)
    chunks = _chunks(text, DESCRIPTION_MAX) or [""]
    embeds = [discord.Embed(title=title, description=chunks[0] or None, colour=colour)]
    embeds += [discord.Embed(description=chunk, colour=colour) for chunk in chunks[1:]]
    for item in _fields(view):
        last = embeds[-1]
        full = len(last.fields) >= FIELDS_MAX
        if full or len(last) + item.size > MESSAGE_TOTAL_MAX - FOOTER_BUDGET:
            last = discord.Embed(colour=colour)
            embeds.append(last)
        last.add_field(name=item.name, value=item.value, inline=item.inline)
    if view.footer:
        embeds[-1].set_footer(text=clip(plain(view.footer), FOOTER_BUDGET))
    return embeds


def _fields(view: View) -> list[_Field]:
    return [
        _Field(
            clip(plain(f.label), FIELD_NAME_MAX) or "—",
            clip(markup(f.value), FIELD_VALUE_MAX) or "—",
            f.inline,
        )
        for f in view.fields
    ]


def _pack(embeds: list[discord.Embed]) -> list[Page]:
    """Group embeds into messages of at most 10 embeds and 6,000 characters."""
    pages: list[Page] = [[]]
    size = 0
    for embed in embeds:
        page = pages[-1]
        if page and (len(page) >= EMBEDS_PER_MESSAGE or size + len(embed) > MESSAGE_TOTAL_MAX):
            pages.append([])
            size = 0
        pages[-1].append(embed)
        size += len(embed)
    return pages


def _mark_cut(page: Page) -> Page:
    """Say on the page's last embed that more was not shown, staying within the total."""
    while len(page) > 1 and sum(map(len, page)) + len(MORE) > MESSAGE_TOTAL_MAX:
        page.pop()
    last = page[-1]
    footer = f"{last.footer.text} · {MORE}" if last.footer.text else MORE
    last.set_footer(text=clip(footer, FOOTER_BUDGET))
    return page


def render(view: View, *, max_pages: int = MAX_PAGES) -> list[Page]:
    """The view as one or more messages' worth of embeds (at most `max_pages`)."""
    pages = _pack(embeds_of(view))
    if len(pages) > max_pages:
        pages = pages[:max_pages]
        pages[-1] = _mark_cut(pages[-1])
    return pages


def content_of(view: View) -> str | None:
    """The message content: the view's summary in words (what notifications and screen
    readers get first; the embed shows the glyphs), or none."""
    return clip(plain(view.summary), CONTENT_MAX) if view.summary else None


def render_one(view: View) -> Page:
    """The view as a single message (for messages edited in place)."""
    return render(view, max_pages=1)[0]


def page_problems(page: Page) -> list[str]:
    """Which Discord limits a page breaks (empty when it is valid): used by tests and logs."""
    problems: list[str] = []
    if len(page) > EMBEDS_PER_MESSAGE:
        problems.append(f"{len(page)} embeds")
    if sum(map(len, page)) > MESSAGE_TOTAL_MAX:
        problems.append(f"{sum(map(len, page))} characters in total")
    for embed in page:
        problems += _embed_problems(embed)
    return problems


def _embed_problems(embed: discord.Embed) -> list[str]:
    checks = [
        (len(embed.title or ""), TITLE_MAX, "title"),
        (len(embed.description or ""), DESCRIPTION_MAX, "description"),
        (len(embed.fields), FIELDS_MAX, "fields"),
        (len(embed.footer.text or ""), FOOTER_MAX, "footer"),
    ]
    checks += [(len(f.name or ""), FIELD_NAME_MAX, "field name") for f in embed.fields]
    checks += [(len(f.value or ""), FIELD_VALUE_MAX, "field value") for f in embed.fields]
    return [f"{what} {size} > {limit}" for size, limit, what in checks if size > limit]
