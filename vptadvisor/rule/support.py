"""Where the published evidence reaches, per backbone family, and what happens beyond it.

Support of a family (from the rule file's ``families`` block, i.e. the fitted rows):
- training images: [smallest / 2, largest x 2] of the family's rows (ViT-B/16 IN-21k: 1-43,072,
  since its one-shot rows reach down to 2 images; the other families: 400-1,600 around their 800);
- FID, per disparity kind: [lowest - W, highest + W] of the published FIDs of the family's rows of
  that kind, W = the within-group FID sd of the model (a VTAB task's own FID spreads that far
  around its group mean);
- backbone: one of the study's families.

Beyond the support the mean keeps the fitted trend, but the slope is no longer evidence: the
predictive sd gets an extra term |slope| x (distance beyond the edge), i.e. the trend may stop or
double there. The verdict is "too close to call" there unless the verdict at the edge of the
support is already as decisive in the same direction (the evidence reaches that far).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Excess:
    """One input outside the family's support."""

    name: str  # "fid" | "n_train" | "backbone"
    value: float | str
    support: tuple[float, float] | None
    distance: float  # beyond the edge: FID units of 50 / doublings of n; 0 for the backbone
    edge: float | None  # the nearest supported value

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.name,
            "value": self.value,
            "support": None if self.support is None else [round(self.support[0], 2), round(self.support[1], 2)],
            "nearest_supported": None if self.edge is None else round(self.edge, 2),
        }


def n_range(family: dict[str, Any]) -> tuple[float, float]:
    lo, hi = family["n_train"]
    return lo / 2.0, hi * 2.0


def fid_range(family: dict[str, Any], kind: str, within_sd: float) -> tuple[float, float] | None:
    r = family["fid"].get(kind)
    return None if r is None else (r[0] - within_sd, r[1] + within_sd)


def excesses(family: dict[str, Any], kind: str, fid: float, n_train: float, within_sd: float) -> list[Excess]:
    """Inputs outside the family's support for one disparity kind ("low" / "high")."""
    out = []
    fr = fid_range(family, kind, within_sd)
    if fr is not None and not fr[0] <= fid <= fr[1]:
        edge = min(max(fid, fr[0]), fr[1])
        out.append(Excess("fid", fid, fr, abs(fid - edge) / 50.0, edge))
    nr = n_range(family)
    if not nr[0] <= n_train <= nr[1]:
        edge = min(max(n_train, nr[0]), nr[1])
        out.append(Excess("n_train", n_train, nr, abs(math.log2(n_train / edge)), edge))
    return out


def describe(ex: Excess, kind: str | None = None) -> str:
    if ex.name == "backbone":
        return f"backbone {ex.value} is not one of the study's families"
    lo, hi = ex.support or (0.0, 0.0)
    if ex.name == "fid":
        who = f" for {kind}-disparity tasks" if kind else ""
        return f"FID {float(ex.value):.1f} is outside the evidence{who} ({lo:.0f}-{hi:.0f})"
    return f"{int(float(ex.value)):,} training images is outside the evidence ({max(1, int(lo)):,}-{int(hi):,})"
