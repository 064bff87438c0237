"""One arm's model, optimizer, training step and evaluation (single process or DDP).

VPT arms: SGD with momentum 0.9 on prompts + head; full fine-tuning: AdamW on everything. The
peak learning rate is base_lr * global_batch / 256 (the protocols' scaling rule). A step whose
mean loss is not finite, or exceeds `explode_factor` (1000) times the loss of a uniform guess
(ln C), is not applied and the candidate is reported as diverged. The factor is large on
purpose: with the protocol's large SGD rates a linear head reaches losses in the hundreds and
still classifies well (its argmax does not care about scale), so only a blow-up counts; large
but finite losses simply lose the learning-rate search.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from vptadvisor.pilot.budget import family, peak_lr
from vptadvisor.pilot.checkpoint import RunDir
from vptadvisor.pilot.data import ImageBank
from vptadvisor.pilot.dist import Dist
from vptadvisor.pilot.vpt import DEFAULT_PROMPT_DROPOUT, DEFAULT_PROMPT_LENGTH, PromptedViT

WEIGHT_DECAY = {"vpt": 1e-4, "ft": 1e-4}


@dataclass
class Context:
    """What every arm shares: data, backbone, devices, run directory, and the signal flag."""

    bank: ImageBank
    backbone: nn.Module
    pristine: dict[str, torch.Tensor] | None  # backbone weights at start (full fine-tuning changes them)
    num_classes: int
    device: torch.device
    dist: Dist
    run: RunDir
    global_batch: int
    seed: int
    interrupted: Callable[[], bool]
    checkpoint_every: float = 120.0
    explode_factor: float = 1000.0
    amp_dtype: torch.dtype | None = None
    backbone_dirty: bool = False
    keep_full_best: bool = False  # keep a copy of the best fine-tuned model (for --save-backbone)
    readout_scale: float = 1.0  # see vptadvisor/pilot/vpt.py
    prompt_length: dict[str, int] = field(default_factory=dict)

    @property
    def local_batch(self) -> int:
        return self.global_batch // self.dist.world


@dataclass
class Live:
    """The candidate currently being trained."""

    model: PromptedViT
    wrapped: nn.Module
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None


class ArmEngine:
    def __init__(self, ctx: Context, arm: str):
        self.ctx = ctx
        self.arm = arm
        self.fam = family(arm)
        self.prompt_length = 0 if arm == "ft" else int(ctx.prompt_length.get(arm, DEFAULT_PROMPT_LENGTH[arm]))
        self.prompt_dropout = 0.0 if arm == "ft" else DEFAULT_PROMPT_DROPOUT[arm]
        self.explode_limit = ctx.explode_factor * max(1.0, math.log(ctx.num_classes))

    # -- building and restoring candidates
    def build(self, base_lr: float, state: dict | None = None) -> Live:
        ctx = self.ctx
        if ctx.backbone_dirty or (self.arm == "ft" and ctx.pristine is not None):
            ctx.backbone.load_state_dict(ctx.pristine)
            ctx.backbone_dirty = False
        model = PromptedViT(
            ctx.backbone, ctx.num_classes, prompt_length=self.prompt_length, deep=self.arm == "vpt-deep",
            prompt_dropout=self.prompt_dropout, train_backbone=self.arm == "ft", seed=ctx.seed,
        ).to(ctx.device)
        model.readout_scale.fill_(ctx.readout_scale)
        if self.arm == "ft":
            ctx.backbone_dirty = True
        params = model.trainable_parameters()
        lr = peak_lr(base_lr, ctx.global_batch)
        wd = WEIGHT_DECAY[self.fam]
        if self.fam == "vpt":
            opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
        else:
            opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
        scaler = None
        if ctx.amp_dtype == torch.float16:
            scaler = torch.amp.GradScaler("cuda")
        if state is not None:
            missing = model.load_state_dict(state["model"], strict=False)
            if missing.unexpected_keys:
                raise RuntimeError(f"checkpoint does not fit {self.arm}: {missing.unexpected_keys[:3]}")
            opt.load_state_dict(state["optim"])
            if scaler is not None and state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
        wrapped: nn.Module = model
        if ctx.dist.enabled:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            wrapped = DDP(model, device_ids=ids)
        return Live(model=model, wrapped=wrapped, opt=opt, scaler=scaler)

    def snapshot(self, live: Live) -> dict:
        return {
            "model": live.model.trainable_state(),
            "optim": live.opt.state_dict(),
            "scaler": live.scaler.state_dict() if live.scaler is not None else {},
        }

    def parameter_counts(self) -> tuple[int, int]:
        """(trainable, total) parameters: prompts + head for VPT, everything for fine-tuning."""
        bb = self.ctx.backbone
        dim = int(bb.embed_dim)
        head = dim * self.ctx.num_classes + self.ctx.num_classes
        prompts = (len(bb.blocks) if self.arm == "vpt-deep" else 1) * self.prompt_length * dim
        backbone = sum(p.numel() for p in bb.parameters())
        trainable = backbone + head if self.arm == "ft" else prompts + head
        return trainable, backbone + prompts + head

    # -- one step and one evaluation
    def _autocast(self):
        if self.ctx.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.ctx.device.type, dtype=self.ctx.amp_dtype)

    def forward_backward(self, live: Live, step: int) -> tuple[float, str | None, bool, float]:
        """Gradients of global batch `step` (this process's rows). Returns (mean loss over all
        processes, divergence reason or None, whether any process was interrupted, seconds this
        process spent in the forward pass)."""
        ctx = self.ctx
        offset = ctx.dist.rank * ctx.local_batch
        x, y = ctx.bank.train_batch(step, ctx.global_batch, offset, ctx.local_batch)
        x, y = x.to(ctx.device, non_blocking=True), y.to(ctx.device, non_blocking=True)
        live.model.set_dropout_masks(ctx.seed * 1_000_003 + step, offset, ctx.global_batch)
        live.wrapped.train()
        t = time.perf_counter()
        with self._autocast():
            logits = live.wrapped(x)
        loss = F.cross_entropy(logits.float(), y)
        t_forward = time.perf_counter() - t
        live.opt.zero_grad(set_to_none=True)
        (live.scaler.scale(loss) if live.scaler is not None else loss).backward()
        flag = 1.0 if ctx.interrupted() else 0.0
        stats = ctx.dist.sum_(torch.tensor([float(loss.detach()) * ctx.local_batch, float(ctx.local_batch), flag],
                                           dtype=torch.float64))
        mean_loss = float(stats[0] / stats[1])
        interrupted = bool(stats[2] > 0)  # then the step is not applied: the checkpoint is the state before it
        reason = None
        if not math.isfinite(mean_loss):
            reason = "loss is not finite"
        elif mean_loss > self.explode_limit:
            reason = f"loss {mean_loss:.3g} exceeded {self.explode_limit:.3g} (exploding)"
        return mean_loss, reason, interrupted, t_forward

    def apply(self, live: Live, lr: float | None) -> None:
        """Take the optimizer step with learning rate `lr` (None: discard the gradients)."""
        if lr is not None:
            for group in live.opt.param_groups:
                group["lr"] = lr
            if live.scaler is not None:
                live.scaler.step(live.opt)
                live.scaler.update()
            else:
                live.opt.step()
        live.opt.zero_grad(set_to_none=True)

    def step(self, live: Live, step: int, lr: float) -> tuple[float, str | None, bool]:
        """Train on global batch `step`; a diverging or interrupted step is not applied."""
        loss, reason, interrupted, _ = self.forward_backward(live, step)
        self.apply(live, lr if reason is None and not interrupted else None)
        return loss, reason, interrupted

    @torch.inference_mode()
    def predict(self, live: Live) -> np.ndarray:
        """Predicted class of every val image, gathered from all processes."""
        ctx = self.ctx
        n = int(ctx.bank.val_y.numel())
        mine = torch.arange(ctx.dist.rank, n, ctx.dist.world)
        live.model.eval()
        out = torch.empty(len(mine), dtype=torch.int64)
        bs = max(1, ctx.local_batch)
        for start in range(0, len(mine), bs):
            idx = mine[start:start + bs]
            x = ctx.bank.val_batch(idx).to(ctx.device, non_blocking=True)
            with self._autocast():
                logits = live.model(x)
            out[start:start + len(idx)] = logits.float().argmax(dim=1).cpu()
        return ctx.dist.gather_rows(out, n).numpy()

    def accuracy(self, preds: np.ndarray) -> float:
        truth = self.ctx.bank.val_y.numpy()[: len(preds)]
        return float(np.mean(preds == truth)) if len(preds) else 0.0

    def save_candidate(self, run: RunDir, live: Live, k: int, step: int) -> str | None:
        """Checkpoint candidate k at `step` (rank 0 writes); returns the file name."""
        name = f"{self.arm}-c{k}-s{step}.pt"
        if self.ctx.dist.main:
            run.save_tensors(name, self.snapshot(live))
        self.ctx.dist.barrier()
        return name
