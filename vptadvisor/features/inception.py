"""pytorch-fid's FID Inception-v3, built offline, returning pool3 and optional spatial taps.

The modules are pytorch-fid's own (its patched FIDInceptionA/C/E blocks on torchvision's
Inception-v3); only the weight loading differs: weights come from `inception_weights`, never from a
download inside the constructor. `forward` runs the same blocks as ``pytorch_fid.inception.InceptionV3(
[3], resize_input=False, normalize_input=False)`` on input already resized and scaled to [-1, 1].
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from vptadvisor.features.taps import Tap


def _fid_inception_modules() -> nn.Module:
    """torchvision's Inception-v3 with pytorch-fid's FID blocks swapped in (no weights yet)."""
    from pytorch_fid import inception as pf

    net = pf._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pf.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pf.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pf.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pf.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pf.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pf.FIDInceptionE_1(1280)
    net.Mixed_7c = pf.FIDInceptionE_2(2048)
    return net


_STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2")
_MIXED = (
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
)


def conv_bn_layers() -> list[tuple[str, tuple[int, ...]]]:
    """(module name, conv weight shape) of every conv+BN layer, in definition order (94 of them)."""
    net = _fid_inception_modules()
    return [
        (name, tuple(m.conv.weight.shape)) for name, m in net.named_modules() if hasattr(m, "conv") and hasattr(m, "bn")
    ]


class FIDInception(nn.Module):
    """The FID Inception network: 2048-d pool3 features (+ optional pooled spatial taps)."""

    def __init__(self, state_dict: dict[str, torch.Tensor], taps: tuple[Tap, ...] = ()):
        super().__init__()
        with torch.device("meta"):  # no random init to throw away: the weights are assigned below
            net = _fid_inception_modules()
        del net.fc  # the 1008-way logits are not part of FID; some weight files lack them
        state = {k: v for k, v in state_dict.items() if not k.startswith(("fc.", "AuxLogits."))}
        missing, unexpected = net.load_state_dict(state, strict=False, assign=True)
        if missing or unexpected:
            from vptadvisor.errors import MeasureError

            raise MeasureError(
                f"The Inception weights do not fit pytorch-fid's network ({len(missing)} missing, "
                f"{len(unexpected)} unexpected tensors); pass pytorch-fid's pt_inception-2015-12-05 weights."
            )
        self.stem = nn.Sequential(
            cast(nn.Module, net.Conv2d_1a_3x3),
            cast(nn.Module, net.Conv2d_2a_3x3),
            cast(nn.Module, net.Conv2d_2b_3x3),
            nn.MaxPool2d(kernel_size=3, stride=2),
            cast(nn.Module, net.Conv2d_3b_1x1),
            cast(nn.Module, net.Conv2d_4a_3x3),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.mixed = nn.ModuleDict({name.lower(): getattr(net, name) for name in _MIXED})
        self.taps = tuple(taps)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: Bx3x299x299 in [-1, 1]. Returns {"pool3": Bx2048, tap.name: Bx(C*g*g)}."""
        out: dict[str, torch.Tensor] = {}
        x = self.stem(x)
        for name, block in self.mixed.items():
            x = block(x)
            for tap in self.taps:
                if tap.layer == name:
                    out[tap.name] = F.adaptive_avg_pool2d(x, tap.grid).flatten(1)
        out["pool3"] = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return out
