"""Successive halving across arms: an arm clearly behind stops early, its time goes to the rest.

Every arm gets an equal share of the budget. Its continued training pauses at ROUND_FRACTIONS of
its share (of its horizon with a step plan); when every running arm has paused, the arms are
compared on the shared val split with the pilot's own statistics: the leader is the arm with the
best evaluation so far, and an arm still running stops when it is *clearly* behind the leader,
i.e. the paired bootstrap 95 % interval of accuracy(leader) - accuracy(arm) is above zero AND the
exact McNemar test gives p < 0.05. A stopped arm keeps its best evaluation (status "stopped",
with the round, the pilot's elapsed seconds and the reason); the seconds left of its share are
split equally among the arms still running, which pause again at the next fraction of their
(now larger) share. Arms that are close to the leader are never stopped, so with no clear
loser the budget stays split equally. The whole budget holds for any number of arms: the shares
sum to what setup leaves, and each arm stops at its share.
"""

from __future__ import annotations

import numpy as np

from vptadvisor.pilot.arms import ARMS
from vptadvisor.pilot.state import ArmState, HalvingRound, Stop
from vptadvisor.pilot.stats import paired_difference

ROUND_FRACTIONS = (0.4, 0.7)
ALPHA = 0.05


def compare_round(
    arms: dict[str, ArmState], val_y: np.ndarray, round_no: int, elapsed: float, seed: int, budgeted: bool
) -> HalvingRound:
    """Stop the arms clearly behind the leader (module docstring); give their time to the others."""
    scored = {n: a for n, a in arms.items() if a.best is not None and a.phase != "failed"}
    accs = {n: a.best.accuracy for n, a in scored.items() if a.best is not None}
    if not accs:
        return HalvingRound(round=round_no, elapsed_seconds=elapsed, leader=None, accuracies={}, stopped=[])
    leader = max(accs, key=lambda n: (accs[n], -ARMS.index(n)))
    lead_best = scored[leader].best
    assert lead_best is not None
    lead_ok = np.asarray(lead_best.preds) == val_y
    stopped: list[str] = []
    for name, st in scored.items():
        if name == leader or st.finished or st.best is None:
            continue
        d = paired_difference(lead_ok, np.asarray(st.best.preds) == val_y, seed=seed)
        if d["interval"][0] > 0 and d["mcnemar_p"] < ALPHA:
            lo, hi = d["interval"]
            st.stopped = Stop(
                round=round_no,
                elapsed_seconds=round(elapsed, 3),
                arm_seconds=round(st.used, 3),
                reason=f"behind {leader} by {d['margin']:.3f} [{lo:.3f}, {hi:.3f}] "
                f"(McNemar p = {d['mcnemar_p']:.3g}) after {st.used:.0f}s",
            )
            st.phase = "stopped"
            stopped.append(name)
    if budgeted and stopped:
        spare = sum(max(0.0, (arms[n].share or 0.0) - arms[n].used) for n in stopped)
        for n in stopped:
            arms[n].share = arms[n].used
        running = [a for a in arms.values() if not a.finished]
        for a in running:
            a.share = (a.share or 0.0) + spare / max(1, len(running))
    return HalvingRound(
        round=round_no,
        elapsed_seconds=round(elapsed, 3),
        leader=leader,
        accuracies={n: round(v, 6) for n, v in accs.items()},
        stopped=stopped,
    )
