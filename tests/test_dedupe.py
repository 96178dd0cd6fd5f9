"""Near-duplicates: the fingerprint is stable, and re-submitted, re-worded or many-people complaints join
one incident across sources and days, with the reason shown; unrelated ones do not."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np

from monitor.dedupe import minhash
from monitor.core.model import RawItem
from monitor.understanding.normalize import content_hash, normalize

COMPLAINT = ("我是万科魅力之城4期65栋的业主，楼盘开发商是诚楚置地有限公司。交房至今一年半，每个房间的楼板和墙面都出现"
             "开裂，最长的裂缝有4米多，开发商一直推诿不修，请政府督促开发商尽快维修。")
REWORDED = ("尊敬的领导：再次反映，万科魅力之城4期65栋楼板和墙面开裂的问题，交房一年半，每个房间都出现开裂，最长的裂缝有"
            "4米多，开发商诚楚置地有限公司一直推诿不修，希望有关部门督促尽快维修。谢谢！")
OTHER = "金碧街道永昌路的路灯已经坏了一个多月，晚上行人和电动车出行很不安全，希望尽快修复。"


def test_fingerprints_are_stable_and_separate_similar_from_unrelated():
    texts = [minhash.shingle_text(normalize("楼板开裂"), normalize(t)) for t in (COMPLAINT, REWORDED, OTHER)]
    keys = minhash.band_keys(minhash.signatures(texts))
    again = minhash.band_keys(minhash.signatures(list(reversed(texts))))[::-1]
    assert (keys == again).all()  # independent of batch composition, so stored keys stay valid
    g = [minhash.grams(t) for t in texts]
    assert minhash.jaccard(g[0], g[1]) >= minhash.THRESHOLD > minhash.jaccard(g[0], g[2])
    assert set(keys[0]) & set(keys[1]) and not set(keys[0]) & set(keys[2])


def test_traditional_and_full_width_text_hashes_like_simplified():
    assert content_hash("電梯故障", "Ａ區某小區電梯經常故障，困人多次。謝謝！") == content_hash("电梯故障", "A区某小区电梯经常故障,困人多次")
    assert normalize("尊敬的领导：您好！路灯坏了，望尽快处理！谢谢。") == "路灯坏了"


def test_fingerprints_are_the_same_in_another_process():
    code = ("from monitor.dedupe import minhash; import json, sys; "
            "print(json.dumps(minhash.band_keys(minhash.signatures([minhash.shingle_text('', sys.argv[1])])).tolist()))")
    outs = {subprocess.run([sys.executable, "-c", code, COMPLAINT], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}, cwd=Path(__file__).parents[1]).stdout
            for seed in ("1", "2")}
    assert len(outs) == 1 and json.loads(outs.pop())


async def test_near_duplicates_across_sources_and_days_join_one_incident(app, clock):
    now = clock.now()
    await app.pipeline.ingest([RawItem("hotline", "GD1", "楼板开裂", COMPLAINT, occurred_at=now, reporter="u1",
                                       likes=2)], "hotline")
    stats = await app.pipeline.ingest([
        RawItem("board", "B7", "再次反映万科魅力之城楼板开裂", REWORDED, occurred_at=now + timedelta(days=3),
                reporter="u2", likes=5),
        RawItem("board", "B8", "路灯不亮", OTHER, occurred_at=now, reporter="u3"),
    ], "board")
    assert (stats.inserted, stats.near_duplicates, stats.incidents) == (2, 1, 1)
    # the same matter months later is a new concern, not the old incident
    late = await app.pipeline.ingest([RawItem("push", "P1", "楼板开裂", REWORDED + "至今没修。",
                                              occurred_at=now + timedelta(days=90), reporter="u4")], "push")
    assert late.incidents == 1 and late.near_duplicates == 0
    async with app.store.read() as tx:
        incidents = {i.title: i for i in await tx.incidents.list()}
        first = incidents["楼板开裂"] if incidents["楼板开裂"].item_count == 2 else None
        assert first is not None
        members = await tx.items.for_incident(first.id)
    assert (first.item_count, first.reporter_count, first.likes) == (2, 2, 7)
    joined = next(m for m in members if m["external_id"] == "B7")
    assert "相似" in joined["group_reason"] and "hotline:GD1" in joined["group_reason"]


async def test_many_reporters_in_one_batch_form_one_incident(app, clock):
    variants = [COMPLAINT, REWORDED, COMPLAINT.replace("请政府", "恳请有关部门"), "业主反映：" + COMPLAINT[:60]]
    stats = await app.pipeline.ingest([RawItem("hotline", f"G{i}", "楼板开裂", t, occurred_at=clock.now(),
                                               reporter=f"u{i}") for i, t in enumerate(variants)], "hotline")
    assert stats.incidents == 1 and stats.inserted == 4
    async with app.store.read() as tx:
        [incident] = await tx.incidents.list()
    assert incident.item_count == 4 and incident.reporter_count == 4


async def test_changed_text_is_fingerprinted_again(app, clock):
    await app.pipeline.ingest([RawItem("hotline", "GD1", "路灯", OTHER, occurred_at=clock.now())], "hotline")
    # the same work order re-exported with the full complaint text: updated, and findable by its new text
    stats = await app.pipeline.ingest([RawItem("hotline", "GD1", "楼板开裂", COMPLAINT, occurred_at=clock.now())],
                                      "hotline")
    assert stats.updated == 1
    later = await app.pipeline.ingest([RawItem("board", "B1", "楼板开裂", REWORDED, occurred_at=clock.now())], "board")
    assert later.near_duplicates == 1 and later.incidents == 0


# MinHash of COMPLAINT (title 楼板开裂) as first stored (branch collectors): stored signatures and band keys
# must never change, however the computation is sped up.
GOLDEN_SIGNATURE = [372103503, 23975277, 19923156, 3742488, 7440350, 45505399, 218869656, 31316552, 110051689, 34545,
                    172324011, 28778266, 2273958, 7492583, 46519222, 54192987, 15651228, 36152729, 117275575,
                    76448069, 79744652, 73564957, 56643872, 4948548]
GOLDEN_KEYS = [1427766037875981900, 6506426718769182216, 5501932412566744284, 2454708231217309713,
               5199432261705898008, 222312995734863005, 5822827297679964505, 4856483672771262302,
               2259890780196450514, 1975024480418071899, 5612802656641499119, 934705883158885455]


def _reference_signature(text: str) -> list[int]:
    """MinHash written out plainly, one text at a time, in Python integers."""
    mask32, mask64 = 2**32 - 1, 2**64 - 1
    c = [ord(ch) for ch in text]
    grams = {(c[i] << 42) | (c[i + 1] << 21) | c[i + 2] for i in range(len(c) - 2)}
    hashed = []
    for g in grams:
        h = (g * int(minhash._MIX)) & mask64
        hashed.append((h ^ (h >> 32)) & mask32)
    out = []
    for a, b in zip(minhash._A.tolist(), minhash._B.tolist()):
        best = mask32
        for x in hashed:
            y = (a * x + b) & mask32
            best = min(best, y ^ (y >> 15))
        out.append(best)
    return out


def test_minhash_is_bit_identical_to_the_plain_definition_and_the_stored_values():
    import random

    rng = random.Random(5)
    alphabet = "楼板开裂路灯坏了一个多月请尽快修复业主反映小区电梯故障ABC123"
    texts = [minhash.shingle_text("楼板开裂", normalize(COMPLAINT))]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 420))) for _ in range(70)]
    texts = [minhash.shingle_text("", t) for t in texts] + ["abc", "\x01\x01\x01", "ab".ljust(3, "\x01")]
    sigs = minhash.signatures(texts)
    assert sigs.dtype == np.uint32 and sigs.shape == (len(texts), minhash.PERMUTATIONS)
    for text, sig in zip(texts, sigs.tolist()):
        assert sig == _reference_signature(text)
    assert sigs[0].tolist() == GOLDEN_SIGNATURE
    assert minhash.band_keys(sigs[:1])[0].tolist() == GOLDEN_KEYS
    # any chunking of the batch gives the same rows
    assert (np.vstack([minhash.signatures(texts[i : i + 7]) for i in range(0, len(texts), 7)]) == sigs).all()


def test_batch_shingles_equal_shingle_text():
    import random

    rng = random.Random(11)
    # punctuation, NUL (no separator can be assumed), lone surrogates, astral and full-width characters
    alphabet = "楼板开裂ab1_ ，。！\x00\x01①Ａ\ud800\U0001F600𝟘٣\u3000"
    pairs = [("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))),
              "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 900)))) for _ in range(300)]
    pairs += [("", ""), ("a", ""), ("", "ab"), ("，", "。")]
    assert minhash.shingle_texts(pairs) == [minhash.shingle_text(t, b) for t, b in pairs]
    assert minhash.shingle_texts([]) == []


def test_grams_and_jaccard_are_exact_set_operations():
    import random

    rng = random.Random(9)
    alphabet = "楼板开裂路灯坏了业主反映ab1"
    texts = ["abc", "aaaa", "\x01\x01\x01"] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(3, 300)))
                                               for _ in range(60)]
    plain = [{t[i : i + 3] for i in range(len(t) - 2)} for t in texts]
    packed = [minhash.grams(t) for t in texts]
    for s, g in zip(plain, packed):
        assert len(g) == len(s) and (np.diff(g.astype(np.int64)) > 0).all()
    for i in range(0, len(texts) - 1):
        a, b = plain[i], plain[i + 1]
        assert minhash.jaccard(packed[i], packed[i + 1]) == len(a & b) / len(a | b)
    assert minhash.jaccard(packed[3], packed[3]) == 1.0 and minhash.jaccard(packed[0], packed[0][:0]) == 0.0


def test_earlier_sharing_matches_a_dict_of_key_lists():
    import random

    from monitor.pipeline import _earlier_sharing

    rng = random.Random(7)
    for _ in range(500):
        n, bands = rng.randint(1, 40), rng.randint(1, 5)
        keys = np.array([[rng.randint(0, 30) for _ in range(bands)] for _ in range(n)], dtype=np.int64)
        expected, seen = {}, {}
        for i, row in enumerate(keys.tolist()):
            if earlier := {j for k in row for j in seen.get(k, ())}:
                expected[i] = earlier
            for k in row:
                seen.setdefault(k, []).append(i)
        assert _earlier_sharing(keys) == expected
    assert _earlier_sharing(np.arange(24, dtype=np.int64).reshape(2, 12)) == {}
