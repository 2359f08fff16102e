"""What a checked write sees of its session, read inside the write's transaction."""

from __future__ import annotations

from core.errors import NotFound
from core.store.codec import ref_key, when_required
from core.store.db import Row, Tx
from core.store.ops import SessionFacts

# The session's last event seq, read with its facts where no other writer can add one before
# the unit's insert: SQLite's single writer. On PostgreSQL the statement's snapshot predates the
# row lock it may wait for, so the seq is taken after the lock, by the insert (`writes._ADD_EVENT`).
_LAST_SEQ = "(SELECT MAX(seq) FROM events e WHERE e.session_id = s.id)"
# The columns of `SessionFacts`, in its order, of a session `s` and the actor's membership `m`.
COLUMNS = "s.id, s.ref, s.status, s.owner_id, s.last_activity_at, m.role"


async def session_facts(
    tx: Tx, workspace: str, ref: str, actor_id: str, *, last_seq: bool = False
) -> SessionFacts:
    """The session `ref` names (its row held until commit) and the actor's role in it; with
    `last_seq`, on SQLite, also the seq of its last event (0 when none)."""
    key = ref_key(ref)
    by = "ref" if isinstance(key, int) else "id"
    read_last = last_seq and not tx.dialect.row_locks
    row = await tx.fetchone(
        f"SELECT {COLUMNS}, {_LAST_SEQ if read_last else 'NULL'} FROM sessions s"
        " LEFT JOIN members m ON m.session_id = s.id AND m.user_id = ?"
        f" WHERE s.workspace = ? AND s.{by} = ?" + tx.dialect.lock_rows("s"),
        (actor_id, workspace, key),
    )
    if row is None:
        raise missing(ref)
    return facts_of(row, int(row[6] or 0) if read_last else None)


def facts_of(row: Row, last_seq: int | None = None) -> SessionFacts:
    """`SessionFacts` of a row whose first columns are `COLUMNS`."""
    return SessionFacts(row[0], row[1], row[2], row[3], when_required(row[4]), row[5], last_seq)


def missing(ref: str) -> NotFound:
    """The error of a `ref` that names no session of the workspace."""
    key = ref_key(ref)
    return NotFound("session", f"#{key}" if isinstance(key, int) else ref)
