"""Load the fitted rule and turn a dataset's inputs into a verdict with its reasons.

Disparity as a probability: the study's disparity is binary (low / high). Given p = P(high), the
predictive distribution of the margin is the mixture
    p * N(mu_high, s_high^2) + (1 - p) * N(mu_low, s_low^2),
so P(VPT better) = p Phi(mu_high / s_high) + (1 - p) Phi(mu_low / s_low), the reported margin is
the mixture mean, margin_sd its sd and margin_interval its central 80 % interval (quantiles 0.1
and 0.9).

FID uncertainty: ``fid_sd`` (points of FID, e.g. from a bootstrap or a sample-size correction)
adds (d mean / d FID)^2 fid_sd^2 to each component's variance (first order, exact for a linear
mean). ``fid`` must already be on the study's scale (see docs/rule.md, "Same scale").
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from vptadvisor.errors import UsageError
from vptadvisor.jsonfile import read_json
from vptadvisor.rule.fit import RULE_FORMAT, default_rule_path
from vptadvisor.rule.model import FID_CENTER, FID_SCALE, N_CENTER, Fit, encode

FID_MIN_IMAGES = 2048  # below this, the 2048-d Inception covariance is rank-deficient (pytorch-fid)
N_NEAREST = 3
REFERENCE = {"p_high_disparity": 0.0, "fid": FID_CENTER, "n_train": N_CENTER}


OBJECTIVES = {  # declared objective -> P(high task-objective disparity)
    "classification": 0.05, "counting": 0.95, "distance": 0.95, "orientation": 0.95, "location": 0.95,
    "other": 0.5,
}


@dataclass(frozen=True)
class ObjectivePrior:
    """P(high disparity) and where it came from (the `objective` block of analyze's JSON)."""

    p_high_disparity: float
    source: str

    def to_dict(self) -> dict:
        return {"p_high_disparity": self.p_high_disparity, "source": self.source}


def objective_prior(objective: str | None) -> ObjectivePrior:
    """Map a declared objective onto P(high disparity). None means the default, classification.

    The study's high-disparity group is VTAB Structured (counting, distance, orientation, location);
    a declared objective is strong but not certain evidence of the group, hence 0.05 / 0.95;
    "other" is unknown (0.5). A measured probe should replace this when it exists."""
    if objective is None:
        return ObjectivePrior(OBJECTIVES["classification"], "default: classification (not declared)")
    key = objective.strip().lower()
    if key not in OBJECTIVES:
        raise UsageError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}.")
    return ObjectivePrior(OBJECTIVES[key], f"declared: {key}")


@dataclass
class RulePrediction:
    choice: str  # "vpt" | "ft" | "uncertain"
    p_vpt: float  # P(VPT beats FT)
    margin: float  # expected VPT - FT test accuracy, points
    margin_sd: float
    margin_interval: tuple[float, float]
    interval_level: float
    rule_choice: str  # what the rule says for its own backbone (differs from choice if not covered)
    backbone_covered: bool
    nearest_tasks: list[dict]
    contributions: dict[str, float]  # Shapley split of (margin - reference_margin) over the inputs
    reference_margin: float  # predicted margin of the reference task (REFERENCE)
    rule_version: str
    advice: str
    notes: list[str] = field(default_factory=list)
    inputs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["p_vpt"] = round(self.p_vpt, 4)
        for k in ("margin", "margin_sd", "reference_margin"):
            d[k] = round(d[k], 3)
        d["margin_interval"] = [round(v, 3) for v in self.margin_interval]
        d["contributions"] = {k: round(v, 3) for k, v in self.contributions.items()}
        d["reference"] = dict(REFERENCE)
        return d


