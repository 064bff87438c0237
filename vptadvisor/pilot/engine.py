"""One arm's model, optimizer, training step and evaluation (single process or DDP).

Each arm's model and optimizer follow its spec (vptadvisor/pilot/arms.py): SGD with momentum 0.9
for the VPT family, AdamW for full fine-tuning and the PETL family. The
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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from vptadvisor.pilot import adapters
from vptadvisor.pilot.arms import ADAPTER_RANK, LORA_RANK, OPTIMIZER, WEIGHT_DECAY, spec
from vptadvisor.pilot.budget import peak_lr
from vptadvisor.pilot.checkpoint import RunDir
from vptadvisor.pilot.data import ImageBank
from vptadvisor.pilot.dist import Dist
from vptadvisor.pilot.vapt import DEFAULT_VAPT, VAPTViT, vapt_params_per_block
from vptadvisor.pilot.vpt import PromptedViT

DEEP_DROPOUT = 0.1  # VPT-deep's prompt dropout (the paper's demo); also mixed and ft-then-pt


def default_prompt_length(arm: str) -> int:
    """Prompt tokens of an arm: deep 10, shallow 50 (docs/pilot.md), VAPT 10, none for the others."""
    kind = spec(arm).prompts
    return {"shallow": 50, "deep": 10, "adaptive": DEFAULT_VAPT["length"]}.get(kind, 0)


def modifies_backbone(arm: str) -> bool:
    """Whether training the arm changes the shared backbone's weights in place."""
    s = spec(arm)
    return s.backbone in ("full", "bias") or s.after is not None


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
    after_state: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # arm -> final backbone
    channels_last: bool = False
    compile: bool = False
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


def make_model(arm: str, backbone: nn.Module, num_classes: int, prompt_length: int, seed: int) -> PromptedViT:
    """The arm's model around `backbone` (peft arms wrap a copy of it): see arms.py."""
    s = spec(arm)
    if s.prompts == "adaptive":
        return VAPTViT(
            backbone,
            num_classes,
            length=prompt_length,
            kernel=DEFAULT_VAPT["kernel"],
            rank=DEFAULT_VAPT["rank"],
            seed=seed,
        )
    trainable = None
    if s.backbone in ("lora", "adapter"):
        backbone = adapters.inject(backbone, s.backbone, LORA_RANK if s.backbone == "lora" else ADAPTER_RANK)
        trainable = adapters.is_adapter_param
    elif s.backbone == "bias":
        trainable = adapters.is_bias
    return PromptedViT(
        backbone,
        num_classes,
        prompt_length=prompt_length,
        deep=s.prompts == "deep",
        prompt_dropout=DEEP_DROPOUT if s.prompts == "deep" else 0.0,
        train_backbone=s.trains_backbone,
        backbone_trainable=trainable,
        seed=seed,
    )


