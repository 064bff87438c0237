"""Spatial taps: Inception feature maps average-pooled to a small grid (torch-free description).

pool3 (the FID feature) throws away where things are; a pooled grid of an intermediate map keeps
position, count and orientation evidence for the objective probe, from the same forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

TAP_LAYERS = {"mixed_6e": 768, "mixed_7c": 2048}  # layer -> channels


@dataclass(frozen=True)
class Tap:
    layer: str
    grid: int

    def __post_init__(self):
        if self.layer not in TAP_LAYERS:
            raise ValueError(f"unknown tap layer {self.layer!r}; known: {', '.join(TAP_LAYERS)}")
        if self.grid < 1:
            raise ValueError("tap grid must be >= 1")

    @property
    def name(self) -> str:
        return f"{self.layer}_g{self.grid}"

    @property
    def dim(self) -> int:
        return TAP_LAYERS[self.layer] * self.grid * self.grid
