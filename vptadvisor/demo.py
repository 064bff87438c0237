"""The embedded demo dataset: a small counting task generated on first use into the cache."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from vptadvisor.paths import cache_dir
from vptadvisor.synthetic import write_counting_dataset

DEMO_NAME = "demo-counting-v1"


def demo_dataset(root: Path | None = None) -> Path:
    """Path of the demo dataset (4 classes: 1-4 objects, 30 images each), generated atomically once."""
    target = (root or cache_dir()) / "demo" / DEMO_NAME
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=target.parent))
    try:
        write_counting_dataset(tmp, per_class=30, seed=0)
        os.replace(tmp, target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
