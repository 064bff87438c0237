"""The SQLite feature cache: few files, byte keys (non-UTF-8 names), per-file invalidation,
corruption tolerance, concurrent writers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vptadvisor.dataset.images import ImageInfo
from vptadvisor.features.cache import FeatureCache, FileKey

DIMS = {"pool3": 8, "tap": 4}
INFO = ImageInfo(10, 20, "RGB", "PNG", ("grayscale",))


def _feats(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(d).astype(np.float32) for name, d in DIMS.items()}


def _file(tmp_path: Path, name: str | bytes, content: bytes = b"x") -> Path:
    raw = os.fsencode(tmp_path) + b"/" + (name if isinstance(name, bytes) else name.encode())
    with open(raw, "wb") as fh:
        fh.write(content)
    return Path(os.fsdecode(raw))


def test_round_trip_and_thousands_of_entries_are_one_database(tmp_path):
    cache = FeatureCache(tmp_path / "cache", "k", DIMS)
    keys = [FileKey(f"/data/img{i}.jpg".encode(), i, 1000 + i) for i in range(3000)]
    cache.put_many([(k, _feats(i), INFO, None) for i, k in enumerate(keys)])
    cache.put(FileKey(b"/data/bad.jpg", 1, 1), None, None, "corrupt|broken header")
    got = cache.get_many(keys)
    assert len(got) == 3000
    for i in (0, 1234, 2999):
        for name in DIMS:
            np.testing.assert_array_equal(got[i].features[name], _feats(i)[name])
        assert got[i].info == INFO
    assert cache.get(FileKey(b"/data/bad.jpg", 1, 1)).bad_reason == "corrupt|broken header"
    cache.close()
    files = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert len(files) <= 3, files  # the database (+ its WAL and shared-memory files while open)


def test_non_utf8_file_names_are_keys_too(tmp_path):
    path = _file(tmp_path, b"caf\xe9-\xff.jpg")  # Latin-1 bytes: not valid UTF-8
    with pytest.raises(UnicodeEncodeError):
        str(path).encode()  # what broke the old cache key
    key = FileKey.of(path)
    assert key.path.endswith(b"caf\xe9-\xff.jpg")
    cache = FeatureCache(tmp_path / "cache", "k", DIMS)
    cache.put(key, _feats(1), INFO)
    assert cache.get(FileKey.of(path)) is not None


def test_a_changed_file_is_a_miss_and_others_stay(tmp_path):
    a, b = _file(tmp_path, "a.jpg", b"one"), _file(tmp_path, "b.jpg", b"two")
    cache = FeatureCache(tmp_path / "cache", "k", DIMS)
    cache.put_many([(FileKey.of(a), _feats(1), INFO, None), (FileKey.of(b), _feats(2), INFO, None)])
    a.write_bytes(b"changed!")
    os.utime(a, ns=(1, 2))
    got = cache.get_many([FileKey.of(a), FileKey.of(b)])
    assert list(got) == [1]


def test_damaged_rows_read_as_misses(tmp_path):
    cache = FeatureCache(tmp_path / "cache", "k", DIMS)
    keys = [FileKey(b"/a", 1, 1), FileKey(b"/b", 1, 1), FileKey(b"/c", 1, 1)]
    cache.put_many([(k, _feats(i), INFO, None) for i, k in enumerate(keys)])
    db = sqlite3.connect(str(cache.path))
    db.execute("UPDATE entries SET features = zeroblob(48) WHERE path = ?", (b"/a",))  # checksum no longer fits
    db.execute("UPDATE entries SET features = x'00' WHERE path = ?", (b"/b",))  # wrong length
    db.commit()
    db.close()
    assert list(cache.get_many(keys)) == [2]
    cache.put(keys[0], _feats(0), INFO)  # rewritten
    assert 0 in cache.get_many(keys)


def test_a_file_that_is_not_a_database_is_moved_aside(tmp_path):
    target = tmp_path / "cache" / "features" / "k.sqlite3"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"garbage " * 1000)
    cache = FeatureCache(tmp_path / "cache", "k", DIMS)
    assert cache.get(FileKey(b"/a", 1, 1)) is None
    cache.put(FileKey(b"/a", 1, 1), _feats(0), INFO)
    assert cache.get(FileKey(b"/a", 1, 1)) is not None
    assert any(p.name.startswith("k.sqlite3.corrupt-") for p in target.parent.iterdir())


def test_an_unwritable_cache_only_costs_recomputation(tmp_path):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        if os.access(root, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        cache = FeatureCache(root, "k", DIMS)
        cache.put(FileKey(b"/a", 1, 1), _feats(0), INFO)
        assert cache.get(FileKey(b"/a", 1, 1)) is None
    finally:
        root.chmod(0o700)


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    code = textwrap.dedent(f"""
        import sys, numpy as np
        from vptadvisor.dataset.images import ImageInfo
        from vptadvisor.features.cache import FeatureCache, FileKey
        who = int(sys.argv[1])
        cache = FeatureCache({str(tmp_path / "cache")!r}, "k", {DIMS!r})
        info = ImageInfo(1, 1, "RGB", "PNG", ())
        for batch in range(20):
            cache.put_many([(FileKey(f"/{{who}}/{{batch}}/{{i}}".encode(), 1, 1),
                             {{"pool3": np.full(8, who, np.float32), "tap": np.zeros(4, np.float32)}}, info, None)
                            for i in range(50)])
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w)]) for w in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    cache = FeatureCache(tmp_path / "cache", "k", DIMS)
    assert cache.count() == 2000


def test_extraction_with_a_non_utf8_name_uses_the_cache(tmp_path):
    """End to end through the extractor (issue: UnicodeEncodeError in the cache key, exit 1)."""
    from vptadvisor.features.extract import InceptionExtractor

    folder = tmp_path / "imgs"
    folder.mkdir()
    paths = []
    for i, name in enumerate([b"ok.png", b"na\xefve-\xfe.png"]):
        raw = os.fsencode(folder) + b"/" + name
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(raw, "PNG")
        paths.append(Path(os.fsdecode(raw)))
    from vptadvisor.paths import cache_dir

    def extractor():  # converted models come from the session's cache; features go to this test's
        return InceptionExtractor(
            batch_size=2, workers=0, cache_root=tmp_path / "cache", device="cpu", engine_dir=cache_dir()
        )

    first = extractor().extract(paths)
    assert first.n_computed == 2 and first.kept == [0, 1]
    again = extractor().extract(paths)
    assert again.n_cached == 2 and again.n_computed == 0
    np.testing.assert_array_equal(first.features["pool3"], again.features["pool3"])
