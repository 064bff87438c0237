"""Where the shipped data and the user's cache live."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "VPTADVISOR_CACHE_DIR"


def data_dir() -> Path:
    """The shipped `data/` directory: inside the wheel, or the source checkout's top level."""
    packaged = Path(__file__).resolve().parent / "_data"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parent.parent / "data"
    if source.is_dir():
        return source
    raise FileNotFoundError("vptadvisor's data directory is missing: reinstall the package")


def cache_dir() -> Path:
    """User cache directory: $VPTADVISOR_CACHE_DIR, else $XDG_CACHE_HOME/vptadvisor, else ~/.cache/vptadvisor."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "vptadvisor"
