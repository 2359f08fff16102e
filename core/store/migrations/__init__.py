"""Numbered, forward-only schema migrations, one folder per backend."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True, order=True)
class Migration:
    version: int
    name: str
    sql: str


def load(backend: str) -> list[Migration]:
    """Every migration of a backend (`sqlite`, `postgres`), in version order."""
    found = sorted(
        Migration(int(parts[1]), parts[2], entry.read_text("utf-8"))
        for entry in resources.files(__name__).joinpath(backend).iterdir()
        if (parts := _NAME.fullmatch(entry.name))
    )
    for expected, m in enumerate(found, start=1):
        if m.version != expected:
            raise RuntimeError(f"{backend} migrations skip from {expected - 1} to {m.version}")
    return found
