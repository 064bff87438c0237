"""Leave-one-task-out (LOTO) evidence for the rule and four baselines.

Every method is refitted without the held-out task (all its rows: 400 / 800 / 5,000 / 10,000
images go out together) and then predicts that task's rows. For the rule the whole procedure is
repeated inside each fold, including the choice of interactions (nested LOTO), so the selection
cannot peek at the held-out task.

Baselines (each gives a hard call, P(VPT better) and a margin):
- always-vpt / always-ft: call VPT / FT everywhere. A constant rule has no better probability
  than the base rate, so both forecast the training tasks' VPT-win frequency (ties half) and the
  training mean margin; they differ only in the hard call (sign accuracy).
- size-only: the rule's own model with only intercept + log2(n_train); call = P >= 0.5.
- paper-qualitative (Han et al.): VPT if high disparity or low FID, else FT. "Low FID" is FID
  below a cut learned on the training tasks (the midpoint between adjacent training FIDs that
  maximises training sign accuracy; the lowest such cut on ties). P(VPT better) = Laplace-smoothed
  VPT-win frequency (k + 1) / (m + 2) of the training rows that get the same call; margin = their
  mean margin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from vptadvisor.rule import metrics
from vptadvisor.rule.fit import DECISION, Arrays, select_terms, to_arrays
from vptadvisor.rule.model import SIZE_ONLY_TERMS
from vptadvisor.study.table import StudyRow

BASELINES = ("always-vpt", "always-ft", "size-only", "paper-qualitative")


@dataclass
class Forecast:
    p: np.ndarray
    call_vpt: np.ndarray
    margin: np.ndarray


@dataclass
class ValidationReport:
    rule: metrics.Scores
    baselines: dict[str, metrics.Scores]
    n_rows: int
    n_tasks: int
    reliability: dict[str, list[metrics.ReliabilityBin]]
    beats_on_log_loss: dict[str, bool]
    ceiling_sign_accuracy: float  # best in-sample accuracy of ANY rule using these inputs
    decisive: dict[str, float]  # verdicts outside the "too close to call" band
    selected_terms: dict[str, int]  # how often each term set was chosen across the folds
    n_ties: int
    rows: list[dict] = field(default_factory=list)  # per-row LOTO forecast of the rule

    @property
    def beats_all(self) -> bool:
        return all(self.beats_on_log_loss.values())

    def statement(self) -> str:
        losers = [k for k, v in self.beats_on_log_loss.items() if not v]
        if not losers:
            return "The rule beats every baseline on leave-one-task-out log loss."
        return ("The rule does NOT beat every baseline on leave-one-task-out log loss: it loses to or ties with "
                + ", ".join(losers) + ".")

    def to_dict(self) -> dict:
        return {
            "rule": self.rule.to_dict(),
            "baselines": {k: v.to_dict() for k, v in self.baselines.items()},
            "n_rows": self.n_rows,
            "n_tasks": self.n_tasks,
            "n_ties": self.n_ties,
            "beats_baselines_on_log_loss": self.beats_on_log_loss,
            "beats_all_baselines_on_log_loss": self.beats_all,
            "statement": self.statement(),
            "ceiling_sign_accuracy": round(self.ceiling_sign_accuracy, 6),
            "decisive": self.decisive,
            "selected_terms": self.selected_terms,
            "reliability": {k: [vars(b) for b in v] for k, v in self.reliability.items()},
            "rows": self.rows,
        }


def _base_rate(train: Arrays) -> float:
    return float(np.mean(metrics.outcome(train.margin)))


def _paper_cut(train: Arrays) -> float:
    """FID cut for the qualitative rule, learned on the training rows."""
    y = metrics.outcome(train.margin)
    values = np.unique(train.fid)
    cuts = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1.0]])
    accs = [metrics.sign_accuracy((train.disparity == 1) | (train.fid < c), y) for c in cuts]
    return float(cuts[int(np.argmax(accs))])


def _paper_forecast(train: Arrays, test: Arrays) -> Forecast:
    cut = _paper_cut(train)
    call_tr = (train.disparity == 1) | (train.fid < cut)
    call_te = (test.disparity == 1) | (test.fid < cut)
    y = metrics.outcome(train.margin)
    p = np.empty(len(test.margin))
    m = np.empty(len(test.margin))
    for side in (True, False):
        k = call_tr == side
        p[call_te == side] = (y[k].sum() + 1.0) / (k.sum() + 2.0)
        m[call_te == side] = train.margin[k].mean() if k.any() else train.margin.mean()
    return Forecast(p=p, call_vpt=call_te, margin=m)


def _baseline_forecast(name: str, train: Arrays, test: Arrays) -> Forecast:
    n = len(test.margin)
    if name in ("always-vpt", "always-ft"):
        return Forecast(p=np.full(n, _base_rate(train)), call_vpt=np.full(n, name == "always-vpt"),
                        margin=np.full(n, train.margin.mean()))
    if name == "size-only":
        mean, sd = train.fit(SIZE_ONLY_TERMS).predict(test.feats())
        p = stats.norm.cdf(mean / sd)
        return Forecast(p=p, call_vpt=p >= 0.5, margin=mean)
    if name == "paper-qualitative":
        return _paper_forecast(train, test)
    raise ValueError(name)


def validate(rows: list[StudyRow]) -> ValidationReport:
    """Nested leave-one-task-out evaluation of the rule and the baselines on the default backbone."""
    data = to_arrays(rows)
    n = len(data.margin)
    out = {k: Forecast(np.empty(n), np.empty(n, bool), np.empty(n)) for k in ("rule",) + BASELINES}
    sd_rule = np.empty(n)
    chosen: dict[str, int] = {}
    for t in data.tasks:
        test_mask = data.task == t
        train, test = data.subset(~test_mask), data.subset(test_mask)
        terms, _ = select_terms(train)
        key = " + ".join(terms[1:])
        chosen[key] = chosen.get(key, 0) + 1
        mean, sd = train.fit(terms).predict(test.feats())
        p = stats.norm.cdf(mean / sd)
        fc = out["rule"]
        fc.p[test_mask], fc.call_vpt[test_mask], fc.margin[test_mask] = p, p >= 0.5, mean
        sd_rule[test_mask] = sd
        for name in BASELINES:
            b = _baseline_forecast(name, train, test)
            out[name].p[test_mask], out[name].call_vpt[test_mask], out[name].margin[test_mask] = b.p, b.call_vpt, b.margin
    scores = {k: metrics.score(f.p, f.call_vpt, f.margin, data.margin) for k, f in out.items()}
    y = metrics.outcome(data.margin)
    rel = {k: metrics.reliability(f.p, y) for k, f in out.items()}
    beats = {k: scores["rule"].log_loss < scores[k].log_loss for k in BASELINES}
    keys = [(d, f, nt) for d, f, nt in zip(data.disparity, data.fid, data.n_train)]
    p = out["rule"].p
    decisive = (p >= DECISION["vpt_if_p_at_least"]) | (p <= DECISION["ft_if_p_at_most"])
    dec = {"n_decisive": int(decisive.sum()), "share_decisive": round(float(decisive.mean()), 6),
           "accuracy_when_decisive": round(metrics.sign_accuracy(p[decisive] >= 0.5, y[decisive]), 6)
           if decisive.any() else None}
    per_row = [{"task": str(data.task[i]), "n_train": int(data.n_train[i]), "margin": float(data.margin[i]),
                "pred_margin": round(float(out["rule"].margin[i]), 4), "pred_sd": round(float(sd_rule[i]), 4),
                "p_vpt": round(float(p[i]), 4)} for i in range(n)]
    return ValidationReport(
        rule=scores["rule"], baselines={k: scores[k] for k in BASELINES}, n_rows=n, n_tasks=len(data.tasks),
        reliability=rel, beats_on_log_loss=beats,
        ceiling_sign_accuracy=metrics.ceiling_sign_accuracy(keys, data.margin), decisive=dec,
        selected_terms=dict(sorted(chosen.items())), n_ties=int(np.sum(y == 0.5)), rows=per_row,
    )
