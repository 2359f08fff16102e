"""The explicit handler tables: every described command is handled, nothing else is, and no
command is claimed by two modules."""

from __future__ import annotations

import pytest

from core import request_commands
from core.commands import COMMANDS
from core.handlers import joined
from core.history import handlers as history_handlers
from core.jobs import handlers as jobs_handlers
from core.runner import HANDLERS


def test_every_described_command_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == set(COMMANDS)


def test_the_feature_tables_are_part_of_the_runner_table() -> None:
    for table in (history_handlers.HANDLERS, jobs_handlers.HANDLERS, request_commands.HANDLERS):
        assert all(HANDLERS[name] is handler for name, handler in table.items())


def test_a_command_claimed_by_two_tables_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\['note'\]"):
        joined(history_handlers.HANDLERS, {"note": history_handlers.HANDLERS["note"]})
