"""Typed results of the Python API; `to_dict()` gives exactly the documented JSON."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

from vptadvisor.dataset.summary import DatasetSummary

ANALYZE_SCHEMA = "vptadvisor.analyze/1"


@dataclass
class DistanceResult:
    fid: float
    kid: float
    kid_std: float
    reference: str
    n_reference: int
    n_images: int  # dataset images the distance was measured on
    kid_subset_size: int
    kid_subsets: int
    preprocessing: str
    network: str
    weights_source: str
    note: str  # FID depends on sample size: which sizes were used


@dataclass
class Timing:
    seconds: float
    feature_seconds: float
    n_cached: int
    n_computed: int
    device: str


@dataclass
class AnalyzeResult:
    dataset: DatasetSummary
    distance: DistanceResult
    seed: int
    timing: Timing
    versions: dict[str, str] = field(default_factory=dict)
    objective: dict[str, Any] | None = None
    verdict: dict[str, Any] | None = None
    schema: str = ANALYZE_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": self.schema,
            "dataset": self.dataset.to_dict(),
            "distance": asdict(self.distance),
        }
        if self.objective is not None:
            out["objective"] = self.objective
        if self.verdict is not None:
            out["verdict"] = self.verdict
        out.update({"timing": asdict(self.timing), "versions": self.versions, "seed": self.seed})
        return out


def versions() -> dict[str, str]:
    """Versions of what produced the numbers, read without importing the heavy packages."""
    from vptadvisor import __version__

    found = {"vptadvisor": __version__, "python": platform.python_version()}
    for dist in ("torch", "torchvision", "pytorch-fid", "timm", "numpy", "scipy", "pillow"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found
