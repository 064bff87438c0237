"""Turn a decoded image into the Inception input: 3x299x299 float32 in [-1, 1].

``pytorch-fid`` (default) reproduces pytorch-fid exactly: ToTensor (uint8 / 255 in float32), bilinear
resize to 299x299 with ``align_corners=False`` and no antialiasing (done per image, as pytorch-fid
does at batch size 1), then 2x - 1. ``clean`` resizes with antialiased bicubic interpolation (as
clean-fid argues for), clamped to [0, 1]; its FIDs are not on the published scale.
"""

from __future__ import annotations

import numpy as np

INCEPTION_SIZE = 299
PREPROCESSINGS = ("pytorch-fid", "clean")


def to_inception_input(rgb: np.ndarray, preprocessing: str = "pytorch-fid"):
    """rgb: HxWx3 uint8 -> 3x299x299 float32 torch tensor in [-1, 1]."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).to(torch.float32).div(255)[None]
    if preprocessing == "pytorch-fid":
        x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
    elif preprocessing == "clean":
        x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bicubic", align_corners=False, antialias=True)
        x = x.clamp_(0, 1)
    else:
        raise ValueError(f"unknown preprocessing {preprocessing!r}")
    return (2 * x - 1)[0]
