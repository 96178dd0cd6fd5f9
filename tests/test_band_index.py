"""The in-memory near-duplicate band index: same candidates as the item_bands table it replaced, rolled back
with a failed batch, and kept up to date with what other processes store."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.dedupe import minhash
from monitor.core.model import RawItem
from tests.test_dedupe import COMPLAINT, OTHER, REWORDED


def _reference(stored: dict[int, np.ndarray], query: np.ndarray, per_key: int, limit: int) -> list[int]:
    """What the item_bands query (newest `per_key` items per key) and the old top-candidates rule chose, in
    rank order (most bands shared, then newest)."""
    shared: dict[int, int] = {}
    for band, key in enumerate(query.tolist()):
        having = sorted((i for i, keys in stored.items() if int(keys[band]) == key), reverse=True)[:per_key]
        for i in having:
            shared[i] = shared.get(i, 0) + 1
    return sorted(shared, key=lambda i: (-shared[i], -i))[:limit]


def test_candidates_match_the_table_query_across_sealed_blocks():
    rng = np.random.default_rng(7)
    index = minhash.BandIndex()
    index.BLOCK = 37  # many small blocks: hits from several blocks must merge as one ranking
    # few distinct keys, so that keys are shared by many items and the per-key and per-item caps matter
    keys = rng.integers(0, 9, size=(300, minhash.BANDS)).astype(np.int64) * 1_000_003
    ids = np.arange(1, 301) * 3
    for start in range(0, 300, 50):
        index.add(ids[start : start + 50], keys[start : start + 50], _sigs(keys[start : start + 50]))
    stored = dict(zip(ids.tolist(), keys))
    queries = np.vstack([keys[:20], rng.integers(0, 9, size=(20, minhash.BANDS)) * 1_000_003])
    for query, got in zip(queries, index.candidates(queries)):
        assert len(got) == len(set(got))
        assert got == _reference(stored, query, index.PER_KEY, minhash.MAX_CANDIDATES)


def test_unknown_keys_and_empty_index_give_no_candidates():
    index = minhash.BandIndex()
    query = np.arange(minhash.BANDS, dtype=np.int64)[None, :]
    assert index.candidates(query) == [[]]
    index.add([5], query + 1, _sigs(query + 1))
    assert index.candidates(query) == [[]] and index.candidates(query + 1) == [[5]]


def test_rollback_forgets_a_batch_even_across_a_sealed_block():
    index = minhash.BandIndex()
    index.BLOCK = 4
    keys = np.arange(10 * minhash.BANDS, dtype=np.int64).reshape(10, minhash.BANDS)
    index.add([1, 2, 3], keys[:3], _sigs(keys[:3]))
    index.seen_id = 3
    before = index.candidates(keys)
    index.begin()
    index.add([4, 5, 6, 7], keys[3:7], _sigs(keys[3:7]))  # fills and seals a block mid-batch
    index.seen_id = 7
    assert index.candidates(keys[5:6]) == [[6]]
    index.rollback()
    assert index.candidates(keys) == before and index.seen_id == 3
    index.begin()
    index.add([4], keys[3:4], _sigs(keys[3:4]))
    index.commit()
    index.rollback()  # nothing to undo after a commit
    assert index.candidates(keys[3:4]) == [[4]]


def test_re_adding_an_item_does_not_count_its_bands_twice():
    index = minhash.BandIndex()
    keys = np.arange(2 * minhash.BANDS, dtype=np.int64).reshape(2, minhash.BANDS)
    index.add([1, 2], keys, _sigs(keys))
    index.add([1], keys[:1], _sigs(keys[:1]))
    both = keys[0].copy()
    both[:6] = keys[1][:6]  # shares 6 bands with item 2 and 6 with item 1: newest first on a tie
    assert index.candidates(both[None, :]) == [[2, 1]]


async def test_failed_batch_leaves_the_index_as_the_store(app, clock):
    async def fail(tx, now):
        raise RuntimeError("cursor save failed")

    with pytest.raises(RuntimeError):
        await app.pipeline.ingest([RawItem("hotline", "GD1", "楼板开裂", COMPLAINT, occurred_at=clock.now())],
                                  "hotline", in_tx=fail)
    assert len(app.pipeline.bands.candidates(_keys(COMPLAINT))[0]) == 0
    # the record was not stored: a near-duplicate of it starts a new incident, then one joins that
    first = await app.pipeline.ingest([RawItem("board", "B1", "楼板开裂", REWORDED, occurred_at=clock.now())], "board")
    assert (first.incidents, first.near_duplicates) == (1, 0)
    again = await app.pipeline.ingest([RawItem("hotline", "GD1", "楼板开裂", COMPLAINT, occurred_at=clock.now())],
                                      "hotline")
    assert (again.incidents, again.near_duplicates) == (0, 1)


async def test_another_process_sees_new_items_and_changed_text(app, clock, settings, db_url):
    from monitor.app import build

    other = await build(settings, db_url, clock)
    try:
        await other.pipeline.ingest([RawItem("hotline", "GD1", "楼板开裂", COMPLAINT, occurred_at=clock.now()),
                                     RawItem("hotline", "GD2", "路灯", OTHER, occurred_at=clock.now())], "hotline")
        # this process's index was built before (first ingest), and must catch up with the other's items
        await app.pipeline.ingest([RawItem("feed", "F0", "无关", "今天天气很好适合出门散步锻炼身体",
                                            occurred_at=clock.now())], "feed")
        near = await app.pipeline.ingest([RawItem("board", "B1", "楼板开裂", REWORDED, occurred_at=clock.now())],
                                         "board")
        assert near.near_duplicates == 1 and near.incidents == 0
        # the other process re-imports GD2 with new text: this one finds it by that text
        await other.pipeline.ingest([RawItem("hotline", "GD2", "楼板开裂", COMPLAINT.replace("4米", "5米"),
                                             occurred_at=clock.now())], "hotline")
        await app.pipeline.ingest([RawItem("feed", "F1", "无关", "明天下雨记得带伞出门注意安全", occurred_at=clock.now())],
                                  "feed")
        gd2 = await _item_id(app, "GD2")
        assert gd2 in app.pipeline.bands.candidates(_keys(COMPLAINT.replace("4米", "5米")))[0]
    finally:
        await other.close()


async def test_an_index_behind_a_pruned_change_log_rebuilds(app, clock, settings, db_url, monkeypatch):
    """minhash_changes keeps the last CHANGES_KEPT records: a process further behind reads everything again
    instead of missing a changed text."""
    from monitor.app import build

    monkeypatch.setattr(minhash, "CHANGES_KEPT", 1)
    other = await build(settings, db_url, clock)
    try:
        await other.pipeline.ingest([RawItem("hotline", "GD2", "路灯", OTHER, occurred_at=clock.now()),
                                     RawItem("hotline", "GD3", "噪音", "楼下烧烤店每天营业到凌晨三点噪音扰民",
                                             occurred_at=clock.now())], "hotline")
        await app.pipeline.ingest([RawItem("feed", "F0", "无关", "今天天气很好适合出门散步锻炼身体",
                                            occurred_at=clock.now())], "feed")  # this index knows GD2's old text
        changed = COMPLAINT.replace("4米", "5米")
        await other.pipeline.ingest([RawItem("hotline", "GD2", "楼板开裂", changed, occurred_at=clock.now())],
                                    "hotline")
        await other.pipeline.ingest([RawItem("hotline", "GD3", "噪音", "楼下酒吧每天营业到凌晨两点音响扰民",
                                             occurred_at=clock.now())], "hotline")
        async with app.store.read() as tx:
            assert await tx.items.minhash_change_bounds() == (2, 2)  # GD2's change was pruned
        await app.pipeline.ingest([RawItem("feed", "F1", "无关", "明天下雨记得带伞出门注意安全", occurred_at=clock.now())],
                                  "feed")
        assert await _item_id(app, "GD2") in app.pipeline.bands.candidates(_keys(changed))[0]
        assert app.pipeline.bands.seen_change == 2
    finally:
        await other.close()


def _sigs(keys: np.ndarray) -> np.ndarray:
    """Signatures to go with made-up keys (their content does not matter to these tests)."""
    return np.zeros((len(keys), minhash.PERMUTATIONS), dtype=np.uint32)


def _keys(body: str, title: str = "楼板开裂") -> np.ndarray:
    from monitor.understanding.normalize import normalize

    return minhash.band_keys(minhash.signatures([minhash.shingle_text(normalize(title), normalize(body))]))


async def _item_id(app, external_id: str) -> int:
    async with app.store.read() as tx:
        [row] = [r for r in (await tx.items.by_external_ids("hotline", [external_id])).values()]
    return row["id"]


def test_signature_bytes_never_drop_a_candidate_the_full_estimate_keeps():
    rng = np.random.default_rng(3)
    index = minhash.BandIndex()
    index.FP_CHUNK = 64  # several chunks
    stored = rng.integers(0, 2**32, size=(400, minhash.PERMUTATIONS), dtype=np.uint64).astype(np.uint32)
    stored[:, :3] = 7  # some bytes agree by chance as well
    ids = np.arange(1, 401) * 2
    index.add(ids, minhash.band_keys(stored), stored)
    queries = stored[rng.integers(0, 400, size=50)].copy()
    for row in queries:  # near copies: a random number of values changed
        changed = rng.choice(minhash.PERMUTATIONS, size=rng.integers(0, 24), replace=False)
        row[changed] = rng.integers(0, 2**32, size=len(changed), dtype=np.uint64).astype(np.uint32)
    everything = [ids.tolist()] * len(queries)
    kept = index.may_pass_estimate(queries, everything)
    by_id = dict(zip(ids.tolist(), stored))
    for query, row in zip(queries, kept):
        passing = [i for i in ids.tolist() if minhash.estimate(query, by_id[i]) >= minhash.ESTIMATE_MIN]
        assert set(passing) <= set(row)
    assert sum(map(len, kept)) < len(queries) * 40  # and most of the rest are dropped


def test_rollback_restores_the_signature_bytes_of_a_changed_text():
    index = minhash.BandIndex()
    old = np.full((1, minhash.PERMUTATIONS), 5, dtype=np.uint32)
    new = np.full((1, minhash.PERMUTATIONS), 6, dtype=np.uint32)
    index.add([9], minhash.band_keys(old), old)
    index.begin()
    index.add([9], minhash.band_keys(new), new)
    assert index.may_pass_estimate(old, [[9]]) == [[]]
    index.rollback()
    assert index.may_pass_estimate(old, [[9]]) == [[9]] and index.candidates(minhash.band_keys(new)) == [[]]


async def test_downgrade_rebuilds_item_bands_from_the_signatures(app, clock):
    from sqlalchemy import text

    from monitor.store.db import migrate

    await app.pipeline.ingest([RawItem("hotline", "GD1", "楼板开裂", COMPLAINT, occurred_at=clock.now()),
                               RawItem("hotline", "GD2", "路灯", OTHER, occurred_at=clock.now())], "hotline")
    gd1 = await _item_id(app, "GD1")  # read with today's schema, before going back to 0004's
    try:
        assert await migrate(app.store.engine, "0004_collectors", action="downgrade") == "0004_collectors"
        async with app.store.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT key, item_id FROM item_bands"))).all()
        assert {k for k, i in rows if i == gd1} == set(_keys(COMPLAINT)[0].tolist())
        assert len({i for _, i in rows}) == 2
    finally:
        await migrate(app.store.engine)


async def test_concurrent_ingests_in_one_process_keep_the_index_equal_to_the_store(app, clock):
    import asyncio

    inside = asyncio.Event()

    async def slow_fail(tx, now):
        inside.set()
        await asyncio.sleep(0.3)  # the other ingest starts meanwhile
        raise RuntimeError("cursor save failed")

    failing = app.pipeline.ingest([RawItem("board", "B1", "楼板开裂", COMPLAINT, occurred_at=clock.now())], "board",
                                  in_tx=slow_fail)

    async def working():
        await inside.wait()  # starts while the failing batch is inside its transaction
        return await app.pipeline.ingest([RawItem("hotline", "GD2", "路灯", OTHER, occurred_at=clock.now())],
                                         "hotline")

    results = await asyncio.gather(failing, working(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1].inserted == 1
    assert app.pipeline.bands.candidates(_keys(COMPLAINT)) == [[]]
    assert app.pipeline.bands.candidates(_keys(OTHER, "路灯")) == [[await _item_id(app, "GD2")]]
