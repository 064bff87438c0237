"""VAPT: Visual Adaptive Prompt Tuning (Le, Nguyen, Nguyen, Nguyen, Ho; arXiv 2501.18936, ICLR 2026).

Written from the paper, not from its code. VPT's prompt tokens are constants: read as a mixture of
experts (each attention head mixes "experts" W_V^T x_k, one per token), a prompt contributes an
expert W_V^T p_j that does not depend on the image. VAPT makes every prompt a function of the
input of the block it is inserted in. For block l with patch tokens X = (x_1..x_N), N = H*W,
arranged on their H x W grid:

    channel-wise convolution   X~ = K * X          one F x F kernel K shared by all D channels
                                                    (F^2 parameters), "same" padding
    token-wise projector       G_j(X~) = sum_k alpha_{j,k} x~_k      j = 1..L   (L*N parameters)
    feature projector          f(z) = W_2 sigma(W_1 z + b_1) + b_2   shared by the L prompts
                                                    W_1: r x D, W_2: D x r, sigma = GELU
    adaptive prompt            p_j(X) = f(G_j(X~))

and the L prompts p_1(X)..p_L(X) take the prompt slots of block l's input, exactly where VPT-deep
puts its P^(l) (vptadvisor/pilot/vpt.py: inserted after the class/register tokens, no position
embedding, the previous block's outputs at those slots are discarded). Trainable parameters per
block: F^2 + L*N + (r*D + r) + (D*r + D); plus the linear head. The backbone is frozen.

Defaults: L = 10 (the pilot's VPT-deep length), F = 3, r = 16. The paper tunes r; its reported
average of 0.36 % tuned parameters on ViT-B/16 (``../shared/study/vapt_summary.csv``) is about
26k per block, i.e. r of about 16 at D = 768.

Initialisation: K is the identity kernel (the centre tap 1) so X~ = X at the start; alpha is
drawn U(0, 2/N) (mean 1/N: each G_j starts near the average token, and the draws differ so the
L prompts are not interchangeable); W_1 Xavier-uniform, W_2 Xavier-uniform scaled by 0.1 so the
first prompts are small; biases zero.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vptadvisor.pilot.vpt import PromptedViT

DEFAULT_VAPT = {"length": 10, "kernel": 3, "rank": 16}


def vapt_params_per_block(length: int, n_patches: int, dim: int, kernel: int = 3, rank: int = 16) -> int:
    """The paper's count per block: F^2 + L*N + (r*D + r) + (D*r + D)."""
    return kernel * kernel + length * n_patches + (rank * dim + rank) + (dim * rank + dim)


class AdaptivePrompts(nn.Module):
    """The prompt generator of one block: p_j(X) = f(G_j(K * X))."""

    def __init__(self, length: int, n_patches: int, dim: int, kernel: int, rank: int, gen: torch.Generator):
        super().__init__()
        self.kernel_size = int(kernel)
        self.n_patches = int(n_patches)
        k = torch.zeros(1, 1, kernel, kernel)
        k[0, 0, kernel // 2, kernel // 2] = 1.0
        self.conv = nn.Parameter(k)
        self.alpha = nn.Parameter(torch.rand(length, n_patches, generator=gen) * (2.0 / n_patches))
        self.down = nn.Linear(dim, rank)
        self.up = nn.Linear(rank, dim)
        with torch.no_grad():
            for lin, gain in ((self.down, 1.0), (self.up, 0.1)):
                bound = gain * math.sqrt(6.0 / (lin.in_features + lin.out_features))
                lin.weight.copy_((torch.rand(lin.weight.shape, generator=gen) * 2 - 1) * bound)
                lin.bias.zero_()

    def forward(self, patches: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        b, n, d = patches.shape
        h, w = grid
        x = patches.transpose(1, 2).reshape(b * d, 1, h, w)
        x = F.conv2d(x, self.conv.to(x.dtype), padding=self.kernel_size // 2)
        x = x.reshape(b, d, n)  # (B, D, N)
        g = torch.einsum("ln,bdn->bld", self.alpha.to(x.dtype), x)  # token-wise projectors G_j
        return self.up(F.gelu(self.down(g)))  # shared feature projector f


class VAPTViT(PromptedViT):
    """A frozen timm ViT with VAPT prompts in every block and a new linear head."""

    def __init__(
        self, backbone: nn.Module, num_classes: int, *, length: int = 10, kernel: int = 3, rank: int = 16, seed: int = 0
    ):
        super().__init__(backbone, num_classes, prompt_length=0, seed=seed)
        vit: Any = backbone  # a timm VisionTransformer; nn.Module types its attributes as Tensor | Module
        grid = tuple(int(g) for g in vit.patch_embed.grid_size)
        self.grid = (grid[0], grid[1])
        n = self.grid[0] * self.grid[1]
        gen = torch.Generator().manual_seed(int(seed) + 1)
        dim = int(vit.embed_dim)
        self.generators = nn.ModuleList(
            [AdaptivePrompts(length, n, dim, kernel, rank, gen) for _ in range(len(vit.blocks))]
        )
        self.prompt_length, self.deep = int(length), True

    def block_prompts(self, block: int, patches: torch.Tensor, batch: int) -> torch.Tensor:
        n = patches.shape[1]
        grid = self.grid if n == self.grid[0] * self.grid[1] else (math.isqrt(n), n // max(1, math.isqrt(n)))
        return self.generators[block](patches, grid)
