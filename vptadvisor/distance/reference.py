"""Reference feature sets ("the pretraining data"): shipped, user-built, loaded, checked.

A reference file is safetensors (no pickle) holding either the Inception pool3 features
(``features``, N×2048 float32) or, for large sets, their float64 mean and covariance (``mu``,
``sigma``) plus a seeded random subset of features for KID (``kid_features``), with JSON metadata:
the extractor identity (network, weights hash, preprocessing, feature version), N and the source.
A reference made with another network, preprocessing or feature version is refused, because its FIDs
would not be comparable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from vptadvisor.errors import UsageError
from vptadvisor.paths import cache_dir, data_dir

DEFAULT_REFERENCE = "imagenet-sample-1000"
FORMAT = "vptadvisor.reference/1"
FEATURE_DIM = 2048  # Inception pool3
MIN_ROWS = 2  # fewest feature rows a covariance (hence a FID) can be computed from
MAX_STORED_FEATURES = 10_000  # above this, store mu/sigma + a KID subset instead of every feature
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class Reference:
    name: str
    path: Path
    meta: dict[str, Any]
    features: np.ndarray | None  # all features, when stored
    mu: np.ndarray | None
    sigma: np.ndarray | None
    kid_features: np.ndarray  # what KID samples from (all features, or the stored subset)

    @property
    def n_images(self) -> int:
        return int(self.meta["n_images"])

    def fid(self, features: np.ndarray) -> float:
        """FID between the Gaussian of `features` (N×2048) and this reference, in float64."""
        from vptadvisor.distance.frechet import (
            frechet_distance_between_features,
            frechet_distance_to_features,
        )

        if self.features is not None:
            return frechet_distance_between_features(features, self.features)
        # a reference without features has statistics (load_reference refuses one with neither)
        return frechet_distance_to_features(features, cast(np.ndarray, self.mu), cast(np.ndarray, self.sigma))


def shipped_reference_dir() -> Path:
    return data_dir() / "references"


def user_reference_dir() -> Path:
    return cache_dir() / "references"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"Reference name {name!r} is not allowed: use letters, digits, '.', '_' and '-' (max 64).")
    return name


def find_reference(name_or_path: str) -> Path:
    """A path to a .safetensors file, or a name among the shipped and the user-built references."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".safetensors" or "/" in name_or_path or "\\" in name_or_path:
        if not candidate.is_file():
            raise UsageError(
                f"Reference file {candidate} does not exist: pass a reference name or an existing .safetensors file."
            )
        return candidate
    for directory in (shipped_reference_dir(), user_reference_dir()):
        path = directory / f"{name_or_path}.safetensors"
        if path.is_file():
            return path
    known = sorted(list_references())
    raise UsageError(
        f"Unknown reference {name_or_path!r}: choose one of {', '.join(known) or '(none)'} or build one with "
        "`vptadvisor reference build DIR --name NAME`."
    )


def list_references() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in (user_reference_dir(), shipped_reference_dir()):  # shipped names win
        if directory.is_dir():
            for path in sorted(directory.glob("*.safetensors")):
                found[path.stem] = path
    return found


def load_reference(name_or_path: str = DEFAULT_REFERENCE) -> Reference:
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import load_file

    path = find_reference(name_or_path)
    try:
        with safe_open(str(path), framework="np") as fh:
            meta = json.loads((fh.metadata() or {})["vptadvisor_reference"])
        arrays = load_file(str(path))
    except (OSError, KeyError, ValueError, SafetensorError):
        raise UsageError(
            f"{path} is not a vptadvisor reference file; rebuild it with `vptadvisor reference build`."
        ) from None
    if meta.get("format") != FORMAT:
        raise UsageError(f"{path} has reference format {meta.get('format')!r}, not {FORMAT}; rebuild it.")
    features = arrays.get("features")
    kid = arrays.get("kid_features", features)
    if kid is None or (features is None and ("mu" not in arrays or "sigma" not in arrays)):
        raise UsageError(f"{path} lacks features or statistics; rebuild it with `vptadvisor reference build`.")
    check_contents(path, arrays, meta)
    return Reference(meta.get("name", path.stem), path, meta, features, arrays.get("mu"), arrays.get("sigma"), kid)