class ArmEngine:
    def __init__(self, ctx: Context, arm: str):
        self.ctx = ctx
        self.arm = arm
        self.spec = spec(arm)
        self.fam = self.spec.family
        self.prompt_length = (
            int(ctx.prompt_length.get(arm, default_prompt_length(arm))) if self.spec.prompts != "none" else 0
        )
        self.prompt_dropout = DEEP_DROPOUT if self.spec.prompts == "deep" else 0.0
        self.explode_limit = ctx.explode_factor * max(1.0, math.log(ctx.num_classes))

    def _model(self) -> PromptedViT:
        ctx, s = self.ctx, self.spec
        if ctx.backbone_dirty and ctx.pristine is not None:
            ctx.backbone.load_state_dict(ctx.pristine)
            ctx.backbone_dirty = False
        if s.after is not None:
            if s.after not in ctx.after_state:
                raise RuntimeError(f"{self.arm} needs the final backbone of {s.after}")
            ctx.backbone.load_state_dict(ctx.after_state[s.after], strict=False)
        if modifies_backbone(self.arm):
            ctx.backbone_dirty = True
        return make_model(self.arm, ctx.backbone, ctx.num_classes, self.prompt_length, ctx.seed)

    # -- building and restoring candidates
    def build(self, base_lr: float, state: dict | None = None) -> Live:
        ctx = self.ctx
        with torch.random.fork_rng(devices=[]):  # peft draws its init from the global RNG: keep it seeded
            torch.manual_seed(ctx.seed)
            model = self._model().to(ctx.device)
        if ctx.channels_last:
            model = model.to(memory_format=torch.channels_last)
        model.readout_scale.fill_(ctx.readout_scale)
        params = model.trainable_parameters()
        lr = peak_lr(base_lr, ctx.global_batch)
        wd = WEIGHT_DECAY[self.fam]
        if OPTIMIZER[self.fam] == "sgd":
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
        if ctx.compile:
            wrapped = torch.compile(model)  # type: ignore[assignment]
        if ctx.dist.enabled:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            wrapped = DDP(wrapped, device_ids=ids)
        return Live(model=model, wrapped=wrapped, opt=opt, scaler=scaler)

    def snapshot(self, live: Live) -> dict:
        return {
            "model": live.model.trainable_state(),
            "optim": live.opt.state_dict(),
            "scaler": live.scaler.state_dict() if live.scaler is not None else {},
        }

    def parameter_counts(self, model: PromptedViT) -> tuple[int, int, int]:
        """(trainable, total, stored): what trains, the whole model, and what a task must store
        beside the shared pretrained backbone (ft-then-pt also stores its fine-tuned backbone)."""
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        stored = trainable
        if self.spec.after is not None:
            stored += sum(p.numel() for p in self.ctx.backbone.parameters())
        return int(trainable), int(total), int(stored)

    def paper_params(self, model: PromptedViT) -> tuple[int, str]:
        """The trainable-parameter count from the arm's paper formula, and the formula."""
        bb: Any = self.ctx.backbone  # timm VisionTransformer
        d, depth, c = int(bb.embed_dim), len(bb.blocks), self.ctx.num_classes
        head = d * c + c
        s, length = self.spec, self.prompt_length
        if s.prompts == "adaptive":
            n = int(math.prod(bb.patch_embed.grid_size))
            k, r = DEFAULT_VAPT["kernel"], DEFAULT_VAPT["rank"]
            return (
                depth * vapt_params_per_block(length, n, d, k, r) + head,
                f"depth*(F^2 + L*N + r*D + r + D*r + D) + head, F={k} L={length} N={n} r={r} D={d}",
            )
        backbone = sum(p.numel() for p in bb.parameters())
        prompts = (depth if s.prompts == "deep" else 1) * length * d if s.prompts != "none" else 0
        if s.backbone in ("lora", "adapter"):
            r = LORA_RANK if s.backbone == "lora" else ADAPTER_RANK
            n = adapters.lora_params(bb, s.backbone, r)
            which = "qkv, proj" if s.backbone == "lora" else "fc1, fc2"
            return n + head, f"sum over {which} of r*(d_in + d_out) + head, r={r}"
        if s.backbone == "bias":
            return sum(
                p.numel() for n_, p in bb.named_parameters() if n_.endswith(".bias")
            ) + head, "backbone biases + head"
        if s.backbone == "full":
            return backbone + prompts + head, "backbone" + (" + depth*L*D prompts" if prompts else "") + " + head"
        if prompts:
            return prompts + head, f"{'depth*' if s.prompts == 'deep' else ''}L*D + head, L={length} D={d}"
        return head, "D*C + C (head)"

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
        if ctx.device.type == "cuda":  # pinned host memory: the copy overlaps the previous step
            x, y = x.pin_memory(), y.pin_memory()
        x, y = x.to(ctx.device, non_blocking=True), y.to(ctx.device, non_blocking=True)
        if ctx.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
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
        stats = ctx.dist.sum_(
            torch.tensor([float(loss.detach()) * ctx.local_batch, float(ctx.local_batch), flag], dtype=torch.float64)
        )
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

    def time_eval_batch(self, live: Live) -> float:
        """Seconds for the evaluation forward pass of one (local) batch of val images."""
        ctx = self.ctx
        idx = torch.arange(0, min(int(ctx.bank.val_y.numel()), max(1, ctx.local_batch)))
        was_training = live.model.training
        live.model.eval()
        t = time.perf_counter()
        with torch.inference_mode(), self._autocast():
            live.model(ctx.bank.val_batch(idx).to(ctx.device))
        dt = time.perf_counter() - t
        live.model.train(was_training)
        return dt

    def predict(self, live: Live) -> tuple[np.ndarray, np.ndarray]:
        """Predicted class and class probabilities of every val image, gathered from all processes."""
        return predict_model(self.ctx, live.model, self._autocast)

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


@torch.inference_mode()
def predict_model(ctx: Context, model: nn.Module, autocast: Callable) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, softmax probabilities) of `model` on the shared val split."""
    n = int(ctx.bank.val_y.numel())
    mine = torch.arange(ctx.dist.rank, n, ctx.dist.world)
    model.eval()
    out = torch.empty(len(mine), ctx.num_classes, dtype=torch.float32)
    bs = max(1, ctx.local_batch)
    for start in range(0, len(mine), bs):
        idx = mine[start : start + bs]
        x = ctx.bank.val_batch(idx).to(ctx.device, non_blocking=True)
        if ctx.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            logits = model(x)
        out[start : start + len(idx)] = torch.softmax(logits.float(), dim=1).cpu()
    probs = ctx.dist.gather_rows(out, n).numpy()
    return probs.argmax(axis=1), probs
