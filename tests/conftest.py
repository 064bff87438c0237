"""Shared fixtures: the real data in ../shared, an isolated cache, and generated image corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DTD = SHARED / "datasets" / "dtd-10"
IMAGENET = SHARED / "datasets" / "imagenet-sample-1000"
VIT_S_WEIGHTS = SHARED / "weights" / "vit_small_patch14_dinov2.imgfocus.f16.safetensors"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Every test run gets its own cache and torch hub directory, never the user's."""
    cache = tmp_path_factory.mktemp("vptadvisor-cache")
    torch_home = tmp_path_factory.mktemp("torch-home")
    old = {k: os.environ.get(k) for k in ("VPTADVISOR_CACHE_DIR", "TORCH_HOME", "VPTADVISOR_OFFLINE")}
    os.environ["VPTADVISOR_CACHE_DIR"] = str(cache)
    os.environ["TORCH_HOME"] = str(torch_home)
    os.environ["VPTADVISOR_OFFLINE"] = "1"  # tests never touch the network
    yield cache
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_shared() -> Path:
    """../shared (the real images and weights, read-only): a test without it is skipped with the reason,
    except in CI (CI=true), where the data is required and its absence fails the test."""
    if not SHARED.is_dir():
        reason = f"needs the real data in ../shared ({SHARED}), which is not beside this clone"
        if in_ci():
            pytest.fail(f"CI=true: {reason}; CI must provide it.")
        pytest.skip(reason)
    return SHARED


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared, or a skip (a failure when CI=true): see require_shared."""
    return require_shared()


def dtd_subset(target: Path, per_class: int, classes: int = 10) -> Path:
    """Copy a few real DTD images per class (never touch ../shared)."""
    import shutil

    require_shared()
    for class_dir in sorted(p for p in DTD.iterdir() if p.is_dir())[:classes]:
        (target / class_dir.name).mkdir(parents=True, exist_ok=True)
        for src in sorted(class_dir.iterdir())[:per_class]:
            shutil.copy2(src, target / class_dir.name / src.name)
    return target


@pytest.fixture(scope="session")
def small_dtd(tmp_path_factory, shared) -> Path:
    """60 real DTD images (6 per class, mixed sizes)."""
    return dtd_subset(tmp_path_factory.mktemp("dtd-small"), per_class=6)
