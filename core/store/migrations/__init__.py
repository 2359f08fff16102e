"""Numbered, forward-only schema migrations, one folder per backend."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load(backend: str) -> list[Migration]:
    """Every migration of a backend (`sqlite`, `postgres`), in version order."""
    folder = resources.files(__name__).joinpath(backend)
    matches = ((entry, _NAME.fullmatch(entry.name)) for entry in folder.iterdir())
    found = sorted(
        (Migration(int(m[1]), m[2], entry.read_text("utf-8")) for entry, m in matches if m),
        key=lambda migration: migration.version,
    )
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(
                f"{backend} migrations skip from {expected - 1} to {migration.version}"
            )
    return found
