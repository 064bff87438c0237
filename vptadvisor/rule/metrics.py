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
N_BINS = 10  # equal-width bins of P(VPT better) for the reliability table and ECE


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
    lo: float
    hi: float
    n: int
    mean_p: float  # mean forecast P(VPT better) in the bin
    observed: float  # observed VPT-win frequency in the bin (ties count half)


def reliability(p: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> list[ReliabilityBin]:
    """Non-empty equal-width bins of the forecast; the last bin includes p = 1."""
    p = np.asarray(p, dtype=np.float64)
    idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
    out = []
    for b in range(n_bins):
        k = idx == b
        if k.any():
            out.append(ReliabilityBin(lo=b / n_bins, hi=(b + 1) / n_bins, n=int(k.sum()),
                                      mean_p=float(p[k].mean()), observed=float(y[k].mean())))
    return out


def ece(p: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error: sum over bins of (n_b / N) |observed_b - mean_p_b|."""
    bins = reliability(p, y, n_bins)
    n = sum(b.n for b in bins)
    return float(sum(b.n * abs(b.observed - b.mean_p) for b in bins) / n)


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


def ceiling_sign_accuracy(keys: list[tuple], margin: np.ndarray) -> float:
    """Best in-sample sign accuracy any rule can reach if it sees only ``keys`` (one tuple per row):
    rows with identical inputs must get the same call, so each input cell scores its majority."""
    y = outcome(margin)
    cells: dict[tuple, list[float]] = {}
    for k, v in zip(keys, y):
        cells.setdefault(k, []).append(float(v))
    total = 0.0
    for vals in cells.values():
        a = np.array(vals)
        total += max(sign_accuracy(np.ones_like(a), a), sign_accuracy(np.zeros_like(a), a)) * len(a)
    return total / len(y)
