"""Typed results of the Python API (pydantic models under one serializer, results/block.py);
`to_dict()` gives exactly the documented JSON, `AnalyzeResult.model_json_schema()` its schema."""

from __future__ import annotations

import dataclasses
import platform
from importlib import metadata
from typing import Any, Optional

from pydantic import ConfigDict, Field, field_serializer, field_validator

from vptadvisor.dataset.summary import DatasetSummary, SkippedFile
from vptadvisor.results.block import Block

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


class ObjectiveResult(Block):
    """The `objective` block: how likely the task's objective is far from the pretraining one."""

    p_high_disparity: float  # P(high task-objective disparity)
    source: str  # "probe" | "declared" | "default"
    declared: Optional[str] = None  # the --objective given, if any
    note: Optional[str] = None  # the same in words: what the probe saw, or why the default was used
    probe: Optional[dict[str, Any]] = None  # the probe's reading (signals, evidence), or {"error": why not}
    prior_high: Optional[float] = None  # the prior P(high) the probe's P is a posterior under (docs/probe.md)


class VerdictResult(Block):
    """The `verdict` block: the decision rule's answer and its evidence (see docs/rule.md)."""

    choice: str  # "vpt" | "ft" | "uncertain"
    p_vpt: float  # P(VPT beats FT)
    margin: float  # expected VPT - FT test accuracy, points
    margin_sd: float
    margin_interval: list[float]  # central `interval_level` predictive interval
    interval_level: float
    rule_choice: str  # the rule's call for its own backbone
    backbone_covered: bool
    nearest_tasks: list[dict[str, Any]]  # closest published rows
    contributions: dict[str, float]  # Shapley split of margin - reference_margin
    reference_margin: float
    rule_version: str
    advice: str
    notes: list[str] = Field(default_factory=list)
    inputs: dict[str, Any] = Field(default_factory=dict)  # fid, fid_sd, p_high_disparity, n_train, backbone, ...
    reference: Optional[dict[str, Any]] = None  # the reference task the contributions are relative to
    n_train_source: Optional[str] = None  # "dataset" | "--train-size"
    family: str = "vit-b16-in21k"  # the study family whose evidence made the prediction ("unknown" otherwise)
    family_label: str = ""
    out_of_support: list[dict[str, Any]] = Field(default_factory=list)  # inputs outside the family's evidence


class DistanceResult(Block):
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
    fid_matched: dict[str, Any]  # the FID on the study's 1,000-image scale: value, sd, n_images, n_standard, method
    note: str  # FID depends on sample size: which sizes were used
    engine: str = ""  # how the Inception ran: engine/device/precision, e.g. "openvino/cpu/exact"
    precision: str = "exact"  # exact (float32) or bf16


class Timing(Block):
    seconds: float
    feature_seconds: float
    n_cached: int
    n_computed: int
    device: str


class AnalyzeResult(Block):
    """What analyze() returns; `to_dict()` is `vptadvisor analyze --format json`."""

    schema_: str = Field(ANALYZE_SCHEMA, alias="schema")
    dataset: DatasetSummary
    distance: DistanceResult
    objective: Optional[ObjectiveResult] = None
    verdict: Optional[VerdictResult] = None
    timing: Timing
    versions: dict[str, str] = Field(default_factory=dict)
    seed: int

    model_config = ConfigDict(populate_by_name=True)  # merged with Block's

    @field_validator("dataset", mode="plain", json_schema_input_type=DatasetSummary)
    @classmethod
    def _dataset_in(cls, value: Any) -> DatasetSummary:
        """As written: pydantic's coercion would turn the int sizes of `sizes` into floats."""
        if isinstance(value, DatasetSummary):
            return value
        if not isinstance(value, dict):
            raise ValueError("dataset must be an object")
        known = {f.name for f in dataclasses.fields(DatasetSummary)}
        block = {k: v for k, v in value.items() if k in known}
        block["skipped"] = [SkippedFile(**s) for s in block.get("skipped", [])]
        return DatasetSummary(**block)

    @field_serializer("dataset")
    def _dataset(self, value: DatasetSummary) -> dict[str, Any]:
        return value.to_dict()

    def require_verdict(self) -> VerdictResult:
        """The verdict (an analysis made by analyze() always has one)."""
        if self.verdict is None:
            raise ValueError("this analysis has no verdict")
        return self.verdict

    def to_dict(self) -> dict[str, Any]:
        out = self.model_dump(mode="python", by_alias=True)
        for block in ("objective", "verdict"):  # absent, not null, when analyze made none
            if out.get(block) is None:
                out.pop(block, None)
        return out


def versions() -> dict[str, str]:
    """Versions of what produced the numbers, read without importing the heavy packages."""
    from vptadvisor.version import __version__

    found = {"vptadvisor": __version__, "python": platform.python_version()}
    for dist in ("torch", "torchvision", "pytorch-fid", "timm", "numpy", "scipy", "pillow"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found
