"""An arm's learning-rate search: successive halving over its candidates.

Candidates of a rung train one after the other on the same batches and are compared on the steps
they all trained (the common prefix of the rung) by their mean pre-update loss, so a rung cut
short by the clock stays fair: with a budget the search may use at most SEARCH_CAP of the share,
and a slower machine than calibrated shrinks the rung for the candidates still to go.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from vptadvisor.pilot.clock import SEARCH_CAP
from vptadvisor.pilot.state import Candidate

if TYPE_CHECKING:
    from vptadvisor.pilot.arm import ArmRunner


def run_search(r: ArmRunner) -> None:
    st, plan = r.st, r.clock.plan
    cands = st.candidates
    while st.phase == "search":
        j = st.rung
        prev = plan.rungs[j - 1] if j else 0
        if st.rung_target is None:
            st.rung_target = plan.rungs[j]
        out_of_time = False
        for k in list(st.queue):
            cand = cands[k]
            target = rung_target(r, cand, prev)
            live = r.restore(cand)
            r.say(f"{r.arm}: rung {j + 1}/{len(plan.rungs)}, lr {cand.lr:.3g}, to step {target}")
            outcome = r.train(live, cand, until=target)
            if outcome == "diverged":
                r.forget(cand)
            else:
                r.save_candidate(live, cand)
            st.queue.remove(k)
            r.checkpoint()
            del live
            if outcome == "deadline":
                out_of_time = True
                break
        alive = [c for c in cands if c.status == "alive"]
        if not alive:
            st.phase, st.final_reason = "failed", "every learning-rate candidate diverged"
            return
        ran = [c for c in alive if c.steps > prev]  # those that trained in this rung
        if not ran:  # the share ran out before anyone trained in this rung: the previous ranking stands
            ran, hi, lo = alive, prev, (plan.rungs[j - 2] if j > 1 else 0)
        else:
            hi, lo = min(c.steps for c in ran), prev
        for c in ran:
            c.scores.append(float(np.mean(c.losses[lo:hi])) if hi > lo else math.inf)
        ranked = sorted(ran, key=lambda c: (c.scores[-1], c.base_lr))
        last = out_of_time or j + 1 >= len(plan.rungs)
        st.truncated = st.truncated or out_of_time
        keep = ranked[:1] if last else ranked[: max(1, math.ceil(len(ranked) / 2))]
        for c in cands:
            if c.status == "alive" and c not in keep:
                c.status = "dropped"
                if c not in ran:
                    c.reason = "the arm's share ran out before this candidate trained in the rung"
                r.forget(c)
        st.rung_target = None
        if last:
            st.winner, st.phase = keep[0].index, "final"
            keep[0].status = "winner"
            st.progress = st.final_start = keep[0].steps / max(1, plan.horizon)
        else:
            st.rung, st.queue = j + 1, [c.index for c in keep]
        r.checkpoint()


def rung_target(r: ArmRunner, cand: Candidate, prev: int) -> int:
    """The current rung's target step for `cand`: the plan's, lowered (never raised) when the
    candidates still to train in this rung would take the search past SEARCH_CAP of the share."""
    st = r.st
    target = int(st.rung_target or 0)
    if r.clock.budgeted:
        values = [float(target)]
        if r.ctx.dist.main and st.t_step:
            left = SEARCH_CAP * (st.share or 0.0) - r.clock.used()
            allowed = math.floor(left / (len(st.queue) * st.t_step))
            values = [float(max(prev + 1, min(target, cand.steps + allowed)))]
        new = int(r.ctx.dist.from_main(values)[0])
        if new < target:
            st.notes.append(
                f"rung {st.rung + 1} shortened from step {target} to {new}: the machine ran slower than calibrated"
            )
            st.rung_target = target = new
    return target
