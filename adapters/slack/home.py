"""The Slack App Home: a neutral `HomeView` (core/home.py) as a Block Kit `home` view.

Slack allows 100 blocks in a Home; this one stays within 50 (each section of the Home is
bounded and says "and N more"), every text within its limit, every block_id unique.
"""

from __future__ import annotations

from typing import Any

from adapters.slack.blocks import MAX_BUTTONS, MAX_SECTION_TEXT, button, clip, mrkdwn
from core.cards import label, when
from core.durations import format_duration
from core.home import HomeView
from core.models import Session
from core.views import View

Block = dict[str, Any]
MAX_HOME_BLOCKS = 50
MAX_HEADER_TEXT = 150
BUTTONS_SHOWN = 5  # of one waiting item; the channel message has all of them


def home_view(home: HomeView) -> Block:
    """The `view` argument of views.publish for `home`."""
    blocks = [
        _header("Waiting for you"),
        *_waiting(home),
        {"type": "divider"},
        _header("Your open sessions"),
        *_open(home),
        {"type": "divider"},
        _header("Recently finished"),
        *_finished(home),
    ]
    assert len(blocks) <= MAX_HOME_BLOCKS, len(blocks)  # the bounds of core/home.py keep it
    return {"type": "home", "blocks": blocks}


def _waiting(home: HomeView) -> list[Block]:
    if not home.waiting:
        return [_context("Nothing waits for your decision.")]
    blocks: list[Block] = []
    for n, (_, view) in enumerate(home.waiting):
        blocks.append(_section(_item_text(view)))
        shown = view.buttons[: min(BUTTONS_SHOWN, MAX_BUTTONS)]
        if shown:
            elements = [button(b) for b in shown]
            blocks.append({"type": "actions", "block_id": f"waiting-{n}", "elements": elements})
    if home.waiting_more:
        blocks.append(_context(f"…and {home.waiting_more} more waiting for you."))
    return blocks


def _item_text(view: View) -> str:
    lines = [f"*{mrkdwn(view.title)}*"]
    lines += [f"{mrkdwn(f.label)}: {mrkdwn(f.value)}" for f in view.fields]
    lines += [mrkdwn(b) for b in view.blocks[:2]]
    return "\n".join(lines)


def _open(home: HomeView) -> list[Block]:
    if not home.open_sessions:
        return [_context("You have no open sessions.")]
    blocks = [_section(_session_line(s, home)) for s in home.open_sessions]
    if home.open_more:
        blocks.append(_context(f"…and {home.open_more} more open sessions."))
    return blocks


def _session_line(session: Session, home: HomeView) -> str:
    percent = round(session.progress * 100)
    idle = format_duration(home.now - session.last_activity_at)
    line = f"*{mrkdwn(label(session))}* · {session.status.value} · {percent} % · idle {idle}"
    if session.abandon_at is not None:
        line += f" · deadline {when(session.abandon_at)}"
    return line


def _finished(home: HomeView) -> list[Block]:
    if not home.finished:
        return [_context("No session ended lately.")]
    lines = [
        f"*{mrkdwn(label(s))}* · {s.outcome or s.status.value}"
        + (f" · {when(s.ended_at)}" if s.ended_at else "")
        for s in home.finished
    ]
    return [_section("\n".join(lines))]


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER_TEXT)}}


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
