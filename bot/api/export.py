"""The export route: a session as JSON (re-importable) or Markdown, streamed in chunks."""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from aiohttp import web

from bot.api.route import Call, Param, Route
from core.history.export import json_chunks, markdown_chunks

_FORMATS = {"json": ("application/json", "json"), "md": ("text/markdown", "md")}


async def export(call: Call) -> Any:
    """Stream the export; the first chunk is read before the headers go out, so a missing
    session is still a clean 404."""
    fmt = call.query.get("format", "json")
    history = call.api.history
    session = await history.find(call.actor, call.path["session"])
    make = json_chunks if fmt == "json" else markdown_chunks
    chunks = make(history, call.actor, session.id)
    media_type, ext = _FORMATS[fmt]
    async with contextlib.aclosing(chunks):
        first = await anext(chunks)
        response = web.StreamResponse()
        response.content_type = media_type
        response.charset = "utf-8"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="session-{session.ref}.{ext}"'
        )
        await response.prepare(call.request)
        await response.write(first.encode())
        async for chunk in chunks:
            await response.write(chunk.encode())
    await response.write_eof()
    return response


ROUTES = [
    Route(
        "GET",
        "/sessions/{session}/export",
        "exportSession",
        "Export a session as JSON (re-importable) or Markdown, streamed",
        "sessions",
        export,
        query=(Param("format", Literal["json", "md"], "`json` (default) or `md`."),),
        stream={
            "application/json": {"type": "object", "description": "The `sessionbot export` JSON."},
            "text/markdown": {"type": "string"},
        },
    )
]
