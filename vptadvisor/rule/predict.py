"""Load the fitted rule and turn a dataset's inputs into a verdict with its reasons.

Predictive distribution (vptadvisor/rule/model.py): for the named backbone's family and each
disparity kind k (low 0, high 1), the margin's predictive is a mixture of S Gaussians
N(mu_ks, sd_ks^2), one per posterior draw. Given p = P(high disparity) the predictive is

    (1 - p) * mixture_low + p * mixture_high,
    P(VPT better) = (1 - p) mean_s Phi(mu_0s / sd_0s) + p mean_s Phi(mu_1s / sd_1s),

``margin`` is its mean, ``margin_sd`` its sd and ``margin_interval`` its central 80 % interval
(quantiles 0.1 and 0.9).

FID: the user's FID (on the 1,000-image scale of ``analyze``) is mapped to the published scale with
a log-normal factor of sd ``fid_scale_sd`` (default: the rule file's), and ``fid_sd`` adds the
measurement's own uncertainty; each posterior draw uses its own FID draw.

Verdict: "vpt" if P >= 0.7, "ft" if P <= 0.3, else "uncertain", then three guards:
1. a backbone outside the study's families is "uncertain" (its prediction is a new family drawn
   from the hierarchy: wider, never another family's numbers);
2. outside the family's support (vptadvisor/rule/support.py) the spread grows, and the verdict is
   "uncertain" unless the same inputs moved to the edge of the support give the same decisive call;
3. a decisive call against the majority winner of the three nearest published tasks of the family
   (one row per task) is "uncertain".
``rule_choice`` is the call before the guards (for an unknown backbone: the rule's reference
family's call, for information only).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from vptadvisor.errors import UsageError
from vptadvisor.jsonfile import read_json
from vptadvisor.rule import families, model, support
from vptadvisor.rule.fit import RULE_FORMAT, default_rule_path, draws_from_json

FID_MIN_IMAGES = 2048  # below this, the 2048-d Inception covariance is rank-deficient (pytorch-fid)
N_NEAREST = 3
# P(high disparity) at most this reads as low, at least 1 - this as high; in between the objective
# is uncertain and the verdict is a real mixture of the two predictions (the note says so).
DISPARITY_CLEAR = 0.2
REFERENCE = {"p_high_disparity": 0.0, "fid": model.FID_CENTER, "n_train": model.N_CENTER}
KINDS = ("low", "high")
# one disparity kind's per-draw (mean, sd) and the inputs outside the family's support
Component = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[support.Excess]]

OBJECTIVES = {  # declared objective -> P(high task-objective disparity)
    "classification": 0.05,
    "counting": 0.95,
    "distance": 0.95,
    "orientation": 0.95,
    "location": 0.95,
    "other": 0.5,
}


@dataclass(frozen=True)
class ObjectivePrior:
    """P(high disparity) and where it came from (the `objective` block of analyze's JSON)."""

    p_high_disparity: float
    source: str

    def to_dict(self) -> dict[str, Any]:
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
    rule_choice: str  # the model's call before the guards (unknown backbone: the reference family's call)
    backbone_covered: bool  # the backbone maps to one of the study's families
    nearest_tasks: list[dict[str, Any]]
    contributions: dict[str, float]  # Shapley split of (margin - reference_margin) over the inputs
    reference_margin: float  # predicted margin of the reference task (REFERENCE) for the same family
    rule_version: str
    advice: str
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    family: str = families.DEFAULT_FAMILY  # the study family whose evidence made the prediction ("unknown")
    family_label: str = ""
    out_of_support: list[dict[str, Any]] = field(default_factory=list)  # inputs outside the family's evidence

    def to_dict(self) -> dict[str, Any]:
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

    def __init__(self, doc: dict[str, Any]):
        if doc.get("format") != RULE_FORMAT:
            raise UsageError(
                f"rule file format {doc.get('format')!r} is not {RULE_FORMAT}: refit with "
                "`vptadvisor study fit` or reinstall vptadvisor."
            )
        self.doc = doc
        self.draws = draws_from_json(doc["draws"])
        self.noise = model.Noise.make(self.draws.n)
        self.w = model.t_weights(self.draws, self.noise)
        self.rule_version: str = doc["rule_version"]
        self.decision = doc["decision"]
        self.within_sd = float(doc["fid"]["within_group_sd"])
        self.scale_sd = float(doc["fid"]["scale_sd"])
        self.family_keys: list[str] = list(doc["backbone"]["families"])

    # --- the model ---------------------------------------------------------------------------
    def _index(self, family: str) -> int | None:
        return None if family == families.UNKNOWN else self.family_keys.index(family)

    def _slopes(self, family: str, kind: int, n_train: float) -> tuple[float, float]:
        """|d mean / d (FID/50)| and |d mean / d log2 n| at n (posterior means), for the support spread."""
        idx = self._index(family)
        theta = self.draws.theta0 if idx is None else self.draws.theta[:, idx, :]
        lam = self.draws.lam.mean(axis=0)
        below = n_train < model.N_LOW
        dn = lam[0] + kind * lam[1] + (lam[2] + kind * lam[3] if below else 0.0)
        return abs(float(theta[:, 2].mean())), abs(float(dn))

    def _component(
        self, family: str, kind: int, fid: float, n_train: float, fid_sd: float, scale_sd: float
    ) -> tuple[np.ndarray, np.ndarray, list[support.Excess]]:
        """Per-draw (mean, sd) for one disparity kind, with the support spread; and the excesses."""
        ex: list[support.Excess] = []
        extra = 0.0
        if family != families.UNKNOWN:
            ex = support.excesses(self.doc["families"][family], KINDS[kind], fid, n_train, self.within_sd)
            s_fid, s_n = self._slopes(family, kind, n_train)
            extra = math.sqrt(sum(((s_fid if e.name == "fid" else s_n) * e.distance) ** 2 for e in ex))
        mu, sd = model.predictive(
            self.draws,
            self.noise,
            self._index(family),
            float(kind),
            fid,
            n_train,
            fid_sd=fid_sd,
            scale_sd=scale_sd,
            extra_sd=extra,
            w=self.w,
        )
        return mu, sd, ex

    def p_vpt(
        self,
        fid: npt.ArrayLike,
        p_high: npt.ArrayLike,
        n_train: npt.ArrayLike,
        fid_sd: float = 0.0,
        backbone: str | None = None,
        fid_scale_sd: float | None = None,
    ) -> np.ndarray:
        """P(VPT better), broadcast over numpy arrays: `fid` and `n_train` give the points where the
        two components are evaluated, `p_high` is broadcast against them (e.g. fids[None, :] with
        ps[:, None] gives a grid). Same number as `predict(...).p_vpt`."""
        fam = families.resolve(backbone).key
        scale = self.scale_sd if fid_scale_sd is None else fid_scale_sd
        fids, sizes = np.broadcast_arrays(np.asarray(fid, dtype=np.float64), np.asarray(n_train, dtype=np.float64))
        low, high = np.empty(fids.shape), np.empty(fids.shape)
        for idx in np.ndindex(fids.shape):
            for kind, out in ((0, low), (1, high)):
                mu, sd, _ = self._component(fam, kind, float(fids[idx]), float(sizes[idx]), fid_sd, scale)
                out[idx] = model.mixture_p_positive(mu, sd)
        p = np.asarray(p_high, dtype=np.float64)
        return (1.0 - p) * low + p * high

    def mean_margin(self, p_high: float, fid: float, n_train: float, backbone: str | None = None) -> float:
        """Mixture mean of the margin (the value the Shapley contributions split)."""
        fam = families.resolve(backbone).key
        means = [float(self._component(fam, k, fid, n_train, 0.0, self.scale_sd)[0].mean()) for k in (0, 1)]
        return (1 - p_high) * means[0] + p_high * means[1]

    # --- the verdict -------------------------------------------------------------------------
    def decide(self, p_vpt: float) -> str:
        """ "vpt", "ft" or "uncertain" (too close to call) for a P(VPT better), by the rule's thresholds."""
        if p_vpt >= self.decision["vpt_if_p_at_least"]:
            return "vpt"
        return "ft" if p_vpt <= self.decision["ft_if_p_at_most"] else "uncertain"

    def family(self, backbone: str | None) -> families.Family:
        return families.resolve(backbone)

    def covers(self, backbone: str | None) -> bool:
        """Whether the backbone is in the rule's reference family (ViT-B/16 ImageNet-21k; None: yes)."""
        return families.resolve(backbone).key == families.DEFAULT_FAMILY

    def predict(
        self,
        fid: float,
        p_high_disparity: float,
        n_train: int,
        backbone: str | None = None,
        fid_sd: float = 0.0,
        n_fid_images: int | None = None,
        n_ref_images: int | None = None,
        fid_note: str | None = None,
        fid_scale_sd: float | None = None,
    ) -> RulePrediction:
        """Verdict for a dataset. ``fid`` is on the 1,000-image scale of `analyze` (already corrected);
        ``fid_scale_sd`` (default: the rule file's) is the uncertainty of mapping it onto the
        published scale (0: the FID is already on the published scale)."""
        _check_inputs(fid, p_high_disparity, n_train, fid_sd)
        fam = families.resolve(backbone)
        scale = self.scale_sd if fid_scale_sd is None else float(fid_scale_sd)
        p_hi = float(p_high_disparity)
        w = np.array([1 - p_hi, p_hi])
        comps = [self._component(fam.key, k, fid, n_train, fid_sd, scale) for k in (0, 1)]
        p_k = np.array([model.mixture_p_positive(mu, sd) for mu, sd, _ in comps])
        p_vpt = float(w @ p_k)
        mu_all = np.concatenate([comps[0][0], comps[1][0]])
        sd_all = np.concatenate([comps[0][1], comps[1][1]])
        weights = np.concatenate([np.full(len(comps[0][0]), w[0]), np.full(len(comps[1][0]), w[1])])
        weights = weights / weights.sum()
        m = float(weights @ mu_all)
        m_sd = math.sqrt(float(weights @ (sd_all**2 + mu_all**2)) - m**2)
        level = float(self.decision["interval_level"])
        interval = (
            model.mixture_quantile(mu_all, sd_all, (1 - level) / 2, weights),
            model.mixture_quantile(mu_all, sd_all, (1 + level) / 2, weights),
        )
        notes: list[str] = []
        if fam.known:
            rule_choice = self.decide(p_vpt)
        else:
            rule_choice = self.decide(float(self.p_vpt(fid, p_hi, n_train, fid_sd, None, scale)))
        choice = rule_choice if fam.known else "uncertain"
        self._backbone_notes(fam, notes)
        live = [k for k in (0, 1) if w[k] >= 0.1]  # a component with 10 % weight or more is checked for support
        out_list = self._support(fam, comps, live, notes)
        if fam.known and choice != "uncertain" and out_list:
            edge = self._edge_p(fam.key, w, comps, fid, n_train, fid_sd, scale)
            if self.decide(edge) != choice:
                notes.append(
                    f"Outside the evidence the verdict is 'too close to call': at the edge of the "
                    f"evidence P(VPT better) is {edge:.2f}, so the data do not reach a "
                    f"{choice.upper()} call this far out."
                )
                choice = "uncertain"
        nearest = self._nearest(fam.key, p_hi, fid, n_train)
        if choice != "uncertain" and nearest:
            wins = [r["winner"] for r in nearest]
            against = "ft" if choice == "vpt" else "vpt"
            if wins.count(against) > len(wins) / 2:
                notes.append(
                    f"The nearest published tasks ({', '.join(r['task'] for r in nearest)}) went "
                    f"{against.upper()}'s way, against the model's {choice.upper()}: too close to call."
                )
                choice = "uncertain"
        self._input_notes(p_hi, n_fid_images if not fid_note else None, n_ref_images if not fid_note else None, notes)
        if fid_note:
            notes.append(fid_note)
        contributions, ref = self._contributions(fam.key, p_hi, fid, n_train)
        return RulePrediction(
            choice=choice,
            p_vpt=p_vpt,
            margin=m,
            margin_sd=m_sd,
            margin_interval=interval,
            interval_level=level,
            rule_choice=rule_choice,
            backbone_covered=fam.known,
            nearest_tasks=nearest,
            contributions=contributions,
            reference_margin=ref,
            rule_version=self.rule_version,
            advice=_advice(choice, fam, p_vpt, bool(out_list)),
            notes=notes,
            inputs={
                "fid": fid,
                "fid_sd": fid_sd,
                "fid_scale_sd": scale,
                "p_high_disparity": p_hi,
                "n_train": int(n_train),
                "backbone": backbone,
                "n_fid_images": n_fid_images,
                "n_ref_images": n_ref_images,
            },
            family=fam.key,
            family_label=fam.label,
            out_of_support=out_list,
        )

    def _support(
        self, fam: families.Family, comps: Sequence[Component], live: list[int], notes: list[str]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not fam.known:
            out.append(support.Excess("backbone", str(fam.named), None, 0.0, None).to_dict())
        seen: dict[str, dict[str, Any]] = {}
        for k in live:
            for e in comps[k][2]:
                d = e.to_dict()
                key = e.name if e.name == "n_train" else f"{e.name}:{KINDS[k]}"
                if key not in seen:
                    seen[key] = d
                    if e.name == "fid":
                        d["disparity"] = KINDS[k]
                    notes.append(
                        support.describe(e, KINDS[k] if e.name == "fid" else None)
                        + ": the prediction extrapolates and its spread is widened."
                    )
        return out + list(seen.values())

    def _edge_p(
        self,
        family: str,
        w: np.ndarray,
        comps: Sequence[Component],
        fid: float,
        n_train: float,
        fid_sd: float,
        scale: float,
    ) -> float:
        """P(VPT better) with every out-of-support input moved to the edge of the support."""
        p = 0.0
        for k in (0, 1):
            f, n = fid, n_train
            for e in comps[k][2]:
                if e.name == "fid":
                    f = float(cast(float, e.edge))  # an fid/n_train excess always has an edge
                elif e.name == "n_train":
                    n = float(cast(float, e.edge))
            mu, sd, _ = self._component(family, k, f, n, fid_sd, scale)
            p += float(w[k]) * model.mixture_p_positive(mu, sd)
        return p

    def _contributions(self, family: str, p_hi: float, fid: float, n_train: float) -> tuple[dict[str, float], float]:
        """Exact Shapley values of the three inputs for the mean margin, relative to REFERENCE."""
        names = ("objective", "fid", "n_train")
        actual = (p_hi, fid, n_train)
        ref = (REFERENCE["p_high_disparity"], REFERENCE["fid"], REFERENCE["n_train"])
        cache: dict[frozenset[int], float] = {}
        backbone = None if family == families.UNKNOWN else family

        def value(subset: frozenset[int]) -> float:
            if subset not in cache:
                args = [actual[i] if i in subset else ref[i] for i in range(3)]
                cache[subset] = self._mean_for(family, backbone, *args)
            return cache[subset]

        phi = dict.fromkeys(names, 0.0)
        perms = list(itertools.permutations(range(3)))
        for perm in perms:
            have: frozenset[int] = frozenset()
            for i in perm:
                phi[names[i]] += (value(have | {i}) - value(have)) / len(perms)
                have = have | {i}
        return phi, value(frozenset())

    def _mean_for(self, family: str, backbone: str | None, p_hi: float, fid: float, n_train: float) -> float:
        means = [float(self._component(family, k, fid, n_train, 0.0, self.scale_sd)[0].mean()) for k in (0, 1)]
        return (1 - p_hi) * means[0] + p_hi * means[1]

    def _nearest(self, family: str, p_hi: float, fid: float, n_train: float) -> list[dict[str, Any]]:
        """Closest published rows of the family, one per task: distance in units of one disparity
        flip = 50 FID points = a factor of 4 in training images."""
        fam = family if family != families.UNKNOWN else families.DEFAULT_FAMILY
        best: dict[str, dict[str, Any]] = {}
        for r in self.doc["rows"]:
            if r["family"] != fam:
                continue
            dist = math.sqrt(
                (p_hi - (r["disparity"] == "high")) ** 2
                + ((fid - r["fid"]) / 50.0) ** 2
                + ((math.log2(n_train) - math.log2(r["n_train"])) / 2.0) ** 2
            )
            if r["task"] not in best or dist < best[r["task"]]["distance"]:
                best[r["task"]] = dict(r, distance=round(dist, 4))
        return sorted(best.values(), key=lambda r: (r["distance"], r["task"]))[:N_NEAREST]

    def _backbone_notes(self, fam: families.Family, notes: list[str]) -> None:
        if fam.named is None:
            notes.append(f"No backbone given: the rule assumes the study's reference backbone ({fam.label}).")
        elif not fam.known:
            counts = "; ".join(
                f"{f['label']}: VPT won {f['vpt_wins']} of {f['n_rows']} rows" for f in self.doc["families"].values()
            )
            notes.append(
                f"Backbone {fam.named} is not one of the study's families, so the verdict is 'uncertain' and "
                f"the prediction is that of an unseen family (wider). The backbone can flip the answer "
                f"({counts})."
            )
        else:
            extra = f" ({fam.note})" if fam.note else ""
            notes.append(f"Backbone {fam.named}: evidence of the study family {fam.label}{extra}.")

    def _input_notes(self, p_hi: float, n_fid: int | None, n_ref: int | None, notes: list[str]) -> None:
        if DISPARITY_CLEAR < p_hi < 1 - DISPARITY_CLEAR:
            notes.append(
                f"Task-objective disparity is uncertain (P(high) = {p_hi:.2f}: your labels may or may not "
                "ask what ImageNet's do), so the verdict weighs both cases."
            )
        small = [
            f"{name} {k}"
            for name, k in (("dataset", n_fid), ("reference", n_ref))
            if k is not None and k < FID_MIN_IMAGES
        ]
        if small:
            notes.append(
                f"FID from few images ({', '.join(small)}; fewer than {FID_MIN_IMAGES}) is biased upward "
                "relative to the study's whole-dataset FIDs; treat the FID input as approximate."
            )


def _check_inputs(fid: float, p_high: float, n_train: float, fid_sd: float) -> None:
    if not (isinstance(fid, (int, float)) and math.isfinite(fid) and fid >= 0):
        raise UsageError(f"FID must be a non-negative number, got {fid!r}.")
    if not (0.0 <= float(p_high) <= 1.0):
        raise UsageError(f"p_high_disparity must be a probability in [0, 1], got {p_high!r}.")
    if not (n_train >= 1):
        raise UsageError(f"the number of training images must be at least 1, got {n_train!r}.")
    if not (fid_sd >= 0 and math.isfinite(fid_sd)):
        raise UsageError(f"fid_sd must be a non-negative number, got {fid_sd!r}.")


def _advice(choice: str, fam: families.Family, p_vpt: float, outside: bool) -> str:
    if not fam.known:
        return (
            "Run `vptadvisor pilot` on your backbone to measure both methods; the published evidence covers "
            "other backbones only."
        )
    if choice == "vpt":
        return f"Use VPT: it beats full fine-tuning with probability {p_vpt:.0%} and stores about 1% of the parameters per task."
    if choice == "ft":
        return f"Use full fine-tuning: VPT beats it with probability only {p_vpt:.0%}."
    where = " (your inputs are outside the published evidence)" if outside else ""
    return (
        "Too close to call" + where + ": choose VPT if storage or serving many tasks matters (it is the "
        "cheaper to store), otherwise run `vptadvisor pilot` to measure both on your data."
    )


def load_rule(path: str | Path | None = None) -> Rule:
    """Load the fitted rule (default: the shipped ``data/rule/vpt_ft_rule.json``)."""
    p = Path(path) if path is not None else default_rule_path()
    if not p.is_file():
        raise UsageError(f"rule file {p} not found: run `vptadvisor study fit` or reinstall vptadvisor.")
    doc = read_json(p, what="rule file", hint="refit it with `vptadvisor study fit`")
    return Rule(doc)
