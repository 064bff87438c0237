"""One arm of the pilot: calibrate and plan, learning-rate search, continued training, evaluation.

The arm's whole progress lives in its typed `ArmState` (plus candidate tensor files), saved at
every candidate switch and every `checkpoint_every` seconds, so a killed run resumes where its
last checkpoint was. With a step plan (`steps=`) everything is a function of the step and the
seed: a resumed run repeats the uninterrupted one exactly. The arm halving (runner.py) may pause
the continued training at `round_limit` (a fraction of the share, or of the horizon with a step
plan): the arm evaluates, checkpoints and returns; the next round restores it from its file.

Jobs: the clock and plan (clock.py), the search (search.py), training and evaluation (here), the
files (checkpoint.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from vptadvisor.pilot.budget import lr_at, peak_lr, plan_arm
from vptadvisor.pilot.clock import EVAL_SHARE, MAX_EVALS, ArmClock
from vptadvisor.pilot.engine import ArmEngine, Context, Live
from vptadvisor.pilot.memory import PeakMemory
from vptadvisor.pilot.search import run_search
from vptadvisor.pilot.state import ArmState, Best, Candidate, Eval, Plan


class PilotInterrupted(Exception):
    """Ctrl-C / SIGTERM: the run was checkpointed and can be resumed."""


class ArmRunner:
    def __init__(
        self,
        ctx: Context,
        state: ArmState,
        save_state: Callable[[], None],
        *,
        steps: int | None,
        budgeted: bool,
        base_lrs: list[float] | None,
        n_evals: int = 4,
        session: int = 0,
        progress: Callable[[str], None] | None = None,
    ):
        self.ctx, self.st, self.save_state = ctx, state, save_state
        self.arm = state.name
        self.engine = ArmEngine(ctx, self.arm)
        self.clock = ArmClock(state, ctx.dist, steps=steps, budgeted=budgeted)
        self.steps, self.budgeted, self.base_lrs, self.n_evals = steps, budgeted, base_lrs, n_evals
        self.session = str(session)
        self.say = progress if (progress and ctx.dist.main) else (lambda _m: None)
        self.last_ckpt = time.perf_counter()
        self.live: Live | None = None
        self.first_live: Live | None = None  # candidate 0 after its timed first step (budget mode)
        self._obsolete: list[str] = []  # files to delete once state.json no longer names them

    def run(self) -> ArmState:
        """Run the arm until it is done, failed, or paused by the arm halving (phase stays final)."""
        st = self.st
        with PeakMemory(self.ctx.device) as mem:
            try:
                if st.phase == "new":
                    self._start()
                if st.phase == "search":
                    run_search(self)
                if st.phase == "final":
                    self._final()
            finally:
                st.used = self.clock.used()
        st.peak_memory_bytes = max(int(st.peak_memory_bytes), int(mem.peak))
        st.baseline_bytes = int(mem.baseline) if not st.baseline_bytes else st.baseline_bytes
        st.memory_method = mem.method
        if self.ctx.dist.enabled:  # the largest process's peak
            st.peak_memory_bytes = int(self.ctx.dist.max_(float(st.peak_memory_bytes)))
        return st

    # -- phases
    def _start(self) -> None:
        """Plan the arm. With a budget, the plan needs the step time: the first step of the first
        candidate is timed before its optimizer update (the gradients do not depend on the learning
        rate, and every candidate starts from the same initial state), so calibration costs nothing;
        evaluation time is estimated from that step's forward pass."""
        st, ctx = self.st, self.ctx
        t = time.perf_counter()
        live = self.engine.build(0.0)
        st.trainable_params, st.total_params, st.stored_params = self.engine.parameter_counts(live.model)
        st.paper_params, st.paper_formula = self.engine.paper_params(live.model)
        n_evals, total, first = self.n_evals, self.steps, None
        if self.budgeted:
            # the very first pass pays one-off costs (kernel selection, allocator growth) that would
            # make the plan far too pessimistic: warm up on batch 0, discard it, then time batch 0
            self.engine.forward_backward(live, 0)
            self.engine.apply(live, None)
            t1 = time.perf_counter()
            loss, reason, interrupted, _ = self.engine.forward_backward(live, 0)
            t2 = time.perf_counter()
            t_batch = self.engine.time_eval_batch(live)
            n_val = int(ctx.bank.val_y.numel())
            per_process = math.ceil(n_val / ctx.dist.world)
            t_step, t_eval = ctx.dist.from_main([t2 - t1, t_batch * math.ceil(per_process / max(1, ctx.local_batch))])
            st.t_step, st.t_eval = t_step, t_eval
            self.clock.timed("calibration", t)
            avail = self.clock.left() + t_step  # this step is already paid for
            n_evals = int(max(1, min(MAX_EVALS, EVAL_SHARE * avail // max(t_eval, 1e-9))))
            fit = int(max(1, (avail - n_evals * t_eval) // max(t_step, 1e-9)))
            total = fit if total is None else min(total, fit)
            if avail < t_step + t_eval:
                st.notes.append(f"share of {st.share or 0:.0f}s is too short for one step plus one evaluation")
            first = (live, loss, reason, interrupted, t2 - t1)
        else:
            del live
        plan = plan_arm(self.arm, total or 1, n_evals, self.base_lrs)
        st.plan = Plan(**plan.to_dict())
        st.candidates = [
            Candidate(index=k, base_lr=lr, lr=peak_lr(lr, ctx.global_batch)) for k, lr in enumerate(plan.base_lrs)
        ]
        st.queue = list(range(len(plan.base_lrs)))
        st.phase = "search" if plan.rungs else "final"
        st.winner = None if plan.rungs else 0
        self.say(f"{self.arm}: {len(plan.base_lrs)} lr candidates, rungs {plan.rungs}, horizon {plan.horizon} steps")
        if first is not None:
            self._finish_first_step(*first)
        self.checkpoint()

    def _finish_first_step(self, live: Live, loss: float, reason: str | None, interrupted: bool, dt: float) -> None:
        """Apply the timed first step as step 0 of candidate 0 (see _start)."""
        st, plan = self.st, self.clock.plan
        cand = st.candidates[0]
        if interrupted:
            self.engine.apply(live, None)
            self.checkpoint()
            raise PilotInterrupted()
        if reason is not None:
            self.engine.apply(live, None)
            cand.status, cand.reason = "diverged", f"step 0: {reason}"
            if st.phase == "search":
                st.queue.remove(0)
            return
        self.engine.apply(live, lr_at(cand.base_lr, self.ctx.global_batch, 0, plan.warmup, 0.0))
        self._record_step(cand, loss, dt)
        if st.phase == "final":
            st.progress = 1.0 / max(1, plan.horizon)
        self.first_live = live

    def _final(self) -> None:
        st, plan = self.st, self.clock.plan
        if st.final_evals is None:
            # with a budget, as many evaluations as fit in EVAL_SHARE of the time left now (the
            # search may have run longer than planned): time saved on evaluations goes to training
            n = plan.n_evals
            if self.budgeted and self.ctx.dist.main and st.t_eval:
                n = int(max(1, min(plan.n_evals, EVAL_SHARE * max(0.0, self.clock.left()) // st.t_eval)))
            st.final_evals = int(self.ctx.dist.from_main([float(n)])[0])
        assert st.winner is not None
        cand = st.candidates[st.winner]
        cand.status = "winner"
        live = self.restore(cand)
        why = self.train(live, cand, until=None)
        if why == "diverged" and not st.evals:
            st.phase = "failed"
            st.final_reason = f"the learning rate {cand.lr:.3g} diverged before any evaluation"
            return
        if not st.evals or st.evals[-1].step != cand.steps:
            self._evaluate(live, cand)
        if why == "pause":  # the arm halving compares the arms now; the next round continues from here
            self.save_candidate(live, cand)
            self.checkpoint()
            return
        st.final_reason = why
        st.phase = "done"
        st.final_file = cand.file if why != "diverged" else st.final_file
        if why != "diverged" and self.engine.spec.trains_backbone:
            self.save_candidate(live, cand)  # the final model: ft-then-pt and WiSE-FT start from it
            st.final_file = cand.file
        self.live = live

    # -- training
    def train(self, live: Live, cand: Candidate, until: int | None) -> str:
        """Train `cand` to step `until` (search) or to the horizon / end of the share (final)."""
        st, ctx = self.st, self.ctx
        plan = self.clock.plan
        final = until is None
        key = "train" if final else "search"
        while True:
            why, left = self.clock.decide(cand, final, until)
            if why is not None:
                return why
            step = cand.steps
            progress = st.progress if final else step / max(1, plan.horizon)
            lr = lr_at(cand.base_lr, ctx.global_batch, step, plan.warmup, progress)
            t = time.perf_counter()
            loss, reason, interrupted = self.engine.step(live, step, lr)
            dt = time.perf_counter() - t
            if interrupted:
                self.save_candidate(live, cand)
                self.checkpoint()
                raise PilotInterrupted()
            if reason is not None:
                cand.status, cand.reason = "diverged", f"step {step}: {reason}"
                self.clock.timed(key, t)
                self.say(f"{self.arm}: lr {cand.lr:.3g} diverged ({reason})")
                return "diverged"
            self.clock.timed(key, t)
            self._record_step(cand, loss, dt)
            if final:
                st.progress = min(1.0, progress + (1.0 - progress) / max(1.0, left))
                due = st.final_start + (1.0 - st.final_start) * (len(st.evals) + 1) / (st.final_evals or 1)
                if st.progress + 1e-9 >= due and len(st.evals) + 1 < (st.final_evals or 1):
                    self._evaluate(live, cand)
            if time.perf_counter() - self.last_ckpt >= ctx.checkpoint_every:
                self.save_candidate(live, cand)
                self.checkpoint()

    def _record_step(self, cand: Candidate, loss: float, dt: float) -> None:
        st = self.st
        cand.losses.append(loss)
        cand.steps += 1
        st.steps_by_session[self.session] = st.steps_by_session.get(self.session, 0) + 1
        st.train_images += self.ctx.global_batch
        st.train_seconds += dt
        st.t_step = dt if st.t_step is None else 0.7 * st.t_step + 0.3 * dt

    def _evaluate(self, live: Live, cand: Candidate) -> None:
        st = self.st
        t = time.perf_counter()
        preds, probs = self.engine.predict(live)
        dt = time.perf_counter() - t
        acc = self.engine.accuracy(preds)
        st.time["eval"] += dt
        st.eval_images += len(preds)
        st.eval_seconds += dt
        st.t_eval = dt
        st.evals.append(Eval(step=cand.steps, seconds=self.clock.used(), accuracy=acc))
        self.say(f"{self.arm}: step {cand.steps} val accuracy {acc:.3f}")
        if st.best is None or acc > st.best.accuracy:
            if st.best and st.best.file:
                self._obsolete.append(st.best.file)
            st.best = Best(
                accuracy=acc,
                step=cand.steps,
                preds=[int(p) for p in preds],
                probs=[[float(v) for v in row] for row in probs],
            )
            if not self.engine.spec.trains_backbone:
                name = f"{self.arm}-best-s{cand.steps}.pt"
                if self.ctx.dist.main:
                    self.ctx.run.save_tensors(name, {"model": live.model.trainable_state()})
                st.best.file = name

    # -- files
    def restore(self, cand: Candidate) -> Live:
        if self.first_live is not None and cand.index == 0:  # still in memory after the timed first step
            live, self.first_live = self.first_live, None
            return live
        state = self.ctx.run.load_tensors(cand.file) if cand.file else None
        return self.engine.build(cand.base_lr, state)

    def forget(self, cand: Candidate) -> None:
        if cand.file:
            self._obsolete.append(cand.file)
        cand.file = None

    def save_candidate(self, live: Live, cand: Candidate) -> None:
        t = time.perf_counter()
        old = cand.file
        cand.file = self.engine.save_candidate(self.ctx.run, live, cand.index, cand.steps)
        if old and old != cand.file:
            self._obsolete.append(old)
        self.clock.timed("checkpoint", t)

    def checkpoint(self) -> None:
        """Write state.json (rank 0), then delete the files it no longer names."""
        t = time.perf_counter()
        self.st.used = self.clock.used()
        if self.ctx.dist.main:
            self.save_state()
            for name in self._obsolete:
                self.ctx.run.remove(name)
        self._obsolete = []
        self.ctx.dist.barrier()
        self.last_ckpt = time.perf_counter()
        self.clock.timed("checkpoint", t)
