"""Feature cache: one SQLite database per extractor identity (stdlib, WAL, no pickle).

    <cache>/features/<extractor key>.sqlite3   (+ its -wal / -shm while in use)

One row per image file, keyed by the file's absolute path *as bytes* (so names that are not valid
UTF-8 work), holding its size and mtime (a changed file is a miss and is recomputed alone), the
features of every output concatenated as float32 with a BLAKE2 checksum, the image's header facts
(size, mode, conversions) and, for a bad file, why it was skipped: a warm run opens no image.

- Atomic: each batch is one transaction; a killed run loses at most its last batch.
- Concurrency: WAL lets readers run beside a writer; writers wait on each other (busy timeout).
- Corruption: a row whose checksum or shape is wrong reads as a miss and is rewritten; a database
  that is not one is moved aside (``.corrupt-<time>``) and started afresh; an unwritable cache
  costs recomputation next time, never the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vptadvisor.dataset.images import ImageInfo

SCHEMA_VERSION = 1
_BUSY_MS = 60_000
_CHUNK = 500  # SQLite's bound-parameter limit is 999 on old builds


@dataclass(frozen=True)
class FileKey:
    path: bytes  # absolute path, as the file system's bytes
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike) -> FileKey:
        st = os.stat(path)
        return cls(os.fsencode(os.path.abspath(path)), st.st_size, st.st_mtime_ns)


@dataclass
class CacheEntry:
    features: dict[str, np.ndarray]  # empty for a bad file
    info: ImageInfo | None
    bad_reason: str | None


def _checksum(blob: bytes) -> bytes:
    return hashlib.blake2b(blob, digest_size=8).digest()


class FeatureCache:
    def __init__(self, root: Path, extractor_key: str, expected_dims: dict[str, int]):
        self.path = Path(root) / "features" / f"{extractor_key}.sqlite3"
        self.dims = dict(expected_dims)
        self.width = sum(self.dims.values())
        self._db: sqlite3.Connection | None = None
        self._disabled = False

    # -- connection ----------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._disabled:
            return self._db
        for attempt in range(2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(
                    str(self.path), timeout=_BUSY_MS / 1000, isolation_level=None, check_same_thread=False
                )
                db.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS entries (path BLOB PRIMARY KEY, size INTEGER, "
                    "mtime_ns INTEGER, bad TEXT, info TEXT, features BLOB, checksum BLOB)"
                )
                row = db.execute("SELECT v FROM meta WHERE k='schema'").fetchone()
                if row is None:
                    db.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('dims', ?)",
                        (str(SCHEMA_VERSION), json.dumps(self.dims)),
                    )
                elif row[0] != str(SCHEMA_VERSION):
                    raise sqlite3.DatabaseError("another cache schema")
                self._db = db
                return db
            except sqlite3.OperationalError:
                break  # read-only or locked beyond the timeout: run without the cache
            except (sqlite3.DatabaseError, ValueError):
                if attempt == 0 and self._move_aside():
                    continue
                break
            except OSError:
                break
        self._disabled = True
        return None

    def _move_aside(self) -> bool:
        """A file that is not a cache database: keep it for inspection, start afresh."""
        try:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}"))
            for suffix in ("-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reads ---------------------------------------------------------------------------------
    def get_many(self, keys: Sequence[FileKey]) -> dict[int, CacheEntry]:
        """Entries for the keys found (index into `keys` -> entry); stale or damaged ones are misses."""
        db = self._connect()
        if db is None or not keys:
            return {}
        rows: dict[bytes, tuple] = {}
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = [k.path for k in keys[start : start + _CHUNK]]
                marks = ",".join("?" * len(chunk))
                for row in db.execute(
                    f"SELECT path, size, mtime_ns, bad, info, features, checksum FROM entries WHERE path IN ({marks})",
                    chunk,
                ):
                    rows[bytes(row[0])] = row
        except sqlite3.DatabaseError:
            self._disabled, self._db = True, None
            return {}
        out: dict[int, CacheEntry] = {}
        for i, key in enumerate(keys):
            row = rows.get(key.path)
            if row is None or row[1] != key.size or row[2] != key.mtime_ns:
                continue
            entry = self._decode(row)
            if entry is not None:
                out[i] = entry
        return out

    def get(self, key: FileKey) -> CacheEntry | None:
        return self.get_many([key]).get(0)

    def _decode(self, row: tuple) -> CacheEntry | None:
        _, _, _, bad, info, blob, checksum = row
        if bad is not None:
            return CacheEntry({}, None, str(bad))
        try:
            blob = bytes(blob)
            if len(blob) != 4 * self.width or bytes(checksum) != _checksum(blob):
                return None
            flat = np.frombuffer(blob, dtype="<f4")
            if not np.isfinite(flat).all():
                return None
            fields = json.loads(info)
            image = ImageInfo(**{**fields, "conversions": tuple(fields["conversions"])})
        except (TypeError, ValueError, KeyError):
            return None
        feats, at = {}, 0
        for name, dim in self.dims.items():
            feats[name] = flat[at : at + dim]
            at += dim
        return CacheEntry(feats, image, None)

    # -- writes --------------------------------------------------------------------------------
    def put_many(
        self, items: Iterable[tuple[FileKey, dict[str, np.ndarray] | None, ImageInfo | None, str | None]]
    ) -> None:
        """(key, features, info, bad_reason) rows in one transaction."""
        db = self._connect()
        if db is None:
            return
        rows: list[tuple] = []
        for key, features, info, bad in items:
            if bad is not None:
                rows.append((key.path, key.size, key.mtime_ns, bad, None, None, None))
                continue
            assert features is not None and info is not None
            blob = np.concatenate([np.asarray(features[n], dtype="<f4").ravel() for n in self.dims]).tobytes()
            meta = json.dumps(
                {
                    "width": info.width,
                    "height": info.height,
                    "mode": info.mode,
                    "format": info.format,
                    "conversions": list(info.conversions),
                }
            )
            rows.append((key.path, key.size, key.mtime_ns, None, meta, blob, _checksum(blob)))
        if not rows:
            return
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        except sqlite3.DatabaseError:  # disk full, read-only, damaged: the run goes on without writing
            try:
                db.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass

    def put(
        self,
        key: FileKey,
        features: dict[str, np.ndarray] | None,
        info: ImageInfo | None,
        bad_reason: str | None = None,
    ) -> None:
        self.put_many([(key, features, info, bad_reason)])

    def count(self) -> int:
        db = self._connect()
        return 0 if db is None else int(db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
