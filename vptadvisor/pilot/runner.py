"""run_pilot: the whole pilot, from the dataset to result.json, resumable.

Orchestration: setup (backbone, split, decoded images), equal shares of the budget, then rounds
of the arm halving (halving.py): every running arm trains to its next pause point, the arms are
compared, the clearly-behind ones stop and their time goes to the others; ft-then-pt starts once
ft has finished. Then outputs.py writes the result.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from vptadvisor.backbone import DEFAULT_BACKBONE, create_backbone
from vptadvisor.device import torch_device
from vptadvisor.errors import MeasureError, UsageError, VptAdvisorError
from vptadvisor.heap import release_freed_memory
from vptadvisor.pilot import arm as arm_mod
from vptadvisor.pilot.arms import DEFAULT_ARMS, spec
from vptadvisor.pilot.budget import shares
from vptadvisor.pilot.checkpoint import CONFIG, RESULT, STATE, RunDir
from vptadvisor.pilot.data import (
    ImageBank,
    Split,
    cache_size_for,
    decode_images,
    make_split,
)
from vptadvisor.pilot.dist import Dist, setup
from vptadvisor.pilot.engine import Context, modifies_backbone
from vptadvisor.pilot.halving import ROUND_FRACTIONS, compare_round
from vptadvisor.pilot.memory import tune_allocator
from vptadvisor.pilot.options import (
    Options,
    fingerprint,
    make_options,
    run_directory,
    what_changed,
)
from vptadvisor.pilot.outputs import export_arm, finish
from vptadvisor.pilot.result import PilotResult
from vptadvisor.pilot.state import ArmState, RunState, Session, load_state, validate
from vptadvisor.pilot.stats import Prior, load_prior
from vptadvisor.pilot.vpt import measure_readout_scale

RESULT_RESERVE = 0.03  # extra share of the budget kept for WiSE-FT and the complementarity block when ft runs


class PilotInterrupted(VptAdvisorError):
    """The pilot was interrupted; its run directory resumes it."""

    exit_code = 130


def _install_signals() -> tuple[threading.Event, Callable[[], None]]:
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return flag, lambda: None
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        if flag.is_set() and signum == signal.SIGINT:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        flag.set()

    for s in previous:
        signal.signal(s, handler)

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return flag, restore


def _load_images(
    d: Dist, root: Path, split: Split, size: int, workers: int
) -> tuple[Split, torch.Tensor, torch.Tensor]:
    """Decode train + val images (rows i::world on rank i, then gathered) and drop unreadable files."""
    items = split.train + split.val
    mine = list(range(d.rank, len(items), d.world))
    x_local, bad_local = decode_images(root, [items[i][0] for i in mine], size, workers)
    x = d.gather_rows(x_local, len(items))
    bad: dict[str, str] = {}
    for part in d.gather_object(bad_local):
        for b in part:
            bad[b["path"]] = b["reason"]
    keep = [i for i, (rel, _) in enumerate(items) if rel not in bad]
    n_train = len(split.train)
    split.train = [items[i] for i in keep if i < n_train]
    split.val = [items[i] for i in keep if i >= n_train]
    split.skipped = sorted(split.skipped + [{"path": p, "reason": r} for p, r in bad.items()], key=lambda b: b["path"])
    missing = sorted(set(range(len(split.classes))) - {y for _, y in split.train})
    if missing or not split.val:
        what = (
            f"class {split.classes[missing[0]]!r} has no readable training image"
            if missing
            else "no val image is readable"
        )
        raise MeasureError(f"After skipping {len(bad)} unreadable files, {what}: add readable images.")
    return split, x[torch.tensor(keep, dtype=torch.int64)], torch.tensor([y for _, y in split.train + split.val])


def run_pilot(
    dataset: str | os.PathLike | None = None,
    *,
    budget: str | float | None = None,
    steps: int | None = None,
    arms: str | list[str] | tuple[str, ...] = DEFAULT_ARMS,
    backbone: str = DEFAULT_BACKBONE,
    weights: str | os.PathLike | None = None,
    random_init: bool = False,
    backbone_kwargs: dict[str, Any] | None = None,
    img_size: int = 224,
    batch_size: int = 32,
    val_fraction: float = 0.2,
    seed: int = 0,
    prompt_length: int | dict[str, int] | None = None,
    lrs: dict[str, list[float]] | None = None,
    layout: str = "auto",
    evals: int = 4,
    device: str = "auto",
    threads: int | None = None,
    run_dir: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    analysis: str | os.PathLike | None = None,
    prior: Prior | None = None,
    save_backbone: bool = False,
    checkpoint_every: float = 120.0,
    compile: bool = False,
    progress: Callable[[str], None] | None = None,
    started: float | None = None,
) -> PilotResult:
    """Train the arms (default VPT-deep and full fine-tuning; see vptadvisor.pilot.arms.ARMS) on
    `dataset` within `budget` (e.g. "30m") or `steps` per arm, and compare them. See
    docs/pilot.md. With `resume=RUN_DIR` every other option is read from the run directory. The
    budget clock starts at `started` (a time.perf_counter() value, e.g. when the command began,
    before importing torch) or at this call. `compile=True` wraps each model in torch.compile."""
    t_session = time.perf_counter() if started is None else float(started)
    split: Split | None = None
    if resume is not None:
        run = RunDir(resume)
        cfg = run.read_json(CONFIG)
        if cfg is None:
            raise UsageError(f"{run.path} is not a pilot run directory (no {CONFIG}): check --resume.")
        if (run.path / RESULT).is_file():
            raise UsageError(f"The run in {run.path} is complete: its result is {run.path / RESULT}.")
        where = str(run.path / CONFIG)
        if not isinstance(cfg, dict) or not isinstance(cfg.get("split"), dict):
            raise UsageError(f"{where} is damaged or was edited (no split): start a new run.")
        opts = validate(Options, cfg.get("options"), where, "options.")
        assert isinstance(opts, Options)
        try:
            split = Split.from_dict(cfg["split"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{where} is damaged or was edited (split: {exc!r}): start a new run.") from None
        _check_dataset(opts, split, cfg.get("fingerprint"))
        path = run.path
    else:
        opts = make_options(
            dataset,
            budget,
            steps,
            arms,
            backbone,
            weights,
            random_init,
            backbone_kwargs,
            img_size,
            batch_size,
            val_fraction,
            seed,
            prompt_length,
            lrs,
            layout,
            evals,
            save_backbone,
            analysis,
            compile,
        )
        path = run_directory(opts.dataset, run_dir)
    if prior is None and opts.analysis:
        prior = load_prior(opts.analysis)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if opts.batch_size % world:
        raise UsageError(f"--batch-size {opts.batch_size} must be divisible by the {world} processes.")
    dev = torch_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    d = setup(dev)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(d.world)))
    n_threads = threads or max(1, (os.cpu_count() or 1) // max(1, local_world))
    caller_threads = torch.get_num_threads()
    try:
        run = RunDir(d.gather_object(str(path))[0])  # rank 0's directory name on every rank
        if n_threads != caller_threads:
            torch.set_num_threads(n_threads)
        return _run(opts, split, run, resume is not None, dev, d, prior, checkpoint_every, progress, t_session)
    finally:
        # leave the caller's process as it was: re-setting the thread count, even to the same value,
        # made later Inception features in this process differ in the 6th digit from earlier ones
        if torch.get_num_threads() != caller_threads:
            torch.set_num_threads(caller_threads)
        d.close()


def _check_dataset(opts: Options, split: Split, stored: Any) -> None:
    """--resume: the dataset must be the one the run started with (options.py: fingerprint)."""
    if not Path(opts.dataset).exists():
        raise UsageError(f"The run's dataset {opts.dataset} is gone: restore it to resume, or start a new run.")
    fresh = make_split(opts.dataset, val_fraction=opts.val_fraction, seed=opts.seed, layout=opts.layout)
    root = Path(opts.dataset).parent if Path(opts.dataset).is_file() else Path(opts.dataset)
    if stored is not None and fingerprint(root, fresh) != stored:
        raise UsageError(
            f"The dataset {opts.dataset} changed since the run started ({what_changed(split, fresh)}): "
            "restore it to resume, or start a new run."
        )


def _run(
    opts: Options,
    split: Split | None,
    run: RunDir,
    resuming: bool,
    dev: torch.device,
    d: Dist,
    prior: Prior | None,
    checkpoint_every: float,
    progress,
    t_session: float,
):
    if not resuming and (run.path / CONFIG).exists():
        raise UsageError(f"{run.path} already holds a pilot run: continue it with --resume or pick another --out.")
    n_threads = torch.get_num_threads()  # set by run_pilot
    if dev.type != "cuda":
        tune_allocator()
    say = progress if (progress and d.main) else (lambda _m: None)

    # the backbone first: missing weights should fail before minutes of decoding
    torch.manual_seed(opts.seed)
    backbone, info = create_backbone(
        opts.backbone,
        opts.weights,
        img_size=opts.img_size,
        pretrained=not opts.random_init,
        model_kwargs=opts.backbone_kwargs,
    )
    backbone.to(dev)
    say(
        f"backbone {info.name}: {info.num_params / 1e6:.1f}M parameters, {info.img_size}px, weights {info.weights}, "
        f"device {dev}"
    )
    if split is None:
        split = make_split(opts.dataset, val_fraction=opts.val_fraction, seed=opts.seed, layout=opts.layout)
    t = time.perf_counter()
    root = Path(opts.dataset)
    if root.is_file():
        root = root.parent
    stamp = fingerprint(root, split) if not resuming else None
    split, x, y = _load_images(d, root, split, cache_size_for(info.img_size), n_threads)
    n_tr = len(split.train)
    say(
        f"decoded {len(split.train) + len(split.val)} images in {time.perf_counter() - t:.1f}s "
        f"({len(split.skipped)} skipped): {n_tr} train, {len(split.val)} val, {len(split.classes)} classes"
    )
    bank = ImageBank(x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:], info.img_size, info.mean, info.std, opts.seed)
    if d.main and not resuming:
        run.write_json(CONFIG, {"options": opts.model_dump(), "split": split.to_dict(), "fingerprint": stamp})
    raw = run.read_json(STATE) if resuming else None
    state = load_state(raw, str(run.path / STATE)) if raw is not None else RunState()
    d.barrier()
    elapsed_before = float(state.elapsed)
    state.sessions.append(
        Session(
            started=datetime.now().isoformat(timespec="seconds"), world_size=d.world, device=str(dev), threads=n_threads
        )
    )

    def save_state() -> None:
        state.elapsed = elapsed_before + time.perf_counter() - t_session
        if d.main:
            run.write_json(STATE, state.model_dump(mode="json"))

    if state.readout_scale is None:  # measured once per run, on the first training images
        probe = bank.train_batch(0, opts.batch_size, 0, min(opts.batch_size, 32))[0].to(dev)
        state.readout_scale = d.from_main([measure_readout_scale(backbone, probe)])[0]
        say(f"readout scale (RMS of the class token) {state.readout_scale:.3f}")
    needs_pristine = any(modifies_backbone(a) for a in opts.arms) or "ft" in opts.arms
    pristine = (
        {k: v.detach().to("cpu", copy=True) for k, v in backbone.state_dict().items()} if needs_pristine else None
    )
    if d.main:  # libraries load during setup, which the shares already account for
        import vptadvisor.report.pilot_curves  # noqa: F401
    if any(spec(a).backbone in ("lora", "adapter") for a in opts.arms):
        import peft  # noqa: F401
    setup_s = time.perf_counter() - t_session
    state.setup_seconds = float(state.setup_seconds) + setup_s
    _assign_shares(state, opts, elapsed_before + setup_s)
    flag, restore_signals = _install_signals()
    ctx = Context(
        bank=bank,
        backbone=backbone,
        pristine=pristine,
        num_classes=len(split.classes),
        device=dev,
        dist=d,
        run=run,
        global_batch=opts.batch_size,
        seed=opts.seed,
        interrupted=flag.is_set,
        checkpoint_every=checkpoint_every,
        amp_dtype=_amp_dtype(dev),
        prompt_length=opts.prompt_length,
        readout_scale=float(state.readout_scale),
        channels_last=dev.type == "cuda",
        compile=opts.compile,
    )
    save_state()
    val_y = bank.val_y.numpy()
    try:
        while True:
            r = state.round
            last = r >= len(ROUND_FRACTIONS)
            for name in opts.arms:
                st = state.arms[name]
                if st.finished or not _ready(state, name):
                    continue
                st.round_limit = None if last else ROUND_FRACTIONS[r]
                if opts.budget_seconds is not None and d.main:  # time an arm overran comes out of the others' shares
                    _assign_shares(state, opts, elapsed_before + time.perf_counter() - t_session)
                    if _too_short(state, st):
                        continue
                _run_arm(ctx, state, st, opts, save_state, say, info, split, run)
            if last:
                waiting = [n for n in opts.arms if not state.arms[n].finished]
                if not waiting or not any(_ready(state, n) for n in waiting):
                    break
                continue  # ft-then-pt became ready when ft finished in this round
            rnd = compare_round(
                state.arms,
                val_y,
                r + 1,
                elapsed_before + time.perf_counter() - t_session,
                opts.seed,
                opts.budget_seconds is not None,
            )
            state.rounds.append(rnd)
            for n in rnd.stopped:
                st = state.arms[n]
                say(f"arm halving, round {r + 1}: {n} stops ({st.stopped.reason if st.stopped else ''})")
                if d.main:
                    st.weights_file = export_arm(run, ctx, None, st, info, opts, split)
            state.round = r + 1
            save_state()
    finally:
        restore_signals()
    return finish(run, state, opts, info, split, bank, prior, d, dev, elapsed_before, t_session, ctx)


def _too_short(state: RunState, st: ArmState) -> bool:
    """Skip an arm that has not started when its share cannot fit one training step plus one
    evaluation as measured on the arms before it (it would overrun the budget and measure nothing)."""
    if st.phase != "new":
        return False
    costs = [a.t_step + a.t_eval for a in state.arms.values() if a.t_step and a.t_eval]
    if not costs or (st.share or 0.0) >= min(costs):
        return False
    st.phase, st.final_reason = (
        "failed",
        (
            f"skipped: its share of {st.share or 0:.0f}s is shorter than one training step plus one evaluation "
            f"({min(costs):.0f}s on the arms before it); give the pilot a larger --budget or fewer --arms"
        ),
    )
    st.share = st.used
    return True


def _ready(state: RunState, name: str) -> bool:
    """ft-then-pt waits until the arm it starts from has finished."""
    after = spec(name).after
    return after is None or state.arms[after].finished


def _run_arm(
    ctx: Context,
    state: RunState,
    st: ArmState,
    opts: Options,
    save_state: Callable[[], None],
    say,
    info,
    split: Split,
    run: RunDir,
) -> None:
    after = spec(st.name).after
    if after is not None and after not in ctx.after_state:
        try:
            ctx.after_state[after] = _final_backbone(run, state.arms[after])
        except MeasureError as exc:
            st.phase, st.final_reason = "failed", str(exc)
            save_state()
            return
    runner = arm_mod.ArmRunner(
        ctx,
        st,
        save_state,
        steps=opts.steps,
        budgeted=opts.budget_seconds is not None,
        base_lrs=(opts.lrs or {}).get(st.name),
        n_evals=opts.evals,
        session=len(state.sessions) - 1,
        progress=say,
    )
    try:
        runner.run()
    except arm_mod.PilotInterrupted:
        save_state()
        raise PilotInterrupted(
            f"Interrupted: the run is saved in {run.path}; continue it with `vptadvisor pilot --resume {run.path}`."
        ) from None
    if ctx.dist.main and st.finished:
        st.weights_file = export_arm(run, ctx, runner, st, info, opts, split)
    save_state()
    del runner
    release_freed_memory()


def _final_backbone(run: RunDir, st: ArmState) -> dict[str, torch.Tensor]:
    """The backbone weights an arm ended with (its final or latest candidate file)."""
    name = st.final_file or (st.candidates[st.winner].file if st.winner is not None else None)
    if name is None:
        raise MeasureError(f"{st.name} left no model to continue from; run ft-then-pt with a larger budget.")
    model = run.load_tensors(name)["model"]
    return {k[len("backbone.") :]: v for k, v in model.items() if k.startswith("backbone.")}


def _assign_shares(state: RunState, opts: Options, spent: float) -> None:
    """Equal wall-clock shares of what the budget leaves after setup and a reserve for the result.
    Later calls (before each arm runs, and on resume) re-fit the unfinished arms' remaining shares
    in proportion to what the budget still leaves: time lost shrinks them, time freed grows them."""
    arms = state.arms
    for name in opts.arms:
        if name not in arms:
            arms[name] = ArmState(name=name, prompt_length=opts.prompt_length.get(name, 0))
    if opts.budget_seconds is None:
        return
    budget = opts.budget_seconds
    reserve = min(3.0 + 0.01 * budget, 0.05 * budget) + (RESULT_RESERVE * budget if "ft" in opts.arms else 0.0)
    available = budget - spent - reserve
    pending = [n for n in opts.arms if not arms[n].finished]
    if not pending:
        return
    if available <= 0:
        raise MeasureError(f"Setup took {spent:.0f}s of the {budget:.0f}s budget: give the pilot a larger --budget.")
    fresh = [n for n in pending if arms[n].share is None]
    if len(fresh) == len(pending):
        for n, share in shares(available, pending).items():
            arms[n].share = share
        return
    per_fresh = max((arms[n].share or 0.0 for n in pending if arms[n].share is not None), default=0.0)
    remaining = {n: (per_fresh if arms[n].share is None else (arms[n].share or 0.0)) - arms[n].used for n in pending}
    scale = available / max(1e-9, sum(max(0.0, r) for r in remaining.values()))  # < 1: time was lost; > 1: freed
    for n in pending:
        arms[n].share = arms[n].used + max(0.0, remaining[n]) * scale


def _amp_dtype(dev: torch.device) -> torch.dtype | None:
    """Mixed precision on GPU: bfloat16 where supported, else float16 with loss scaling."""
    if dev.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
