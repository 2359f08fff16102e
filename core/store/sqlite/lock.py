"""Who is using a database file: an advisory lock on `<file>.lock` next to it.

Every process that opens the database (the bot, the console, a CLI command) holds a *shared*
`flock` for as long as it is open; `db restore` needs the *exclusive* lock, so it is refused
while anything runs on the file and, while it runs, nothing can open the file. The kernel drops
the lock when a process exits, however it exits (SIGKILL included), so a crash never leaves a
stale lock behind — unlike a pid file. Where `fcntl` is missing (Windows) the lock is a no-op.

Migrations take a second, *exclusive* lock on `<file>.migrate.lock` around check-and-apply, so
processes opening one new file at once take turns: the first applies them, the others wait and
then find them applied (the PostgreSQL store does the same with an advisory lock). Both lock
files are created 0600.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from core.errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


MIGRATION_WAIT_SECONDS = 120.0


@contextlib.contextmanager
def migrating(db_path: str, *, wait: float = MIGRATION_WAIT_SECONDS) -> Iterator[None]:
    """Hold the exclusive migration lock of a database file, waiting up to `wait` seconds."""
    lock = DatabaseLock(f"{db_path}.migrate")  # on `<file>.migrate.lock`
    deadline, pause = time.monotonic() + wait, 0.01
    while not lock.try_exclusive():
        if time.monotonic() >= deadline:
            raise StoreError(f"Another process has been migrating {db_path} for over {wait:.0f} s.")
        time.sleep(pause)  # on the writer thread, while the store opens
        pause = min(pause * 2, 0.2)
    try:
        yield
    finally:
        lock.release()


class DatabaseLock:
    """A shared (users) or exclusive (restore, migrations) advisory lock on `<db_path>.lock`."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self.path = f"{db_path}.lock"
        self._fd: int | None = None

    def share(self) -> None:
        """Take the shared lock; refused while a restore holds the file."""
        if not self._take(exclusive=False):
            raise StoreError(f"The database {self.db_path} is being restored; try again after.")

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
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
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