class Rule:
    """The fitted decision rule (see vptadvisor/rule/model.py for the model)."""

    def __init__(self, doc: dict):
        if doc.get("format") != RULE_FORMAT:
            raise UsageError(f"rule file format {doc.get('format')!r} is not {RULE_FORMAT}: refit with `vptadvisor study fit`.")
        self.doc = doc
        terms = tuple(doc["terms"])
        self.fit = Fit(terms=terms, coef_mean=np.array([doc["coefficients"][t]["mean"] for t in terms]),
                       coef_cov=np.array(doc["coef_cov"], dtype=np.float64), tau=doc["noise"]["task_sd"],
                       sigma=doc["noise"]["residual_sd"], log_evidence=doc["log_evidence"],
                       n_rows=doc["table"]["n_rows"], n_tasks=doc["table"]["n_tasks"])
        self.rule_version: str = doc["rule_version"]
        self.decision = doc["decision"]
        self.covered = {k.lower(): v for k, v in doc["backbone"]["covered_names"].items()}

    # --- the model ---------------------------------------------------------------------------
    def components(self, fid: float, n_train: float, fid_sd: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Predictive (mean, sd) for disparity low (index 0) and high (index 1)."""
        feats = encode([0.0, 1.0], [fid, fid], [n_train, n_train])
        mean, sd = self.fit.predict(feats)
        if fid_sd > 0:
            coef = dict(zip(self.fit.terms, self.fit.coef_mean))
            slope = (coef.get("fid", 0.0) + coef.get("fid:log2_n", 0.0) * feats["log2_n"]) / FID_SCALE
            sd = np.sqrt(sd**2 + (slope * fid_sd) ** 2)
        return mean, sd

    def p_vpt(self, fid, p_high, n_train, fid_sd: float = 0.0) -> np.ndarray:
        """P(VPT better) = (1 - p) Phi(mu_low / s_low) + p Phi(mu_high / s_high), broadcast over numpy
        arrays: `fid` and `n_train` give the points where `components` is evaluated, `p_high` is
        broadcast against them (e.g. fids[None, :] with ps[:, None] gives a grid)."""
        fids, sizes = np.broadcast_arrays(np.asarray(fid, dtype=np.float64), np.asarray(n_train, dtype=np.float64))
        low, high = np.empty(fids.shape), np.empty(fids.shape)
        for idx in np.ndindex(fids.shape):
            mean, sd = self.components(float(fids[idx]), float(sizes[idx]), fid_sd)
            low[idx], high[idx] = stats.norm.cdf(mean[0] / sd[0]), stats.norm.cdf(mean[1] / sd[1])
        p = np.asarray(p_high, dtype=np.float64)
        return (1.0 - p) * low + p * high

    def mean_margin(self, p_high: float, fid: float, n_train: float) -> float:
        mean, _ = self.components(fid, n_train)
        return float((1 - p_high) * mean[0] + p_high * mean[1])

    # --- the verdict -------------------------------------------------------------------------
    def decide(self, p_vpt: float) -> str:
        """"vpt", "ft" or "uncertain" (too close to call) for a P(VPT better), by the rule's thresholds."""
        if p_vpt >= self.decision["vpt_if_p_at_least"]:
            return "vpt"
        return "ft" if p_vpt <= self.decision["ft_if_p_at_most"] else "uncertain"

    def predict(self, fid: float, p_high_disparity: float, n_train: int, backbone: str | None = None,
                fid_sd: float = 0.0, n_fid_images: int | None = None, n_ref_images: int | None = None,
                fid_note: str | None = None) -> RulePrediction:
        """Verdict for a dataset. ``fid`` must be on the study's scale (already corrected)."""
        _check_inputs(fid, p_high_disparity, n_train, fid_sd)
        p_hi = float(p_high_disparity)
        w = np.array([1 - p_hi, p_hi])
        mean, sd = self.components(fid, n_train, fid_sd)
        p_vpt = float(self.p_vpt(fid, p_hi, n_train, fid_sd))
        m = float(np.sum(w * mean))
        m_sd = math.sqrt(float(np.sum(w * (sd**2 + mean**2))) - m**2)
        level = float(self.decision["interval_level"])
        interval = (_mixture_quantile(w, mean, sd, (1 - level) / 2), _mixture_quantile(w, mean, sd, (1 + level) / 2))
        rule_choice = self.decide(p_vpt)
        notes: list[str] = []
        covered = self._backbone_notes(backbone, notes)
        choice = rule_choice if covered else "uncertain"
        # A caller that put the FID on the study's scale says so in fid_note; else warn about small samples.
        self._range_notes(fid, p_hi, n_train, None if fid_note else n_fid_images, None if fid_note else n_ref_images, notes)
        if fid_note:
            notes.append(fid_note)
        contributions, ref = self._contributions(p_hi, fid, n_train)
        return RulePrediction(
            choice=choice, p_vpt=p_vpt, margin=m, margin_sd=m_sd, margin_interval=interval,
            interval_level=level, rule_choice=rule_choice, backbone_covered=covered,
            nearest_tasks=self._nearest(p_hi, fid, n_train), contributions=contributions,
            reference_margin=ref, rule_version=self.rule_version,
            advice=_advice(choice, rule_choice, covered, p_vpt), notes=notes,
            inputs={"fid": fid, "fid_sd": fid_sd, "p_high_disparity": p_hi, "n_train": int(n_train),
                    "backbone": backbone, "n_fid_images": n_fid_images, "n_ref_images": n_ref_images},
        )

    def _contributions(self, p_hi: float, fid: float, n_train: float) -> tuple[dict[str, float], float]:
        """Exact Shapley values of the three inputs for the mean margin, relative to REFERENCE."""
        names = ("objective", "fid", "n_train")
        actual = (p_hi, fid, n_train)
        ref = (REFERENCE["p_high_disparity"], REFERENCE["fid"], REFERENCE["n_train"])

        def value(subset: frozenset) -> float:
            args = [actual[i] if i in subset else ref[i] for i in range(3)]
            return self.mean_margin(*args)

        phi = dict.fromkeys(names, 0.0)
        perms = list(itertools.permutations(range(3)))
        for perm in perms:
            have: frozenset = frozenset()
            for i in perm:
                phi[names[i]] += (value(have | {i}) - value(have)) / len(perms)
                have = have | {i}
        return phi, value(frozenset())

    def _nearest(self, p_hi: float, fid: float, n_train: float) -> list[dict]:
        """Closest published rows, one per task: distance in units of one disparity flip = 50 FID
        points = a factor of 4 in training images."""
        best: dict[str, dict] = {}
        for r in self.doc["evidence_rows"]:
            dist = math.sqrt((p_hi - (r["disparity"] == "high")) ** 2 + ((fid - r["fid"]) / 50.0) ** 2
                             + ((math.log2(n_train) - math.log2(r["n_train"])) / 2.0) ** 2)
            if r["task"] not in best or dist < best[r["task"]]["distance"]:
                best[r["task"]] = dict(r, distance=round(dist, 4))
        return sorted(best.values(), key=lambda r: (r["distance"], r["task"]))[:N_NEAREST]

    def covers(self, backbone: str | None) -> bool:
        """Whether the rule was fitted on this backbone (None: the rule's own)."""
        return backbone is None or backbone.strip().lower() in self.covered

    def _backbone_notes(self, backbone: str | None, notes: list[str]) -> bool:
        label = self.doc["backbone"]["label"]
        if backbone is None:
            notes.append(f"No backbone given: the rule assumes the backbone it was fitted on ({label}).")
            return True
        key = backbone.strip().lower()
        if key in self.covered:
            if self.covered[key]:
                notes.append(f"Backbone {backbone}: {self.covered[key]}.")
            return True
        others = "; ".join(f"{o['label']}: VPT won {o['vpt_wins']} of {o['n_tasks']} tasks"
                           for o in self.doc["other_backbones"].values())
        notes.append(f"The rule covers only {label}; backbone {backbone} is not covered, so the verdict is "
                     f"'uncertain'. The study shows the backbone can flip the answer (VTAB-1k, 800 images: {others}).")
        return False

    def _range_notes(self, fid, p_hi, n_train, n_fid, n_ref, notes: list[str]) -> None:
        lo, hi = self.doc["study_range"]["fid"]
        if not lo <= fid <= hi:
            notes.append(f"FID {fid:.1f} is outside the study's range ({lo:.1f}-{hi:.1f}): the FID effect is extrapolated.")
        nlo, nhi = self.doc["study_range"]["n_train"]
        if not nlo <= n_train <= nhi:
            notes.append(f"{int(n_train)} training images is outside the study's range ({nlo}-{nhi}): "
                         "the size effect is extrapolated.")
        if 0.05 < p_hi < 0.95:
            notes.append(f"Task-objective disparity is uncertain (P(high) = {p_hi:.2f}): the verdict mixes the "
                         "low- and high-disparity predictions.")
        small = [f"{name} {k}" for name, k in (("dataset", n_fid), ("reference", n_ref)) if k is not None and k < FID_MIN_IMAGES]
        if small:
            notes.append(f"FID from few images ({', '.join(small)}; fewer than {FID_MIN_IMAGES}) is biased upward "
                         "relative to the study's whole-dataset FIDs; treat the FID input as approximate.")


def _check_inputs(fid: float, p_high: float, n_train: float, fid_sd: float) -> None:
    if not (isinstance(fid, (int, float)) and math.isfinite(fid) and fid >= 0):
        raise UsageError(f"FID must be a non-negative number, got {fid!r}.")
    if not (0.0 <= float(p_high) <= 1.0):
        raise UsageError(f"p_high_disparity must be a probability in [0, 1], got {p_high!r}.")
    if not (n_train >= 1):
        raise UsageError(f"the number of training images must be at least 1, got {n_train!r}.")
    if not (fid_sd >= 0 and math.isfinite(fid_sd)):
        raise UsageError(f"fid_sd must be a non-negative number, got {fid_sd!r}.")


def _mixture_quantile(w: np.ndarray, mean: np.ndarray, sd: np.ndarray, q: float) -> float:
    def cdf_minus_q(x: float) -> float:
        return float(np.sum(w * stats.norm.cdf((x - mean) / sd))) - q

    lo, hi = float(np.min(mean - 10 * sd)), float(np.max(mean + 10 * sd))
    return float(optimize.brentq(cdf_minus_q, lo, hi, xtol=1e-10))


def _advice(choice: str, rule_choice: str, covered: bool, p_vpt: float) -> str:
    if not covered:
        return ("Run `vptadvisor pilot` on your backbone to measure both methods; the published evidence is for "
                "another backbone" + (f" (where the rule would say {rule_choice.upper()})." if rule_choice != "uncertain" else "."))
    if choice == "vpt":
        return f"Use VPT: it beats full fine-tuning with probability {p_vpt:.0%} and stores about 1% of the parameters per task."
    if choice == "ft":
        return f"Use full fine-tuning: VPT beats it with probability only {p_vpt:.0%}."
    return ("Too close to call: choose VPT if storage or serving many tasks matters (it is the cheaper to store), "
            "otherwise run `vptadvisor pilot` to measure both on your data.")


def load_rule(path: str | Path | None = None) -> Rule:
    """Load the fitted rule (default: the shipped ``data/rule/vpt_ft_rule.json``)."""
    p = Path(path) if path is not None else default_rule_path()
    if not p.is_file():
        raise UsageError(f"rule file {p} not found: run `vptadvisor study fit` or reinstall vptadvisor.")
    doc = read_json(p, what="rule file", hint="refit it with `vptadvisor study fit`")
    return Rule(doc)
