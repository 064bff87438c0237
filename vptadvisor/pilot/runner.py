"""run_pilot: the whole pilot, from the dataset to result.json, resumable."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import torch

from vptadvisor.backbone import DEFAULT_BACKBONE, create_backbone
from vptadvisor.errors import MeasureError, UsageError, VptAdvisorError
from vptadvisor.heap import release_freed_memory
from vptadvisor.pilot import arm as arm_mod
from vptadvisor.pilot.budget import parse_budget, shares
from vptadvisor.pilot.checkpoint import CONFIG, RESULT, STATE, RunDir
from vptadvisor.pilot.data import ImageBank, Split, cache_size_for, decode_images, make_split
from vptadvisor.pilot.dist import Dist, resolve_device, setup
from vptadvisor.pilot.engine import Context
from vptadvisor.pilot.memory import tune_allocator
from vptadvisor.pilot.outputs import export_arm, finish
from vptadvisor.pilot.result import PilotResult
from vptadvisor.pilot.stats import Prior, load_prior
from vptadvisor.pilot.vpt import DEFAULT_PROMPT_LENGTH, measure_readout_scale

ARMS = ("vpt-deep", "vpt-shallow", "ft")
DEFAULT_ARMS = ("vpt-deep", "ft")
STATE_VERSION = 1


class PilotInterrupted(VptAdvisorError):
    """The pilot was interrupted; its run directory resumes it."""

    exit_code = 130


@dataclass
class Options:
    """Everything that defines a run (stored in config.json; a resume reuses it)."""

    dataset: str
    budget_seconds: float | None
    steps: int | None
    arms: list[str]
    backbone: str
    weights: str | None
    random_init: bool
    backbone_kwargs: dict | None
    img_size: int
    batch_size: int
    val_fraction: float
    seed: int
    prompt_length: dict[str, int]
    lrs: dict[str, list[float]] | None
    layout: str
    evals: int
    save_backbone: bool
    analysis: str | None


def _parse_arms(arms: str | list[str] | tuple[str, ...]) -> list[str]:
    items = [a.strip().lower() for a in (arms.split(",") if isinstance(arms, str) else arms) if a.strip()]
    bad = [a for a in items if a not in ARMS]
    if bad or not items:
        raise UsageError(f"Unknown arm {bad[0] if bad else '(none)'!r}: choose from {', '.join(ARMS)}.")
    if len(set(items)) != len(items):
        raise UsageError("Each arm may be listed once in --arms.")
    return [a for a in ARMS if a in items]


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
    return flag, lambda: [signal.signal(s, h) for s, h in previous.items()]


def _load_images(d: Dist, root: Path, split: Split, size: int, workers: int) -> tuple[Split, torch.Tensor, torch.Tensor]:
    """Decode train + val images (rows i::world on rank i, then gathered) and drop unreadable files."""
    items = split.train + split.val
    mine = list(range(d.rank, len(items), d.world))
    x_local, bad_local = decode_images(root, [items[i][0] for i in mine], size, workers)
    x = d.gather_rows(x_local, len(items))
    bad: dict[str, str] = {}
    for text in d.gather_text("\n".join(f"{b['path']}\t{b['reason']}" for b in bad_local)):
        for line in filter(None, text.split("\n")):
            path, reason = line.split("\t", 1)
            bad[path] = reason
    keep = [i for i, (rel, _) in enumerate(items) if rel not in bad]
    n_train = len(split.train)
    split.train = [items[i] for i in keep if i < n_train]
    split.val = [items[i] for i in keep if i >= n_train]
    split.skipped = sorted(split.skipped + [{"path": p, "reason": r} for p, r in bad.items()], key=lambda b: b["path"])
    missing = sorted(set(range(len(split.classes))) - {y for _, y in split.train})
    if missing or not split.val:
        what = f"class {split.classes[missing[0]]!r} has no readable training image" if missing else "no val image is readable"
        raise MeasureError(f"After skipping {len(bad)} unreadable files, {what}: add readable images.")
    return split, x[torch.tensor(keep, dtype=torch.int64)], torch.tensor([y for _, y in split.train + split.val])


def _options(dataset, budget, steps, arms, backbone, weights, random_init, backbone_kwargs, img_size, batch_size,
             val_fraction, seed, prompt_length, lrs, layout, evals, save_backbone, analysis) -> Options:
    if dataset is None:
        raise UsageError("Pass a DATASET directory (or --resume RUN_DIR to continue a run).")
    seconds = None
    if budget is not None:
        seconds = parse_budget(budget) if isinstance(budget, str) else float(budget)
        if not seconds > 0:
            raise UsageError(f"Budget {budget!r} must be positive: write it like 90s, 30m or 2h.")
    if seconds is None and steps is None:
        raise UsageError("Give the pilot a --budget (e.g. 30m) or a fixed number of --steps per arm.")
    if steps is not None and int(steps) < 1:
        raise UsageError("--steps must be at least 1.")
    if batch_size < 1 or img_size < 8 or evals < 1:
        raise UsageError("--batch-size and --evals must be >= 1 and --img-size >= 8.")
    arm_list = _parse_arms(arms)
    if isinstance(prompt_length, int):
        lengths = {a: int(prompt_length) for a in arm_list if a != "ft"}
    else:
        lengths = {a: int((prompt_length or {}).get(a, DEFAULT_PROMPT_LENGTH[a])) for a in arm_list if a != "ft"}
    if any(v < 1 for v in lengths.values()):
        raise UsageError("--prompt-length must be at least 1 token for a VPT arm.")
    lr_map = {a: [float(x) for x in v] for a, v in (lrs or {}).items() if a in arm_list}
    if any(not v or min(v) <= 0 for v in lr_map.values()):
        raise UsageError("Learning rates must be positive numbers.")
    return Options(
        dataset=str(Path(dataset).expanduser().absolute()), budget_seconds=seconds,
        steps=None if steps is None else int(steps), arms=arm_list, backbone=backbone,
        weights=None if weights is None else str(Path(weights).expanduser().absolute()), random_init=bool(random_init),
        backbone_kwargs=dict(backbone_kwargs) if backbone_kwargs else None, img_size=int(img_size),
        batch_size=int(batch_size), val_fraction=float(val_fraction), seed=int(seed), prompt_length=lengths,
        lrs=lr_map or None, layout=layout, evals=int(evals), save_backbone=bool(save_backbone),
        analysis=None if analysis is None else str(Path(analysis).expanduser().absolute()),
    )


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
    progress: Callable[[str], None] | None = None,
    started: float | None = None,
) -> PilotResult:
    """Train VPT and full fine-tuning arms on `dataset` within `budget` (e.g. "30m") or `steps`
    per arm, and compare them. See docs/pilot.md. With `resume=RUN_DIR` every other option is
    read from the run directory. The budget clock starts at `started` (a time.perf_counter()
    value, e.g. when the command began, before importing torch) or at this call."""
    t_session = time.perf_counter() if started is None else float(started)
    if resume is not None:
        run = RunDir(resume)
        cfg = run.read_json(CONFIG)
        if cfg is None:
            raise UsageError(f"{run.path} is not a pilot run directory (no {CONFIG}): check --resume.")
        if (run.path / RESULT).is_file():
            raise UsageError(f"The run in {run.path} is complete: its result is {run.path / RESULT}.")
        opts = Options(**cfg["options"])
        split: Split | None = Split.from_dict(cfg["split"])
    else:
        opts = _options(dataset, budget, steps, arms, backbone, weights, random_init, backbone_kwargs, img_size,
                        batch_size, val_fraction, seed, prompt_length, lrs, layout, evals, save_backbone, analysis)
        split = None
    if prior is None and opts.analysis:
        prior = load_prior(opts.analysis)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if opts.batch_size % world:
        raise UsageError(f"--batch-size {opts.batch_size} must be divisible by the {world} processes.")
    dev = resolve_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    d = setup(dev)
    if resume is not None:
        path = str(RunDir(resume).path)
    elif run_dir is not None:
        path = str(Path(run_dir).expanduser().absolute())
    else:
        path = str(Path("runs").absolute() / datetime.now().strftime("pilot-%Y%m%d-%H%M%S"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(d.world)))
    n_threads = threads or max(1, (os.cpu_count() or 1) // max(1, local_world))
    caller_threads = torch.get_num_threads()
    try:
        run = RunDir(d.gather_text(path)[0])  # rank 0's directory name on every rank
        if n_threads != caller_threads:
            torch.set_num_threads(n_threads)
        return _run(opts, split, run, resume is not None, dev, d, prior, checkpoint_every, progress, t_session)
    finally:
        # leave the caller's process as it was: re-setting the thread count, even to the same value,
        # made later Inception features in this process differ in the 6th digit from earlier ones
        if torch.get_num_threads() != caller_threads:
            torch.set_num_threads(caller_threads)
        d.close()


def _run(opts: Options, split: Split | None, run: RunDir, resuming: bool, dev: torch.device, d: Dist,
         prior: Prior | None, checkpoint_every: float, progress, t_session: float):
    if not resuming and (run.path / CONFIG).exists():
        raise UsageError(f"{run.path} already holds a pilot run: continue it with --resume or pick another --out.")
    n_threads = torch.get_num_threads()  # set by run_pilot
    if dev.type != "cuda":
        tune_allocator()
    say = progress if (progress and d.main) else (lambda _m: None)

    # the backbone first: missing weights should fail before minutes of decoding
    torch.manual_seed(opts.seed)
    backbone, info = create_backbone(opts.backbone, opts.weights, img_size=opts.img_size,
                                     pretrained=not opts.random_init, model_kwargs=opts.backbone_kwargs)
    backbone.to(dev)
    say(f"backbone {info.name}: {info.num_params / 1e6:.1f}M parameters, {info.img_size}px, weights {info.weights}")
    if split is None:
        split = make_split(opts.dataset, val_fraction=opts.val_fraction, seed=opts.seed, layout=opts.layout)
    t = time.perf_counter()
    root = Path(opts.dataset)
    if root.is_file():
        root = root.parent
    split, x, y = _load_images(d, root, split, cache_size_for(info.img_size), n_threads)
    n_tr = len(split.train)
    say(f"decoded {len(split.train) + len(split.val)} images in {time.perf_counter() - t:.1f}s "
        f"({len(split.skipped)} skipped): {n_tr} train, {len(split.val)} val, {len(split.classes)} classes")
    bank = ImageBank(x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:], info.img_size, info.mean, info.std, opts.seed)
    if d.main and not resuming:
        from dataclasses import asdict

        run.write_json(CONFIG, {"options": asdict(opts), "split": split.to_dict()})
    state = (run.read_json(STATE) if resuming else None) or {"version": STATE_VERSION, "elapsed": 0.0,
                                                             "setup_seconds": 0.0, "sessions": [], "arms": {}}
    d.barrier()
    elapsed_before = float(state["elapsed"])
    state["sessions"].append({"started": datetime.now().isoformat(timespec="seconds"), "world_size": d.world,
                              "device": str(dev), "threads": n_threads})

    def save_state() -> None:
        state["elapsed"] = elapsed_before + time.perf_counter() - t_session
        if d.main:
            run.write_json(STATE, state)

    if "readout_scale" not in state:  # measured once per run, on the first training images
        probe = bank.train_batch(0, opts.batch_size, 0, min(opts.batch_size, 32))[0].to(dev)
        state["readout_scale"] = d.from_main([measure_readout_scale(backbone, probe)])[0]
        say(f"readout scale (RMS of the class token) {state['readout_scale']:.3f}")
    pristine = {k: v.detach().to("cpu", copy=True) for k, v in backbone.state_dict().items()} if "ft" in opts.arms else None
    setup = time.perf_counter() - t_session
    state["setup_seconds"] = float(state["setup_seconds"]) + setup
    _assign_shares(state, opts, elapsed_before + setup)
    flag, restore_signals = _install_signals()
    ctx = Context(bank=bank, backbone=backbone, pristine=pristine, num_classes=len(split.classes), device=dev, dist=d,
                  run=run, global_batch=opts.batch_size, seed=opts.seed, interrupted=flag.is_set,
                  checkpoint_every=checkpoint_every, amp_dtype=_amp_dtype(dev), keep_full_best=opts.save_backbone,
                  prompt_length=opts.prompt_length, readout_scale=float(state["readout_scale"]))
    save_state()
    try:
        for name in opts.arms:
            st = state["arms"][name]
            if st["phase"] in ("done", "failed"):
                continue
            runner = arm_mod.ArmRunner(ctx, st, save_state, steps=opts.steps, budgeted=opts.budget_seconds is not None,
                                       base_lrs=(opts.lrs or {}).get(name), n_evals=opts.evals,
                                       session=len(state["sessions"]) - 1, progress=say)
            try:
                runner.run()
            except arm_mod.PilotInterrupted:
                save_state()
                raise PilotInterrupted(
                    f"Interrupted: the run is saved in {run.path}; continue it with `vptadvisor pilot --resume {run.path}`."
                ) from None
            if d.main:
                st["weights_file"] = export_arm(run, ctx, runner, st, info, opts, split)
            save_state()
            del runner
            gc.collect()
            release_freed_memory()
    finally:
        restore_signals()
    return finish(run, state, opts, info, split, bank, prior, d, dev, elapsed_before, t_session)


def _assign_shares(state: dict, opts: Options, spent: float) -> None:
    """Equal wall-clock shares of what the budget leaves after setup and a reserve for the result.
    A resumed run shrinks the unfinished arms' remaining shares in proportion if time was lost."""
    arms = state["arms"]
    for name in opts.arms:
        if name not in arms:
            arms[name] = arm_mod.new_arm_state(name, None)
            arms[name]["prompt_length"] = opts.prompt_length.get(name, 0)
    if opts.budget_seconds is None:
        return
    budget = opts.budget_seconds
    available = budget - spent - min(3.0 + 0.01 * budget, 0.05 * budget)  # reserve: statistics, figure, result
    pending = [n for n in opts.arms if arms[n]["phase"] not in ("done", "failed")]
    if not pending:
        return
    if available <= 0:
        raise MeasureError(f"Setup took {spent:.0f}s of the {budget:.0f}s budget: give the pilot a larger --budget.")
    fresh = [n for n in pending if arms[n]["share"] is None]
    if len(fresh) == len(pending):
        for n, share in shares(available, pending).items():
            arms[n]["share"] = share
        return
    per_fresh = max((arms[n]["share"] for n in pending if arms[n]["share"] is not None), default=0.0)
    remaining = {n: (per_fresh if arms[n]["share"] is None else arms[n]["share"]) - arms[n]["used"] for n in pending}
    scale = min(1.0, available / max(1e-9, sum(max(0.0, r) for r in remaining.values())))
    for n in pending:
        arms[n]["share"] = arms[n]["used"] + max(0.0, remaining[n]) * scale


def _amp_dtype(dev: torch.device) -> torch.dtype | None:
    """Mixed precision on GPU: bfloat16 where supported, else float16 with loss scaling."""
    if dev.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
