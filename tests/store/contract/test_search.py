"""`store.history.search` across a workspace: which matches are ranked when many match.

Workspace-wide, the `ranked` newest matches of the workspace are ranked, whatever way a backend
finds them (PostgreSQL walks the newest messages for a word common in the workspace and takes
every match from its index otherwise; core/store/search_tsvector.py). Each test compares a
small `ranked` with the order the store gives when every match is ranked, so it holds for
bm25 and ts_rank alike.
"""

from __future__ import annotations

from core.history.search import parse_query
from core.models import Session, new_id
from core.records.history import Message, MessageRole
from core.store import ops
from core.store.store import Store
from tests.conftest import OTHER_WS, WS
from tests.store.contract.records import NOW, new_session
from tests.store.contract.test_history import ABANDON_AFTER, TOUCH_AFTER

# Different lengths and counts of the word, so that each is ranked differently.
TEXTS = [
    "kestrel",
    "kestrel kestrel hills",
    "a kestrel over the hills",
    "kestrel kestrel kestrel",
    "a kestrel flies over the long grey hills of the north",
    "kestrel kestrel",
    "a kestrel flies over the long grey hills",
    "the kestrel hunts",
    "a kestrel flies over the long grey hills of the north today and tomorrow",
    "kestrel and hills",
]


def _allow(facts: ops.SessionFacts) -> None:
    pass


async def _add(store: Store, session: Session, text: str) -> str:
    """Append `text` to `session` (in its workspace); the message's id."""
    draft = Message(new_id(), "", 0, MessageRole.USER, "olga", text, NOW)
    added = await store.history.append(
        session.workspace, session.id, draft, _allow,
        touch_after=TOUCH_AFTER, abandon_after=ABANDON_AFTER,
    )  # fmt: skip
    return added.id


async def _ids(store: Store, text: str, workspace: str = WS, **page: int) -> list[str]:
    return [h.message_id for h in await store.history.search(workspace, parse_query(text), **page)]


async def test_a_dense_word_ranks_exactly_its_newest_matches_page_by_page(store: Store) -> None:
    session = await new_session(store)
    kept = [await _add(store, session, f"an old kestrel {n}") for n in range(40)]
    for n, text in enumerate(TEXTS):
        kept.append(await _add(store, session, text))
        if n % 4 == 0:
            await _add(store, session, "nothing to see")
    everything = await _ids(store, "kestrel", limit=60)  # fewer than 2,000: all ranked
    assert sorted(everything) == sorted(kept)
    store.history.ranked = 4

    def ranked_among(newest: int) -> list[str]:
        return [i for i in everything if i in kept[-newest:]]

    assert await _ids(store, "kestrel", limit=4) == ranked_among(4)
    assert await _ids(store, "kestrel", offset=1, limit=2) == ranked_among(4)[1:3]
    assert await _ids(store, "kestrel", offset=4, limit=4) == ranked_among(8)[4:8]
    assert await _ids(store, "kestrel", offset=6, limit=6) == ranked_among(12)[6:12]
    assert await _ids(store, "kestrel", offset=10, limit=5) == ranked_among(16)[10:15]


async def test_a_word_spread_thin_still_ranks_its_newest_matches(store: Store) -> None:
    session = await new_session(store)
    otters = [await _add(store, session, t.replace("kestrel", "otter")) for t in TEXTS[:4]]
    for n in range(45):  # newer messages without the word: too many to walk past
        await _add(store, session, f"nothing to see {n}")
        if n == 40:
            otters.append(await _add(store, session, "the last otter"))
    everything = await _ids(store, "otter", limit=10)
    store.history.ranked = 2
    assert await _ids(store, "otter", limit=2) == [i for i in everything if i in otters[-2:]]
    assert (
        await _ids(store, "otter", offset=2, limit=2)
        == [i for i in everything if i in otters[-4:]][2:4]
    )


async def test_matches_in_other_workspaces_neither_show_nor_take_a_place(store: Store) -> None:
    ours = await new_session(store)
    theirs = await new_session(store, workspace=OTHER_WS)
    mine = [await _add(store, ours, t.replace("kestrel", "heron")) for t in TEXTS[:2]]
    their = [await _add(store, theirs, t.replace("kestrel", "heron")) for t in TEXTS]
    store.history.ranked = 3  # common there (newer, and many), rare here
    assert sorted(await _ids(store, "heron", limit=3)) == sorted(mine)
    assert sorted(await _ids(store, "heron", OTHER_WS, limit=3)) == sorted(their[-3:])


async def test_a_deleted_match_takes_no_place_among_the_newest(store: Store) -> None:
    session = await new_session(store)
    kept = [await _add(store, session, text) for text in TEXTS[:4]]
    everything = await _ids(store, "kestrel", limit=10)
    await store.history.delete(session.id, 4, by="olga", at=NOW)  # the newest match
    store.history.ranked = 2
    assert await _ids(store, "kestrel", limit=2) == [i for i in everything if i in kept[1:3]]


async def test_a_rare_word_among_many_sessions_finds_its_one_message(store: Store) -> None:
    sessions = [await new_session(store, title=f"s{n}") for n in range(12)]
    others = [await new_session(store, workspace=OTHER_WS) for _ in range(4)]
    for n, session in enumerate([*sessions, *others]):
        await _add(store, session, f"status report {n}")
    await _add(store, others[0], "zebra crossing")
    wanted = await _add(store, sessions[7], "a zebra crossing")
    store.history.ranked = 3  # "status" is common here, "zebra" rare
    (hit,) = await store.history.search(WS, parse_query("zebra"), limit=10)
    assert (hit.message_id, hit.session_ref, hit.session_title) == (
        wanted, sessions[7].ref, "s7"
    )  # fmt: skip
    found = await store.history.search(WS, parse_query("status"), limit=3)
    assert {h.session_id for h in found} == {s.id for s in sessions[-3:]}, "the newest three"
