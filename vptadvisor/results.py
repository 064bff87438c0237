"""Typed results of the Python API; `to_dict()` gives exactly the documented JSON."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from typing import Any

from vptadvisor.dataset.summary import DatasetSummary

ANALYZE_SCHEMA = "vptadvisor.analyze/1"

# how a verdict's choice is written: short (gate lines, figures) and long (tables, reports)
CHOICE_NAME = {"vpt": "VPT", "ft": "FT", "uncertain": "too close to call"}
CHOICE_TEXT = {"vpt": "VPT", "ft": "FT (full fine-tuning)", "uncertain": "too close to call"}


def confirmation(confirms_rule: bool | None, choice: str, rule_choice: str | None) -> str:
    """How a pilot's combined verdict relates to the rule's call, e.g. "confirms the rule's VPT"."""
    call = f"the rule's {(rule_choice or '').upper()}"
    if confirms_rule is None:
        return "no rule prediction to confirm" if rule_choice is None else "the rule made no call"
    if confirms_rule:
        return f"confirms {call}"
    return f"leaves {call} too close to call" if choice == "uncertain" else f"overturns {call}"


class _JsonBlock:
    """A typed JSON object. `from_dict` keeps the source's key order and any key this version does not
    know (fields are only ever added within a schema version) in `extra`, so `to_dict()` gives back
    exactly the JSON it was made from."""

    extra: dict[str, Any]
    _keys: tuple[str, ...] | None

    @classmethod
    def _known(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in ("extra", "_keys")]  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = set(cls._known())
        block = cls(**{k: v for k, v in data.items() if k in known})  # type: ignore[call-arg]
        block.extra = {k: v for k, v in data.items() if k not in known}
        block._keys = tuple(data)
        return block

    def to_dict(self) -> dict[str, Any]:
        known = set(self._known())
        order = self._keys if self._keys is not None else tuple(self._known()) + tuple(self.extra)
        out: dict[str, Any] = {}
        for key in order:
            if key in known:
                out[key] = getattr(self, key)
            elif key in self.extra:
                out[key] = self.extra[key]
        for key, value in self.extra.items():  # added after from_dict
            out.setdefault(key, value)
        return out

    def __getitem__(self, key: str) -> Any:
        """Read access by key, for code written when these blocks were plain dicts."""
        data = self.to_dict()
        if key not in data:
            raise KeyError(key)
        return data[key]


@dataclass
class ObjectiveResult(_JsonBlock):
    """The `objective` block: how likely the task's objective is far from the pretraining one."""

    p_high_disparity: float | None = None  # P(high task-objective disparity)
    source: str | None = None  # "probe" | "declared" | "default"
    declared: str | None = None  # the --objective given, if any
    note: str | None = None  # the same in words: what the probe saw, or why the default was used
    probe: dict[str, Any] | None = None  # the probe's reading (signals, evidence), or {"error": why not}
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    _keys: tuple[str, ...] | None = field(default=None, repr=False, compare=False)


@dataclass
class VerdictResult(_JsonBlock):
    """The `verdict` block: the decision rule's answer and its evidence (see docs/rule.md)."""

    choice: str | None = None  # "vpt" | "ft" | "uncertain"
    p_vpt: float | None = None  # P(VPT beats FT)
    margin: float | None = None  # expected VPT - FT test accuracy, points
    margin_sd: float | None = None
    margin_interval: list[float] | None = None  # central `interval_level` predictive interval
    interval_level: float | None = None
    rule_choice: str | None = None  # the rule's call for its own backbone
    backbone_covered: bool | None = None
    nearest_tasks: list[dict[str, Any]] | None = None  # closest published rows
    contributions: dict[str, float] | None = None  # Shapley split of margin - reference_margin
    reference_margin: float | None = None
    rule_version: str | None = None
    advice: str | None = None
    notes: list[str] | None = None
    inputs: dict[str, Any] | None = None  # fid, fid_sd, p_high_disparity, n_train, backbone, ...
    reference: dict[str, Any] | None = None  # the reference task the contributions are relative to
    n_train_source: str | None = None  # "dataset" | "--train-size"
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    _keys: tuple[str, ...] | None = field(default=None, repr=False, compare=False)


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
    fid_matched: dict  # the FID on the study's 1,000-image scale: value, sd, n_images, n_standard, method
    note: str  # FID depends on sample size: which sizes were used
    engine: str = ""  # how the Inception ran: engine/device/precision, e.g. "openvino/cpu/exact"
    precision: str = "exact"  # exact (float32) or bf16


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
    objective: ObjectiveResult | None = None
    verdict: VerdictResult | None = None
    schema: str = ANALYZE_SCHEMA

    def __post_init__(self) -> None:  # analyze() may hand over the blocks as plain JSON dicts
        if isinstance(self.objective, dict):
            self.objective = ObjectiveResult.from_dict(self.objective)
        if isinstance(self.verdict, dict):
            self.verdict = VerdictResult.from_dict(self.verdict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": self.schema,
            "dataset": self.dataset.to_dict(),
            "distance": asdict(self.distance),
        }
        if self.objective is not None:
            out["objective"] = self.objective.to_dict()
        if self.verdict is not None:
            out["verdict"] = self.verdict.to_dict()
        out.update({"timing": asdict(self.timing), "versions": self.versions, "seed": self.seed})
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AnalyzeResult":
        """The result back from its JSON (`--format json`, `-o FILE`)."""
        from vptadvisor.dataset.summary import SkippedFile

        def known(kind: type, block: dict[str, Any]) -> dict[str, Any]:
            names = {f.name for f in fields(kind)}
            return {k: v for k, v in block.items() if k in names}

        ds = known(DatasetSummary, data["dataset"])
        ds["skipped"] = [SkippedFile(**s) for s in ds.get("skipped", [])]
        return cls(dataset=DatasetSummary(**ds), distance=DistanceResult(**known(DistanceResult, data["distance"])),
                   seed=data["seed"], timing=Timing(**known(Timing, data["timing"])), versions=data.get("versions", {}),
                   objective=data.get("objective"), verdict=data.get("verdict"),
                   schema=data.get("schema", ANALYZE_SCHEMA))


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
