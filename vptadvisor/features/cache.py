"""Per-image feature cache: one small safetensors file per (image file, extractor).

Key: the image's absolute path, size and mtime, inside a directory named by the extractor identity
(weights hash, preprocessing, taps). Entries also remember the image's header facts (size, mode,
conversions) and, for a bad file, why it was skipped — so a warm run opens no image at all.
Entries are written atomically (temp file + rename); a damaged entry reads as a miss and is recomputed.
No pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from vptadvisor.dataset.images import ImageInfo


@dataclass(frozen=True)
class FileKey:
    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> "FileKey":
        st = os.stat(path)
        return cls(str(Path(path).absolute()), st.st_size, st.st_mtime_ns)

    def digest(self) -> str:
        return hashlib.sha256(f"{self.path}\0{self.size}\0{self.mtime_ns}".encode()).hexdigest()


@dataclass
class CacheEntry:
    features: dict[str, np.ndarray]  # empty for a bad file
    info: ImageInfo | None
    bad_reason: str | None


class FeatureCache:
    def __init__(self, root: Path, extractor_key: str, expected_dims: dict[str, int]):
        self.dir = Path(root) / "features" / extractor_key
        self.expected_dims = dict(expected_dims)

    def _file(self, key: FileKey) -> Path:
        digest = key.digest()
        return self.dir / digest[:2] / f"{digest}.safetensors"

    def get(self, key: FileKey) -> CacheEntry | None:
        target = self._file(key)
        if not target.is_file():
            return None
        try:
            from safetensors import safe_open

            with safe_open(str(target), framework="np") as fh:
                meta = fh.metadata() or {}
            if json.loads(meta.get("key", "null")) != [key.path, key.size, key.mtime_ns]:
                return None  # a hash collision or a stale entry: recompute
            if meta.get("bad"):
                return CacheEntry({}, None, meta["bad"])
            arrays = load_file(str(target))
            for name, dim in self.expected_dims.items():
                arr = arrays.get(name)
                if arr is None or arr.shape != (dim,) or not np.isfinite(arr).all():
                    raise ValueError(f"bad {name}")
            fields = json.loads(meta["info"])
            info = ImageInfo(**{**fields, "conversions": tuple(fields["conversions"])})
            feats = {name: arrays[name].astype(np.float32, copy=False) for name in self.expected_dims}
            return CacheEntry(feats, info, None)
        except (OSError, ValueError, KeyError, TypeError, SafetensorError):
            try:
                target.unlink()  # damaged: drop it, the caller recomputes
            except OSError:
                pass
            return None

    def put(self, key: FileKey, features: dict[str, np.ndarray] | None, info: ImageInfo | None, bad_reason: str | None = None) -> None:
        target = self._file(key)
        meta = {"key": json.dumps([key.path, key.size, key.mtime_ns])}
        if bad_reason is not None:
            meta["bad"] = bad_reason
            arrays: dict[str, np.ndarray] = {}
        else:
            assert info is not None and features is not None
            meta["info"] = json.dumps({"width": info.width, "height": info.height, "mode": info.mode,
                                       "format": info.format, "conversions": list(info.conversions)})
            arrays = {name: np.ascontiguousarray(features[name], dtype=np.float32) for name in self.expected_dims}
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=target.parent)
            os.close(fd)
            try:
                save_file(arrays, tmp, metadata=meta)
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError:
            pass  # an unwritable cache costs recomputation next time, never the run
