"""Child process for the migration race: waits at a barrier, then runs one `sessionbot` command.

Usage: python -m tests.store.barrier_cli <go-file> <sessionbot args…>. Every child imports
everything first and then polls for the go file, so all of them reach the new database file
within a millisecond or so of each other.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot.cli import main

if __name__ == "__main__":
    go = Path(sys.argv[1])
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    sys.exit(main(sys.argv[2:]))
