"""Who is using a database file: an advisory lock on `<file>.lock` next to it.

Every process that opens the database (the bot, the console, a CLI command) holds a *shared*
`flock` for as long as it is open; `db restore` needs the *exclusive* lock, so it is refused
while anything runs on the file and, while it runs, nothing can open the file. The kernel drops
the lock when a process exits, however it exits (SIGKILL included), so a crash never leaves a
stale lock behind — unlike a pid file. Where `fcntl` is missing (Windows) the lock is a no-op.
"""

from __future__ import annotations

import contextlib
import os

from core.errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def lock_path(db_path: str) -> str:
    return f"{db_path}.lock"


class DatabaseLock:
    """A shared (users) or exclusive (restore) advisory lock on one database file."""

    def __init__(self, db_path: str) -> None:
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def share(self) -> None:
        """Take the shared lock; refused while a restore holds the file."""
        if not self._take(exclusive=False):
            raise StoreError(
                f"The database {self.path[: -len('.lock')]} is being restored; try again after."
            )

    def try_exclusive(self) -> bool:
        """Take the exclusive lock if nothing else has the database open."""
        return self._take(exclusive=True)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def _take(self, *, exclusive: bool) -> bool:
        if fcntl is None:
            return True
        self.release()
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            self.release()
