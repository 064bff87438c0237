"""Wall-clock budget: parsing, fair shares, and the per-arm plan (search + continued training).

Each arm's plan is in steps. A short successive-halving search over K learning rates (K = 4, 2
or 1, depending on how many steps the arm can afford) ranks candidates by their mean pre-update
mini-batch loss over the rung's steps: every candidate of a rung trains on the same batches, and
a batch's loss is measured before the model has learned from it (prequential), so the ranking
needs no separate evaluation pass. Survivors double their steps each rung; the last survivor
continues to the arm's horizon. The search "wastes" about 35 % of the arm's steps at most.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from vptadvisor.errors import UsageError
from vptadvisor.pilot.arms import LR_CANDIDATES, WARMUP_FRACTION, family

_BUDGET_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
SEARCH_WASTE = 0.35  # largest share of an arm's steps spent on candidates that lose
MIN_RUNG_STEPS = 4


def parse_budget(text: str) -> float:
    """'90s', '30m', '2h', '1h30m' -> seconds. Anything else is a UsageError."""
    s = str(text).strip().lower()
    m = _BUDGET_RE.match(s)
    if not s or not m or not any(m.groups()):
        raise UsageError(f"Budget {text!r} is not a duration: write it like 90s, 30m, 2h or 1h30m.")
    h, mi, se = (float(g) if g else 0.0 for g in m.groups())
    seconds = h * 3600 + mi * 60 + se
    if seconds <= 0:
        raise UsageError(f"Budget {text!r} is zero: give the pilot some time, e.g. 30m.")
    return seconds


@dataclass
class ArmPlan:
    """Steps of one arm: candidates' base lrs, the cumulative steps per candidate at the end of
    each rung, and the horizon (total steps of the winner) that sets every candidate's schedule."""

    base_lrs: list[float]
    rungs: list[int]
    horizon: int
    warmup: int
    n_evals: int

    @property
    def search_steps(self) -> int:
        """Steps spent in the search, all candidates together."""
        total, prev, alive = 0, 0, len(self.base_lrs)
        for r in self.rungs:
            total += alive * (r - prev)
            prev, alive = r, max(1, alive // 2)
        return total

    @property
    def total_steps(self) -> int:
        """Every training step of the arm: search plus the winner's continuation."""
        return self.search_steps + self.horizon - (self.rungs[-1] if self.rungs else 0)

    def to_dict(self) -> dict:
        return asdict(self)


def plan_arm(arm: str, total_steps: int, n_evals: int = 4, base_lrs: list[float] | None = None) -> ArmPlan:
    """Split `total_steps` training steps of an arm into the search and the winner's horizon."""
    fam = family(arm)
    total_steps = max(1, int(total_steps))
    if base_lrs:
        k = len(base_lrs)
        lrs = list(base_lrs)
    else:
        k = (
            4
            if total_steps * SEARCH_WASTE / 4 >= MIN_RUNG_STEPS
            else 2
            if total_steps * SEARCH_WASTE >= MIN_RUNG_STEPS
            else 1
        )
        lrs = list(LR_CANDIDATES[fam][k])
    if k == 1:
        rungs: list[int] = []
    else:
        n_rungs = max(1, math.ceil(math.log2(k)))
        # waste per unit r: losers of rung j trained 2^j r steps; with halving that is k/2 * r per rung
        waste_units = sum((k // 2**j - max(1, k // 2 ** (j + 1))) * 2**j for j in range(n_rungs))
        r = max(1, int(total_steps * SEARCH_WASTE // max(1, waste_units)))
        while r > 1 and waste_units * r + r * 2 ** (n_rungs - 1) > total_steps:
            r -= 1
        rungs = [r * 2**j for j in range(n_rungs)]
    plan = ArmPlan(base_lrs=lrs, rungs=rungs, horizon=0, warmup=0, n_evals=max(1, int(n_evals)))
    plan.horizon = max(plan.rungs[-1] if rungs else 1, total_steps - (plan.search_steps - (rungs[-1] if rungs else 0)))
    plan.warmup = max(1, int(round(WARMUP_FRACTION[fam] * plan.horizon)))
    return plan


def peak_lr(base_lr: float, global_batch: int) -> float:
    """The protocols' scaling rule: actual (peak) learning rate = base * global_batch / 256."""
    return base_lr * global_batch / 256.0


def lr_at(base_lr: float, global_batch: int, step: int, warmup: int, progress: float) -> float:
    """Learning rate for `step`: base * batch/256, linear warm-up over `warmup` steps, then cosine
    decay in `progress` (fraction of the horizon done, 0..1)."""
    peak = peak_lr(base_lr, global_batch)
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def shares(available: float, arms: list[str]) -> dict[str, float]:
    """Equal wall-clock shares: every arm gets the same seconds."""
    per = max(0.0, available) / max(1, len(arms))
    return dict.fromkeys(arms, per)
