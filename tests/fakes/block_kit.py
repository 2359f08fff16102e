"""Block Kit limits as Slack's Web API enforces them (the fake answers `invalid_blocks`).

From Slack's Block Kit reference: 50 blocks in a message or modal, 100 in a Home tab; section
text 3,000 characters and at most 10 fields of 2,000; header text 150; button text 75, value
2,000, action_id and block_id 255; at most 25 elements in an actions block and 10 in a
context block; every block_id unique within one message or view.
"""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS = 50
HOME_BLOCKS = 100
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ID_LENGTH = 255
ACTIONS_ELEMENTS = 25
CONTEXT_ELEMENTS = 10


def problems(blocks: Any, *, limit: int = MESSAGE_BLOCKS) -> list[str]:
    """What breaks a limit in `blocks` (empty: Slack would take them)."""
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        return ["blocks is not a list"]
    found = [f"{len(blocks)} blocks (at most {limit})"] if len(blocks) > limit else []
    ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(ids) != len(set(ids)):
        found.append("duplicate block_id")
    for n, block in enumerate(blocks):
        found += [f"block {n}: {p}" for p in _block(block)]
    return found


def _block(block: Any) -> list[str]:
    if not isinstance(block, dict) or "type" not in block:
        return ["not a block"]
    found = _longer("block_id", block.get("block_id"), ID_LENGTH)
    kind = block["type"]
    if kind == "section":
        found += _longer("text", _text(block.get("text")), SECTION_TEXT)
        fields = block.get("fields") or []
        if len(fields) > SECTION_FIELDS:
            found.append(f"{len(fields)} fields")
        for field in fields:
            found += _longer("field", _text(field), FIELD_TEXT)
    elif kind == "header":
        found += _longer("header", _text(block.get("text")), HEADER_TEXT)
    elif kind == "actions":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= ACTIONS_ELEMENTS:
            found.append(f"{len(elements)} actions elements")
        for element in elements:
            found += _element(element)
    elif kind == "context":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= CONTEXT_ELEMENTS:
            found.append(f"{len(elements)} context elements")
    return found


def _element(element: Any) -> list[str]:
    if not isinstance(element, dict):
        return ["not an element"]
    found = _longer("action_id", element.get("action_id"), ID_LENGTH)
    if element.get("type") == "button":
        found += _longer("button text", _text(element.get("text")), BUTTON_TEXT)
        found += _longer("button value", element.get("value"), BUTTON_VALUE)
    return found


def _text(obj: Any) -> str | None:
    return obj.get("text") if isinstance(obj, dict) else None


def _longer(what: str, value: Any, limit: int) -> list[str]:
    if isinstance(value, str) and len(value) > limit:
        return [f"{what} of {len(value)} characters (at most {limit})"]
    return []
