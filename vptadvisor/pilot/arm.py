"""One arm of the pilot: calibrate, plan, successive-halving LR search, continued training.

The arm's whole progress lives in a JSON-able `state` dict (plus candidate tensor files), saved
at every candidate switch and every `checkpoint_every` seconds, so a killed run resumes where
its last checkpoint was. With a step plan (`steps=`) everything is a function of the step and
the seed: a resumed run repeats the uninterrupted one exactly.

Budget mode: the learning-rate schedule's progress is re-estimated every step from the time
left (p <- p + (1 - p) / steps_left), so the cosine ends when the arm's share does, however busy
the machine is; with a fixed step plan this is exactly p = step / horizon.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from vptadvisor.pilot.budget import ArmPlan, lr_at, peak_lr, plan_arm
from vptadvisor.pilot.engine import ArmEngine, Context, Live
from vptadvisor.pilot.memory import PeakMemory

SAFETY = 0.02  # fraction of a share kept free for jitter
MAX_EVALS, EVAL_SHARE = 6, 0.15
SEARCH_CAP = 0.75  # largest share of an arm's time the learning-rate search may take (K = 2 plans ~70 %)


class PilotInterrupted(Exception):
    """Ctrl-C / SIGTERM: the run was checkpointed and can be resumed."""


def new_arm_state(arm: str, share: float | None) -> dict:
    return {
        "name": arm, "phase": "new", "share": share, "used": 0.0, "plan": None, "t_step": None,
        "t_eval": None, "candidates": [], "rung": 0, "queue": [], "winner": None, "progress": 0.0,
        "evals": [], "final_start": 0.0, "final_evals": None, "best": None, "truncated": False, "notes": [], "final_reason": None,
        "time": {"calibration": 0.0, "search": 0.0, "train": 0.0, "eval": 0.0, "checkpoint": 0.0},
        "train_images": 0, "train_seconds": 0.0, "eval_images": 0, "eval_seconds": 0.0,
        "peak_memory_bytes": 0, "baseline_bytes": 0, "memory_method": None,
        "trainable_params": None, "total_params": None, "steps_by_session": {},
    }


class ArmRunner:
    def __init__(self, ctx: Context, state: dict, save_state: Callable[[], None], *, steps: int | None,
                 budgeted: bool, base_lrs: list[float] | None, n_evals: int = 4, session: int = 0,
                 progress: Callable[[str], None] | None = None):
        self.ctx, self.st, self.save_state = ctx, state, save_state
        self.arm = state["name"]
        self.engine = ArmEngine(ctx, self.arm)
        self.steps, self.budgeted, self.base_lrs, self.n_evals = steps, budgeted, base_lrs, n_evals
        self.session = str(session)
        self.say = progress if (progress and ctx.dist.main) else (lambda _m: None)
        self.t0 = time.perf_counter()
        self.used0 = float(state["used"])
        self.last_ckpt = time.perf_counter()
        self.best_full_state: dict | None = None
        self.live: Live | None = None
        self.first_live: Live | None = None  # candidate 0 after its timed first step (budget mode)
        self._obsolete: list[str] = []  # files to delete once state.json no longer names them

    # -- clock (rank 0's clock decides; the others follow through Dist.from_main)
    def used(self) -> float:
        return self.used0 + time.perf_counter() - self.t0

    def left(self) -> float:
        return self.st["share"] - self.used() - SAFETY * self.st["share"] if self.budgeted else math.inf

    def _timed(self, key: str, t_start: float) -> None:
        self.st["time"][key] += time.perf_counter() - t_start

    @property
    def plan(self) -> ArmPlan:
        return ArmPlan(**self.st["plan"])

    def run(self) -> dict:
        st = self.st
        with PeakMemory(self.ctx.device) as mem:
            try:
                if st["phase"] == "new":
                    self._start()
                if st["phase"] == "search":
                    self._search()
                if st["phase"] == "final":
                    self._final()
            finally:
                st["used"] = self.used()
        st["peak_memory_bytes"] = max(int(st["peak_memory_bytes"]), int(mem.peak))
        st["baseline_bytes"] = int(mem.baseline) if not st["baseline_bytes"] else st["baseline_bytes"]
        st["memory_method"] = mem.method
        if self.ctx.dist.enabled:  # the largest process's peak
            st["peak_memory_bytes"] = int(self.ctx.dist.max_(float(st["peak_memory_bytes"])))
        return st

    # -- phases
    def _start(self) -> None:
        """Plan the arm. With a budget, the plan needs the step time: the first step of the first
        candidate is timed before its optimizer update (the gradients do not depend on the learning
        rate, and every candidate starts from the same initial state), so calibration costs nothing;
        evaluation time is estimated from that step's forward pass."""
        st, ctx = self.st, self.ctx
        st["trainable_params"], st["total_params"] = self.engine.parameter_counts()
        n_evals, total, first = self.n_evals, self.steps, None
        if self.budgeted:
            t = time.perf_counter()
            live = self.engine.build(0.0)
            t1 = time.perf_counter()
            loss, reason, interrupted, t_fwd = self.engine.forward_backward(live, 0)
            t2 = time.perf_counter()
            n_val = int(ctx.bank.val_y.numel())
            per_process = math.ceil(n_val / ctx.dist.world)
            t_step, t_eval = ctx.dist.from_main([t2 - t1, t_fwd * per_process / ctx.local_batch])
            st["t_step"], st["t_eval"] = t_step, t_eval
            self._timed("calibration", t)
            avail = self.left() + t_step  # this step is already paid for
            n_evals = int(max(1, min(MAX_EVALS, EVAL_SHARE * avail // max(t_eval, 1e-9))))
            fit = int(max(1, (avail - n_evals * t_eval) // max(t_step, 1e-9)))
            total = fit if total is None else min(total, fit)
            if avail < t_step + t_eval:
                st["notes"].append(f"share of {st['share']:.0f}s is too short for one step plus one evaluation")
            first = (live, loss, reason, interrupted, t2 - t1)
        plan = plan_arm(self.arm, total or 1, n_evals, self.base_lrs)
        st["plan"] = plan.to_dict()
        st["candidates"] = [
            {"index": k, "base_lr": lr, "lr": peak_lr(lr, ctx.global_batch), "status": "alive", "steps": 0,
             "losses": [], "scores": [], "reason": None, "file": None}
            for k, lr in enumerate(plan.base_lrs)
        ]
        st["queue"] = list(range(len(plan.base_lrs)))
        st["phase"] = "search" if plan.rungs else "final"
        st["winner"] = None if plan.rungs else 0
        self.say(f"{self.arm}: {len(plan.base_lrs)} lr candidates, rungs {plan.rungs}, horizon {plan.horizon} steps")
        if first is not None:
            self._finish_first_step(*first)
        self._checkpoint()

    def _finish_first_step(self, live: Live, loss: float, reason: str | None, interrupted: bool, dt: float) -> None:
        """Apply the timed first step as step 0 of candidate 0 (see _start)."""
        st, plan = self.st, self.plan
        cand = st["candidates"][0]
        if interrupted:
            self.engine.apply(live, None)
            self._checkpoint()
            raise PilotInterrupted()
        if reason is not None:
            self.engine.apply(live, None)
            cand["status"], cand["reason"] = "diverged", f"step 0: {reason}"
            if st["phase"] == "search":
                st["queue"].remove(0)
            return
        self.engine.apply(live, lr_at(cand["base_lr"], self.ctx.global_batch, 0, plan.warmup, 0.0))
        self._record_step(cand, loss, dt)
        if st["phase"] == "final":
            st["progress"] = 1.0 / max(1, plan.horizon)
        self.first_live = live

    def _search(self) -> None:
        """Successive halving. Candidates of a rung train one after the other on the same batches and
        are compared on the steps they all trained (the common prefix of the rung), so a rung cut
        short by the clock stays fair: with a budget the search may use at most SEARCH_CAP of the
        share, and a slower machine than calibrated shrinks the rung for the candidates still to go."""
        st, plan = self.st, self.plan
        cands = st["candidates"]
        while st["phase"] == "search":
            j = st["rung"]
            prev = plan.rungs[j - 1] if j else 0
            st.setdefault("rung_target", plan.rungs[j])
            out_of_time = False
            for k in list(st["queue"]):
                cand = cands[k]
                target = self._rung_target(cand, prev)
                live = self._restore(cand)
                self.say(f"{self.arm}: rung {j + 1}/{len(plan.rungs)}, lr {cand['lr']:.3g}, to step {target}")
                outcome = self._train(live, cand, until=target)
                if outcome == "diverged":
                    self._forget(cand)
                else:
                    self._save_candidate(live, cand)
                st["queue"].remove(k)
                self._checkpoint()
                del live
                if outcome == "deadline":
                    out_of_time = True
                    break
            alive = [c for c in cands if c["status"] == "alive"]
            if not alive:
                st["phase"], st["final_reason"] = "failed", "every learning-rate candidate diverged"
                return
            ran = [c for c in alive if c["steps"] > prev]  # those that trained in this rung
            if not ran:  # the share ran out before anyone trained in this rung: the previous ranking stands
                ran, hi, lo = alive, prev, (plan.rungs[j - 2] if j > 1 else 0)
            else:
                hi, lo = min(c["steps"] for c in ran), prev
            for c in ran:
                c["scores"].append(float(np.mean(c["losses"][lo:hi])) if hi > lo else math.inf)
            ranked = sorted(ran, key=lambda c: (c["scores"][-1], c["base_lr"]))
            last = out_of_time or j + 1 >= len(plan.rungs)
            st["truncated"] = st["truncated"] or out_of_time
            keep = ranked[:1] if last else ranked[: max(1, math.ceil(len(ranked) / 2))]
            for c in cands:
                if c["status"] == "alive" and c not in keep:
                    c["status"] = "dropped"
                    if c not in ran:
                        c["reason"] = "the arm's share ran out before this candidate trained in the rung"
                    self._forget(c)
            st.pop("rung_target", None)
            if last:
                st["winner"], st["phase"] = keep[0]["index"], "final"
                keep[0]["status"] = "winner"
                st["progress"] = st["final_start"] = keep[0]["steps"] / max(1, plan.horizon)
            else:
                st["rung"], st["queue"] = j + 1, [c["index"] for c in keep]
            self._checkpoint()

    def _rung_target(self, cand: dict, prev: int) -> int:
        """The current rung's target step for `cand`: the plan's, lowered (never raised) when the
        candidates still to train in this rung would take the search past SEARCH_CAP of the share."""
        st = self.st
        target = int(st["rung_target"])
        if self.budgeted:
            values = [float(target)]
            if self.ctx.dist.main and st["t_step"]:
                left = SEARCH_CAP * st["share"] - self.used()
                allowed = math.floor(left / (len(st["queue"]) * st["t_step"]))
                values = [float(max(prev + 1, min(target, cand["steps"] + allowed)))]
            new = int(self.ctx.dist.from_main(values)[0])
            if new < target:
                st["notes"].append(f"rung {st['rung'] + 1} shortened from step {target} to {new}: "
                                   "the machine ran slower than calibrated")
                st["rung_target"] = target = new
        return target

    def _final(self) -> None:
        st, plan = self.st, self.plan
        if st.get("final_evals") is None:
            # with a budget, as many evaluations as fit in EVAL_SHARE of the time left now (the
            # search may have run longer than planned): time saved on evaluations goes to training
            n = plan.n_evals
            if self.budgeted and self.ctx.dist.main and st["t_eval"]:
                n = int(max(1, min(plan.n_evals, EVAL_SHARE * max(0.0, self.left()) // st["t_eval"])))
            st["final_evals"] = int(self.ctx.dist.from_main([float(n)])[0])
        cand = st["candidates"][st["winner"]]
        cand["status"] = "winner"
        live = self._restore(cand)
        st["final_reason"] = self._train(live, cand, until=None)
        if st["final_reason"] == "diverged" and not st["evals"]:
            st["phase"] = "failed"
            st["final_reason"] = f"the learning rate {cand['lr']:.3g} diverged before any evaluation"
            return
        if not st["evals"] or st["evals"][-1]["step"] != cand["steps"]:
            self._evaluate(live, cand)
        st["phase"] = "done"
        self.live = live

    # -- pieces
    def _restore(self, cand: dict) -> Live:
        if self.first_live is not None and cand["index"] == 0:  # still in memory after the timed first step
            live, self.first_live = self.first_live, None
            return live
        state = self.ctx.run.load_tensors(cand["file"]) if cand["file"] else None
        return self.engine.build(cand["base_lr"], state)

    def _forget(self, cand: dict) -> None:
        if cand["file"]:
            self._obsolete.append(cand["file"])
        cand["file"] = None

    def _save_candidate(self, live: Live, cand: dict) -> None:
        t = time.perf_counter()
        old = cand["file"]
        cand["file"] = self.engine.save_candidate(self.ctx.run, live, cand["index"], cand["steps"])
        if old and old != cand["file"]:
            self._obsolete.append(old)
        self._timed("checkpoint", t)

    def _checkpoint(self) -> None:
        """Write state.json (rank 0), then delete the files it no longer names."""
        t = time.perf_counter()
        self.st["used"] = self.used()
        if self.ctx.dist.main:
            self.save_state()
            for name in self._obsolete:
                self.ctx.run.remove(name)
        self._obsolete = []
        self.ctx.dist.barrier()
        self.last_ckpt = time.perf_counter()
        self._timed("checkpoint", t)

    def _decide(self, cand: dict, final: bool, until: int | None) -> tuple[str | None, float]:
        """(why to stop or None, steps left including this one), decided on rank 0: the step plan
        ends the search rung / the horizon, the clock ends the share."""
        st, plan = self.st, self.plan
        values = [0.0, 0.0]
        if self.ctx.dist.main:
            by_plan, by_time = math.inf, math.inf
            if not final or not self.budgeted or self.steps is not None:
                by_plan = (plan.horizon if final else until) - cand["steps"]
            if self.budgeted:
                t_step, t_eval = st["t_step"] or 0.0, st["t_eval"] or 0.0
                evals_left = max(1, st["final_evals"] - len(st["evals"])) if final else 1
                time_left = self.left() - evals_left * t_eval
                # round, not floor: a last step that half fits is taken (the 2 % safety absorbs it)
                by_time = math.floor(time_left / t_step + 0.5) if t_step > 0 else math.inf
            why = 1.0 if by_plan < 1 else 2.0 if by_time < 1 else 0.0
            values = [why, float(min(by_plan, by_time, 1e12))]
        why, left = self.ctx.dist.from_main(values)
        return {0.0: None, 1.0: "horizon", 2.0: "deadline"}[why], left

    def _train(self, live: Live, cand: dict, until: int | None) -> str:
        """Train `cand` to step `until` (search) or to the horizon / end of the share (final)."""
        st, plan, ctx = self.st, self.plan, self.ctx
        final = until is None
        key = "train" if final else "search"
        while True:
            why, left = self._decide(cand, final, until)
            if why is not None:
                return why
            step = cand["steps"]
            progress = st["progress"] if final else step / max(1, plan.horizon)
            lr = lr_at(cand["base_lr"], ctx.global_batch, step, plan.warmup, progress)
            t = time.perf_counter()
            loss, reason, interrupted = self.engine.step(live, step, lr)
            dt = time.perf_counter() - t
            if interrupted:
                self._save_candidate(live, cand)
                self._checkpoint()
                raise PilotInterrupted()
            if reason is not None:
                cand["status"], cand["reason"] = "diverged", f"step {step}: {reason}"
                self._timed(key, t)
                self.say(f"{self.arm}: lr {cand['lr']:.3g} diverged ({reason})")
                return "diverged"
            self._timed(key, t)
            self._record_step(cand, loss, dt)
            if final:
                st["progress"] = min(1.0, progress + (1.0 - progress) / max(1.0, left))
                start = st["final_start"]
                due = start + (1.0 - start) * (len(st["evals"]) + 1) / st["final_evals"]
                if st["progress"] + 1e-9 >= due and len(st["evals"]) + 1 < st["final_evals"]:
                    self._evaluate(live, cand)
            if time.perf_counter() - self.last_ckpt >= ctx.checkpoint_every:
                self._save_candidate(live, cand)
                self._checkpoint()

    def _record_step(self, cand: dict, loss: float, dt: float) -> None:
        st = self.st
        cand["losses"].append(loss)
        cand["steps"] += 1
        st["steps_by_session"][self.session] = st["steps_by_session"].get(self.session, 0) + 1
        st["train_images"] += self.ctx.global_batch
        st["train_seconds"] += dt
        st["t_step"] = dt if st["t_step"] is None else 0.7 * st["t_step"] + 0.3 * dt

    def _evaluate(self, live: Live, cand: dict) -> None:
        st = self.st
        t = time.perf_counter()
        preds = self.engine.predict(live)
        dt = time.perf_counter() - t
        acc = self.engine.accuracy(preds)
        st["time"]["eval"] += dt
        st["eval_images"] += len(preds)
        st["eval_seconds"] += dt
        st["t_eval"] = dt
        st["evals"].append({"step": cand["steps"], "seconds": self.used(), "accuracy": acc})
        self.say(f"{self.arm}: step {cand['steps']} val accuracy {acc:.3f}")
        if st["best"] is None or acc > st["best"]["accuracy"]:
            if st["best"] and st["best"]["file"]:
                self._obsolete.append(st["best"]["file"])
            st["best"] = {"accuracy": acc, "step": cand["steps"], "preds": [int(p) for p in preds], "file": None}
            if self.arm != "ft":
                name = f"{self.arm}-best-s{cand['steps']}.pt"
                if self.ctx.dist.main:
                    self.ctx.run.save_tensors(name, {"model": live.model.trainable_state()})
                st["best"]["file"] = name
            elif self.ctx.keep_full_best:
                self.best_full_state = {k: v.detach().to("cpu", copy=True) for k, v in live.model.state_dict().items()}