def check_contents(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Refuse a reference whose arrays cannot give a Fréchet distance: wrong shapes, non-finite values,
    fewer than MIN_ROWS feature rows (exit 2, naming the array)."""
    shapes = {
        "features": (None, FEATURE_DIM),
        "kid_features": (None, FEATURE_DIM),
        "mu": (FEATURE_DIM,),
        "sigma": (FEATURE_DIM, FEATURE_DIM),
    }
    rebuild = "rebuild it with `vptadvisor reference build`"
    for key, want in shapes.items():
        a = arrays.get(key)
        if a is None:
            continue
        if a.ndim != len(want) or any(w is not None and s != w for s, w in zip(a.shape, want)):
            dims = "x".join("N" if w is None else str(w) for w in want)
            raise UsageError(
                f"Reference {path}: '{key}' has shape {tuple(a.shape)}, not {dims} (Inception pool3 "
                f"features); {rebuild}."
            )
        if not np.issubdtype(a.dtype, np.floating):
            raise UsageError(f"Reference {path}: '{key}' holds {a.dtype} values, not floats; {rebuild}.")
        if not np.isfinite(a).all():
            raise UsageError(f"Reference {path}: '{key}' holds non-finite values (NaN or infinity); {rebuild}.")
        if want[0] is None and a.shape[0] < MIN_ROWS:
            raise UsageError(
                f"Reference {path}: '{key}' has {a.shape[0]} row(s); a covariance needs at least "
                f"{MIN_ROWS}; {rebuild} from more images."
            )
    n = meta.get("n_images")
    if isinstance(n, bool) or not isinstance(n, int) or n < MIN_ROWS:
        raise UsageError(f"Reference {path}: its metadata says n_images={n!r}; {rebuild}.")


def check_compatible(reference: Reference, identity: dict[str, Any]) -> None:
    """Refuse a reference whose features were made differently from the dataset's."""
    theirs = reference.meta.get("extractor", {})
    for key, label in (
        ("network", "network"),
        ("preprocessing", "preprocessing (--resize)"),
        ("feature_version", "feature version"),
    ):
        if theirs.get(key) != identity.get(key):
            raise UsageError(
                f"Reference {reference.name!r} was made with {label} {theirs.get(key)!r} but this run uses "
                f"{identity.get(key)!r}; use a matching reference or rebuild it with the same settings."
            )
    if theirs.get("precision", "exact") == "bf16" and identity.get("precision", "exact") != "bf16":
        raise UsageError(
            f"Reference {reference.name!r} was made with --precision bf16, whose features are not exact; "
            "use an exact reference, or run with --precision bf16."
        )


def save_reference(
    path: Path, name: str, features: np.ndarray, identity: dict[str, Any], source: str, seed: int = 0
) -> Path:
    from safetensors.numpy import save_file

    from vptadvisor.atomic import atomic_path
    from vptadvisor.distance.frechet import gaussian_stats

    features = np.ascontiguousarray(features, dtype=np.float32)
    meta = {
        "format": FORMAT,
        "name": name,
        "n_images": int(features.shape[0]),
        "source": source,
        "extractor": {
            k: identity[k]
            for k in ("network", "weights_sha256", "preprocessing", "feature_version", "engine", "precision")
            if k in identity
        },
    }
    if features.shape[0] <= MAX_STORED_FEATURES:
        arrays = {"features": features}
    else:
        mu, sigma = gaussian_stats(features)
        keep = np.sort(np.random.default_rng(seed).choice(features.shape[0], MAX_STORED_FEATURES, replace=False))
        arrays = {"mu": mu, "sigma": sigma, "kid_features": features[keep]}
        meta["kid_subset"] = {"n": MAX_STORED_FEATURES, "seed": seed}
    with atomic_path(path) as tmp:
        save_file(arrays, str(tmp), metadata={"vptadvisor_reference": json.dumps(meta, sort_keys=True)})
    return path
