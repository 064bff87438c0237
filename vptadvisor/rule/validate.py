"""Leave-one-task-out (LOTO) evidence for the rule, its baselines and two external tests.

Folds: each of the 24 tasks is held out with all its rows (every size, the one-shot row, every
backbone family); the model is refitted on the rest (the full Gibbs sampler) and predicts them.
A held-out VTAB task's FID is its group mean with the model's within-group sd (what the table
knows), so the scores include the uncertainty of a task's own FID.

Reported (the JSON keys of ``vptadvisor study validate --format json``):
- ``rule`` and ``baselines.<name>``: on the 71 ViT-B/16 ImageNet-21k rows of the standard protocol,
  ``log_loss``, ``sign_accuracy``, ``brier``, ``ece`` (equal-count bins), ``margin_mae`` and
  ``ci`` (90 % task-bootstrap interval of each: whole tasks resampled, 1,000 times, seeded).
  Baselines (vptadvisor/rule/baselines.py) are refitted in every fold.
- ``differences.<baseline>``: rule minus baseline per metric, with the paired task-bootstrap 90 %
  interval (the same resampled tasks for both).
- ``external.one-shot``: the one-shot rows, in the fit, scored leave-one-task-out.
  ``external.vpt-paper``: the VPT paper's own VTAB-1k runs, never fitted, predicted by the rule
  fitted on everything (``task_held_out``: by the fold without that task).
- ``backbones.<family>``: LOTO scores on each family's rows.
- ``coverage``: share of rows inside the central 80 % predictive interval, per size band.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vptadvisor.rule import baselines, metrics, model
from vptadvisor.rule.families import DEFAULT_FAMILY, FAMILIES
from vptadvisor.rule.fit import DECISION, INTERVAL_LEVEL, fitted_rows, make_dataset
from vptadvisor.study.table import StudyRow

N_BOOT = 1000
SIZE_BANDS = [
    ("<400 (one-shot)", 0, 400),
    ("400-799", 400, 800),
    ("800-1,999", 800, 2000),
    ("2,000-9,999", 2000, 10000),
    (">=10,000", 10000, 10**9),
]
METRICS = ("log_loss", "sign_accuracy", "brier", "ece")


def _predict_rows(draws: model.Draws, rows: list[StudyRow]) -> np.ndarray:
    """(p_vpt, mean, q_lo, q_hi) per row, from the model's predictive for a new task."""
    noise = model.Noise.make(draws.n)
    w = model.t_weights(draws, noise)
    out = np.empty((len(rows), 4))
    for i, r in enumerate(rows):
        mu, sd = model.predictive(
            draws,
            noise,
            FAMILIES.index(r.backbone),
            1.0 if r.disparity == "high" else 0.0,
            r.fid,
            r.n_train,
            fid_sd=model.FID_WITHIN_SD if r.fid_source == "group-mean" else 0.0,
            w=w,
        )
        out[i] = (
            model.mixture_p_positive(mu, sd),
            mu.mean(),
            model.mixture_quantile(mu, sd, (1 - INTERVAL_LEVEL) / 2),
            model.mixture_quantile(mu, sd, (1 + INTERVAL_LEVEL) / 2),
        )
    return out


def _scores(p: np.ndarray, margin_pred: np.ndarray, margin: np.ndarray) -> dict[str, float]:
    return metrics.score(p, p >= 0.5, margin_pred, margin).to_dict()


def _with_ci(
    p: npt.NDArray[np.float64],
    call: npt.NDArray[np.bool_],
    mpred: npt.NDArray[np.float64],
    margin: npt.NDArray[np.float64],
    task: npt.NDArray[np.int_],
    boots: list[np.ndarray],
) -> dict[str, Any]:
    y = metrics.outcome(margin)
    d: dict[str, Any] = dict(metrics.score(p, call, mpred, margin).to_dict())
    vals: dict[str, list[float]] = {k: [] for k in METRICS}
    for idx in boots:
        vals["log_loss"].append(metrics.log_loss(p[idx], y[idx]))
        vals["sign_accuracy"].append(metrics.sign_accuracy(call[idx], y[idx]))
        vals["brier"].append(metrics.brier(p[idx], y[idx]))
        vals["ece"].append(metrics.ece(p[idx], y[idx]))
    d["ci"] = {k: metrics.interval(np.array(v)) for k, v in vals.items()}
    d["n_rows"] = len(p)
    d["_boot"] = {k: np.array(v) for k, v in vals.items()}
    return d


