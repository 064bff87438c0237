"""An arm's clock and plan: time used and left of its share, and when to stop or pause.

Rank 0's clock decides; the other processes follow it through Dist.from_main, so every process
takes the same steps. Budget mode: the learning-rate schedule's progress is re-estimated every
step from the time left (p <- p + (1 - p) / steps_left), so the cosine ends when the arm's share
does, however busy the machine is; with a fixed step plan this is exactly p = step / horizon.
"""

from __future__ import annotations

import math
import time

from vptadvisor.pilot.budget import ArmPlan
from vptadvisor.pilot.dist import Dist
from vptadvisor.pilot.state import ArmState, Candidate

SAFETY = 0.02  # fraction of a share kept free for jitter
MAX_EVALS, EVAL_SHARE = 6, 0.15
PAUSE_EVAL_CAP = 0.1  # an arm pauses for the arm halving only when one evaluation costs <= 10 % of its share
SEARCH_CAP = 0.75  # largest share of an arm's time the learning-rate search may take (K = 2 plans ~70 %)
STOP_CODES = {0.0: None, 1.0: "horizon", 2.0: "deadline", 3.0: "pause"}


class ArmClock:
    def __init__(self, st: ArmState, dist: Dist, *, steps: int | None, budgeted: bool):
        self.st, self.dist = st, dist
        self.steps, self.budgeted = steps, budgeted
        self.t0 = time.perf_counter()
        self.used0 = float(st.used)

    @property
    def plan(self) -> ArmPlan:
        assert self.st.plan is not None
        return ArmPlan(**self.st.plan.model_dump())

    def used(self) -> float:
        return self.used0 + time.perf_counter() - self.t0

    def left(self) -> float:
        share = self.st.share or 0.0
        return share - self.used() - SAFETY * share if self.budgeted else math.inf

    def timed(self, key: str, t_start: float) -> None:
        self.st.time[key] = self.st.time.get(key, 0.0) + time.perf_counter() - t_start

    def pause_due(self, cand: Candidate) -> bool:
        """Whether the arm halving wants this arm to pause for a comparison (rank 0's view)."""
        st = self.st
        if st.round_limit is None:
            return False
        if self.budgeted:
            share = st.share or 0.0
            if (st.t_eval or 0.0) > PAUSE_EVAL_CAP * share:  # a comparison would cost too much of the share
                return False
            return self.used() >= st.round_limit * share
        return cand.steps >= math.ceil(st.round_limit * self.plan.horizon)

    def decide(self, cand: Candidate, final: bool, until: int | None) -> tuple[str | None, float]:
        """(why to stop or None, steps left including this one), decided on rank 0: the step plan
        ends the search rung / the horizon, the clock ends the share, the arm halving pauses."""
        st, plan = self.st, self.plan
        values = [0.0, 0.0]
        if self.dist.main:
            by_plan, by_time = math.inf, math.inf
            if not final or not self.budgeted or self.steps is not None:
                by_plan = (plan.horizon if final else (until or 0)) - cand.steps
            if self.budgeted:
                t_step, t_eval = st.t_step or 0.0, st.t_eval or 0.0
                evals_left = max(1, (st.final_evals or 1) - len(st.evals)) if final else 1
                time_left = self.left() - evals_left * t_eval
                # round, not floor: a last step that half fits is taken (the 2 % safety absorbs it)
                by_time = math.floor(time_left / t_step + 0.5) if t_step > 0 else math.inf
            why = 1.0 if by_plan < 1 else 2.0 if by_time < 1 else 3.0 if final and self.pause_due(cand) else 0.0
            values = [why, float(min(by_plan, by_time, 1e12))]
        why, left = self.dist.from_main(values)
        return STOP_CODES[why], left
