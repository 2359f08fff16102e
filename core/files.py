"""Private files: everything sessionbot writes is 0600, every folder it creates 0700.

Modes are given when a file or folder is created (`os.open(…, 0o600)`, `os.mkdir(…, 0o700)`),
so no other user can open it in between. A umask can only take bits away: one that removes
the owner's own bits is corrected at once with `fchmod`/`chmod`, and since group and others
never had any bit there is no window. A folder that already exists is left as it is (it may be
the working directory or a shared mount); the files written into it are 0600 whatever it is.

`write_private(path)` is the one way to write a whole file: a fresh 0600 temporary file beside
the target, flushed to disk, renamed over the target, and the folder synced so the rename
survives a crash. A failure leaves any earlier file at `path` untouched and no temporary file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(folder: Path) -> None:
    """Create `folder` and any missing parent with mode 0700; existing ones are not changed."""
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        try:
            os.mkdir(created, FOLDER_MODE)
        except FileExistsError:
            continue  # another process made it first (with the same mode)
        if stat.S_IMODE(os.stat(created).st_mode) != FOLDER_MODE:
            os.chmod(created, FOLDER_MODE)  # a umask took owner bits; others never had any


def create_private_file(path: Path) -> None:
    """Create `path` (and its folders) 0600 if missing; an existing file is made 0600."""
    private_folder(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
    try:
        _own(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def write_private(path: Path) -> Iterator[Path]:
    """Yield a fresh 0600 temporary path to fill; on success it atomically becomes `path`.

    After the block the temporary file is fsynced, renamed over `path` and the folder is
    fsynced: when this returns, the file is on disk under its name. On an exception the
    temporary file is removed and `path` is left as it was.
    """
    private_folder(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    try:
        _own(fd)
    finally:
        os.close(fd)
    try:
        yield temp
        _sync_file(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename or a deletion in `folder` durable (a no-op where folders can't be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _own(fd: int) -> None:
    if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
        os.fchmod(fd, FILE_MODE)


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
