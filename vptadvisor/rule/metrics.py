"""Scores for P(VPT beats FT) forecasts against published outcomes.

Outcome of a row: 1 if VPT beat FT (margin > 0), 0 if FT won (margin < 0), 0.5 for a printed tie
(margin 0.0 at the paper's precision; two rows: Clevr/distance at 400 and 800 images). A tie is
scored as half a win for either side: it earns half credit in sign accuracy whatever the call, and
enters the Brier score and log loss as the soft label 0.5 (cross-entropy against 0.5/0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before the log
N_BINS = 5  # equal-count bins of P(VPT better) for the reliability table and ECE (about 14 rows per bin on 71)


def outcome(margin: np.ndarray) -> np.ndarray:
    m = np.asarray(margin, dtype=np.float64)
    return np.where(m > 0, 1.0, np.where(m < 0, 0.0, 0.5))


def sign_accuracy(call_vpt: np.ndarray, y: np.ndarray) -> float:
    """Share of rows where the hard call (True = VPT) matches the winner; ties count half."""
    call = np.asarray(call_vpt, dtype=np.float64)
    credit = np.where(y == 0.5, 0.5, (call == y).astype(np.float64))
    return float(np.mean(credit))


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(p) - y) ** 2))


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    pc = np.clip(np.asarray(p, dtype=np.float64), LOG_EPS, 1 - LOG_EPS)
    return float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))


@dataclass(frozen=True)
class ReliabilityBin:
    lo: float  # smallest forecast in the bin
    hi: float  # largest forecast in the bin
    n: int
    mean_p: float  # mean forecast P(VPT better) in the bin
    observed: float  # observed VPT-win frequency in the bin (ties count half)


def reliability(p: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> list[ReliabilityBin]:
    """Equal-count bins: rows sorted by forecast (stable), split into ``n_bins`` near-equal parts.

    With 71 rows, ten equal-width bins leave several bins with a handful of rows, and a perfectly
    calibrated forecaster would still average an ECE of about 0.11 there; equal-count bins keep
    every bin's observed frequency estimable."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, min(n_bins, len(p))):
        if len(part):
            out.append(
                ReliabilityBin(
                    lo=float(p[part].min()),
                    hi=float(p[part].max()),
                    n=len(part),
                    mean_p=float(p[part].mean()),
                    observed=float(y[part].mean()),
                )
            )
    return out


def ece(p: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error over equal-count bins: sum_b (n_b / N) |observed_b - mean_p_b|."""
    bins = reliability(p, y, n_bins)
    n = sum(b.n for b in bins)
    return float(sum(b.n * abs(b.observed - b.mean_p) for b in bins) / n)


def ece_if_calibrated(p: np.ndarray, n_sim: int = 1000, seed: int = 0) -> float:
    """Mean ECE a perfectly calibrated forecaster would get with these forecasts and this many rows
    (outcomes drawn as Bernoulli(p)): the floor that finite samples put under the ECE."""
    rng = np.random.default_rng(seed)
    p = np.asarray(p, dtype=np.float64)
    return float(np.mean([ece(p, (rng.random(len(p)) < p).astype(np.float64)) for _ in range(n_sim)]))


@dataclass(frozen=True)
class Scores:
    """The JSON contract's five numbers for one method."""

    sign_accuracy: float
    brier: float
    log_loss: float
    margin_mae: float
    ece: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 6) for k in ("sign_accuracy", "brier", "log_loss", "margin_mae", "ece")}


def score(p: np.ndarray, call_vpt: np.ndarray, margin_pred: np.ndarray, margin: np.ndarray) -> Scores:
    y = outcome(margin)
    return Scores(
        sign_accuracy=sign_accuracy(call_vpt, y),
        brier=brier(p, y),
        log_loss=log_loss(p, y),
        margin_mae=float(np.mean(np.abs(np.asarray(margin_pred) - np.asarray(margin)))),
        ece=ece(p, y),
    )


def task_bootstrap(task: np.ndarray, n_boot: int = 1000, seed: int = 0) -> list[np.ndarray]:
    """Row indices of ``n_boot`` resamples of whole tasks (with replacement): every row of a drawn
    task enters once per draw, so rows of one task stay together as in leave-one-task-out."""
    rng = np.random.default_rng(seed)
    names = sorted(set(np.asarray(task).tolist()))
    rows = [np.nonzero(np.asarray(task) == t)[0] for t in names]
    out = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(names), size=len(names))
        out.append(np.concatenate([rows[i] for i in pick]))
    return out


def interval(values: np.ndarray, level: float = 0.9) -> list[float]:
    lo, hi = np.percentile(np.asarray(values, dtype=np.float64), [50 * (1 - level), 50 * (1 + level)])
    return [round(float(lo), 6), round(float(hi), 6)]
