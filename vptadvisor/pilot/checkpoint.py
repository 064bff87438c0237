"""The run directory: atomic checkpoints that a killed or interrupted pilot resumes from.

    RUN_DIR/config.json            what was asked (options, split), written once
    RUN_DIR/checkpoint/state.json  progress of every arm (JSON), rewritten atomically
    RUN_DIR/checkpoint/*.pt        tensors of candidates (trainable state + optimizer), versioned
                                   by step: state.json names the file that belongs to it, so a
                                   kill between the two writes leaves a consistent pair
    RUN_DIR/result.json            the result, written once at the end (atomically)

Tensor files are written with torch.save to a temporary name and renamed; they are read back
with ``torch.load(weights_only=True)``. The checkpoint directory is removed when the pilot ends.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from vptadvisor.atomic import atomic_path, write_text
from vptadvisor.errors import UsageError

CONFIG = "config.json"
STATE = "checkpoint/state.json"
RESULT = "result.json"


class RunDir:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path).expanduser().absolute()
        self.ckpt = self.path / "checkpoint"

    def write_json(self, rel: str, data: Any) -> None:
        write_text(self.path / rel, json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")

    def read_json(self, rel: str) -> Any:
        try:
            return json.loads((self.path / rel).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"Cannot read {self.path / rel} ({exc}); the run directory is damaged.") from None

    def save_tensors(self, name: str, data: dict[str, Any]) -> str:
        """Atomically save a dict of tensors (and plain values) under checkpoint/; returns its name."""
        with atomic_path(self.ckpt / name) as tmp:
            torch.save(data, tmp)
        return name

    def load_tensors(self, name: str) -> dict[str, Any]:
        path = self.ckpt / name
        if Path(name).name != name or name in ("", ".", ".."):
            raise UsageError(
                f"state.json names the checkpoint file {name!r}, which is not a file in {self.ckpt}: "
                "the run directory was edited; start a new run."
            )
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise UsageError(f"Checkpoint file {path} is missing: the run cannot resume.") from None
        except Exception:
            raise UsageError(
                f"Checkpoint file {path} is not a tensor checkpoint this pilot wrote (it may hold "
                "code, or be damaged), so it was not loaded: start a new run."
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
            raise UsageError(f"Checkpoint file {path} does not hold a model state: start a new run.")
        return data

    def remove(self, name: str | None) -> None:
        if name:
            (self.ckpt / name).unlink(missing_ok=True)

    def drop_checkpoints(self) -> None:
        shutil.rmtree(self.ckpt, ignore_errors=True)