def loto(rows: list[StudyRow], sampler: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """LOTO predictions for every fitted row, and task-held-out predictions of the external rows."""
    fr = fitted_rows(rows)
    ext = [r for r in rows if r.evidence == "external"]
    pred = np.empty((len(fr), 4))
    pred_ext = np.full((len(ext), 4), np.nan)
    for t in sorted({r.task for r in fr}):
        train = [r for r in fr if r.task != t]
        draws = model.gibbs(make_dataset(train).data, **(sampler or {}))
        held = [i for i, r in enumerate(fr) if r.task == t]
        pred[held] = _predict_rows(draws, [fr[i] for i in held])
        held_ext = [i for i, r in enumerate(ext) if r.task == t]
        if held_ext:
            pred_ext[held_ext] = _predict_rows(draws, [ext[i] for i in held_ext])
    return pred, pred_ext


def _baseline_forecasts(vit: list[StudyRow]) -> dict[str, baselines.Forecast]:
    data = baselines.Rows(
        task=np.array([r.task for r in vit]),
        disparity=np.array([1.0 if r.disparity == "high" else 0.0 for r in vit]),
        fid=np.array([r.fid for r in vit]),
        n_train=np.array([r.n_train for r in vit], dtype=float),
        margin=np.array([r.margin for r in vit]),
    )
    n = len(vit)
    out = {k: baselines.Forecast(np.empty(n), np.empty(n, bool), np.empty(n)) for k in baselines.BASELINES}
    for t in sorted(set(data.task.tolist())):
        test = data.task == t
        for name in baselines.BASELINES:
            f = baselines.forecast(name, data.subset(~test), data.subset(test))
            out[name].p[test], out[name].call_vpt[test], out[name].margin[test] = f.p, f.call_vpt, f.margin
    return out


def validate(
    rows: list[StudyRow],
    sampler: dict[str, int] | None = None,
    full_draws: model.Draws | None = None,
    n_boot: int = N_BOOT,
) -> dict[str, Any]:
    """The whole LOTO report as a JSON-ready dict (module docstring)."""
    fr = fitted_rows(rows)
    pred, pred_ext = loto(rows, sampler)
    is_vit = np.array([r.backbone == DEFAULT_FAMILY and r.evidence == "fit" for r in fr])
    vit = [r for r, k in zip(fr, is_vit) if k]
    margin = np.array([r.margin for r in vit])
    task = np.array([r.task for r in vit])
    p, mpred = pred[is_vit, 0], pred[is_vit, 1]
    boots = metrics.task_bootstrap(task, n_boot)
    rule = _with_ci(p, p >= 0.5, mpred, margin, task, boots)
    base_fc = _baseline_forecasts(vit)
    base = {k: _with_ci(f.p, f.call_vpt, f.margin, margin, task, boots) for k, f in base_fc.items()}
    diffs = {}
    for k, b in base.items():
        diffs[k] = {
            m: {"value": round(rule[m] - b[m], 6), "ci": metrics.interval(rule["_boot"][m] - b["_boot"][m])}
            for m in METRICS
        }
    beats = {k: rule["log_loss"] < b["log_loss"] for k, b in base.items()}
    y = metrics.outcome(margin)
    decisive = (p >= DECISION["vpt_if_p_at_least"]) | (p <= DECISION["ft_if_p_at_most"])
    fams = {}
    for fam in FAMILIES:
        sel = np.array([r.backbone == fam and r.evidence == "fit" for r in fr])
        ftask = np.array([r.task for r, kk in zip(fr, sel) if kk])
        fm = np.array([r.margin for r, kk in zip(fr, sel) if kk])
        inside = (pred[sel, 2] <= fm) & (fm <= pred[sel, 3])
        fams[fam] = _public(
            _with_ci(pred[sel, 0], pred[sel, 0] >= 0.5, pred[sel, 1], fm, ftask, metrics.task_bootstrap(ftask, n_boot))
        )
        fams[fam]["coverage80"] = round(float(inside.mean()), 6)
    one = np.array([r.evidence == "one-shot" for r in fr])
    one_rows = [r for r, k in zip(fr, one) if k]
    one_y = metrics.outcome(np.array([r.margin for r in one_rows]))
    const = np.array([np.mean([v for r2, v in zip(one_rows, one_y) if r2.task != r.task]) for r in one_rows])
    external = {
        "one-shot": {
            "log_loss": round(metrics.log_loss(pred[one, 0], one_y), 6),
            "sign_accuracy": round(metrics.sign_accuracy(pred[one, 0] >= 0.5, one_y), 6),
            "brier": round(metrics.brier(pred[one, 0], one_y), 6),
            "n_rows": int(one.sum()),
            "scored": "leave-one-task-out (the one-shot rows are in the fit)",
            "constant_log_loss": round(metrics.log_loss(const, one_y), 6),
        }
    }
    ext = [r for r in rows if r.evidence == "external"]
    if ext:
        draws = full_draws if full_draws is not None else model.gibbs(make_dataset(fr).data, **(sampler or {}))
        pe = _predict_rows(draws, ext)[:, 0]
        ye = metrics.outcome(np.array([r.margin for r in ext]))
        external["vpt-paper"] = {
            "log_loss": round(metrics.log_loss(pe, ye), 6),
            "sign_accuracy": round(metrics.sign_accuracy(pe >= 0.5, ye), 6),
            "brier": round(metrics.brier(pe, ye), 6),
            "n_rows": len(ext),
            "scored": "rule fitted on all tasks; never fitted on these rows",
            "task_held_out": {
                "log_loss": round(metrics.log_loss(pred_ext[:, 0], ye), 6),
                "sign_accuracy": round(metrics.sign_accuracy(pred_ext[:, 0] >= 0.5, ye), 6),
            },
        }
    cov_rows = np.array([r.backbone == DEFAULT_FAMILY for r in fr])
    coverage = []
    for name, lo, hi in SIZE_BANDS:
        band = cov_rows & np.array([lo <= r.n_train < hi for r in fr])
        if not band.any():
            continue
        ym = np.array([r.margin for r, kk in zip(fr, band) if kk])
        hit = ((pred[band, 2] <= ym) & (ym <= pred[band, 3])).astype(float)
        btask = np.array([r.task for r, kk in zip(fr, band) if kk])
        bs = [hit[idx].mean() for idx in metrics.task_bootstrap(btask, n_boot)]
        coverage.append(
            {
                "band": name,
                "n_rows": int(band.sum()),
                "coverage": round(float(hit.mean()), 6),
                "ci": metrics.interval(np.array(bs)),
            }
        )
    per_row = [
        {
            "task": r.task,
            "family": r.backbone,
            "evidence": r.evidence,
            "n_train": r.n_train,
            "margin": r.margin,
            "pred_margin": round(float(pred[i, 1]), 4),
            "interval80": [round(float(pred[i, 2]), 4), round(float(pred[i, 3]), 4)],
            "p_vpt": round(float(pred[i, 0]), 4),
        }
        for i, r in enumerate(fr)
    ]
    losers = [k for k, v in beats.items() if not v]
    return {
        "rule": _public(rule),
        "baselines": {k: _public(v) for k, v in base.items()},
        "differences": diffs,
        "n_rows": len(vit),
        "n_tasks": len(set(task.tolist())),
        "n_ties": int(np.sum(y == 0.5)),
        "beats_baselines_on_log_loss": beats,
        "beats_all_baselines_on_log_loss": not losers,
        "statement": "The rule beats every baseline on leave-one-task-out log loss."
        if not losers
        else "The rule does NOT beat every baseline on leave-one-task-out log loss: it loses to or ties with "
        + ", ".join(losers)
        + ".",
        "external": external,
        "backbones": fams,
        "coverage": {
            "level": INTERVAL_LEVEL,
            "bands": coverage,
            "rows": "ViT-B/16 ImageNet-21k (standard and one-shot)",
        },
        "calibration": {
            "bins": [vars(b) for b in metrics.reliability(p, y)],
            "ece_if_calibrated": round(metrics.ece_if_calibrated(p), 6),
        },
        "decisive": {
            "n_decisive": int(decisive.sum()),
            "share_decisive": round(float(decisive.mean()), 6),
            "accuracy_when_decisive": round(metrics.sign_accuracy(p[decisive] >= 0.5, y[decisive]), 6)
            if decisive.any()
            else None,
        },
        "rows": per_row,
    }


def _public(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not k.startswith("_")}
