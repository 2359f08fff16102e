"""Record ids: UUID7 strings (RFC 9562), time-ordered, unique."""

from __future__ import annotations

import uuid

import pytest

from core import models
from core.models import new_id


def test_an_id_is_a_version_7_uuid_carrying_its_millisecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(models, "_milliseconds", lambda: 1_796_000_000_123)
    made = new_id()
    parsed = uuid.UUID(made)
    assert str(parsed) == made  # canonical lowercase text, 36 characters
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == 1_796_000_000_123


def test_ids_made_later_sort_after_earlier_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    made = []
    for ms in range(1_796_000_000_000, 1_796_000_000_050):
        monkeypatch.setattr(models, "_milliseconds", lambda ms=ms: ms)
        made.append(new_id())
    assert made == sorted(made)


def test_ids_of_one_millisecond_differ_in_74_random_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "_milliseconds", lambda: 1_796_000_000_000)
    made = {new_id() for _ in range(10_000)}
    assert len(made) == 10_000
    first, varying = uuid.UUID(next(iter(made))).int, 0
    for value in (uuid.UUID(m).int for m in made):
        varying |= value ^ first
    assert bin(varying).count("1") == 74  # every random bit took both values; no other did
