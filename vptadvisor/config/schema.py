"""The settings of `vptadvisor.yaml` / `[tool.vptadvisor]`: typed dataclasses that are the schema.

Every field carries its kind (how a value is checked and how text from an environment variable or
the command line is parsed), its environment variable and a one-line help, in the field's metadata.
Top-level keys are shared by `analyze`, `check` and the pilot; `gate`, `report` and `pilot` are
sections. The `analyze` section is generic: it takes any keyword argument of
`vptadvisor.analyze.analyze()` that has no top-level key (see `load.analyze_section_settings`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "VPTADVISOR_"
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class BadValue(ValueError):
    """A value of the wrong type or out of range; the message says what was expected."""


@dataclass(frozen=True)
class Kind:
    """How a setting's value is checked. `base`: str, int, float, bool, path, choice, list, mapping,
    duration, any."""

    base: str
    optional: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def describe(self) -> str:
        text = {
            "str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
            "path": "a path", "mapping": "a mapping", "duration": "a duration like 90s, 30m or 2h",
            "any": "a value",
        }.get(self.base, "")
        if self.base == "choice":
            text = "one of " + ", ".join(self.choices)
        elif self.base == "list":
            text = "a list" + (" of " + ", ".join(self.choices) if self.choices else " of strings")
        if self.minimum is not None and self.maximum is not None:
            text += f" between {self.minimum:g} and {self.maximum:g}"
        elif self.minimum is not None:
            text += f" >= {self.minimum:g}"
        return text + (" (or null)" if self.optional else "")

    def check(self, value: Any) -> Any:
        """A value from a file (YAML/TOML types) or already parsed: the checked value, or BadValue."""
        if value is None:
            if self.optional:
                return None
            raise BadValue(self.describe())
        b = self.base
        if b == "any":
            return value
        if b in ("str", "choice", "duration", "path") and not isinstance(value, str) and not (
                b == "path" and isinstance(value, os.PathLike)):
            raise BadValue(self.describe())
        if b == "choice" and value not in self.choices:
            raise BadValue(self.describe())
        if b == "duration" and not (_DURATION.match(value.strip().lower()) and value.strip()):
            raise BadValue(self.describe())
        if b == "path":
            if not str(value).strip():
                raise BadValue(self.describe())
            value = Path(value).expanduser()
        if b == "bool" and not isinstance(value, bool):
            raise BadValue(self.describe())
        if b == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise BadValue(self.describe())
        if b == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise BadValue(self.describe())
            value = float(value)
        if b in ("int", "float") and ((self.minimum is not None and value < self.minimum)
                                      or (self.maximum is not None and value > self.maximum)):
            raise BadValue(self.describe())
        if b == "list":
            if isinstance(value, str):  # "vpt-deep,ft" is accepted too
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
                raise BadValue(self.describe())
            if self.choices and any(v not in self.choices for v in value):
                raise BadValue(self.describe())
            value = list(value)
        if b == "mapping" and not isinstance(value, dict):
            raise BadValue(self.describe())
        return value

    def parse(self, text: str) -> Any:
        """Text from an environment variable or the command line -> a checked value."""
        t = text.strip()
        if self.optional and t.lower() in ("", "null", "none"):
            return None
        b = self.base
        try:
            if b == "int":
                return self.check(int(t))
            if b == "float":
                return self.check(float(t))
        except ValueError:
            raise BadValue(self.describe()) from None
        if b == "bool":
            if t.lower() in _TRUE:
                return True
            if t.lower() in _FALSE:
                return False
            raise BadValue(self.describe())
        if b == "mapping":
            import json

            try:
                return self.check(json.loads(t))
            except json.JSONDecodeError:
                raise BadValue(self.describe() + " (as JSON)") from None
        return self.check(t)


def setting(default: Any, kind: Kind, help: str, cli: str | None = None) -> Any:
    """A dataclass field that is a setting."""
    meta = {"kind": kind, "help": help, "cli": cli}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _opt(base: str, **kw: Any) -> Kind:
    return Kind(base, optional=True, **kw)


@dataclass
class GateConfig:
    expect: str | None = setting(None, _opt("choice", choices=("vpt", "ft")),
                                 "The decision the repository relies on; `check` fails when the verdict is not it.", "--expect")
    min_confidence: float = setting(0.7, Kind("float", minimum=0.0, maximum=1.0),
                                    "Least probability that the expected method is better (P(VPT better) for vpt, "
                                    "1 - P for ft).", "--min-confidence")
    allow_uncertain: bool = setting(False, Kind("bool"), "Let a 'too close to call' verdict pass the gate.",
                                    "--allow-uncertain")


@dataclass
class ReportConfig:
    path: Path | None = setting(None, _opt("path"), "Write a report here: .md or .html (self-contained).", "--report")
    images: str = setting("embed", Kind("choice", choices=("embed", "files")),
                          "embed: figures inside the report (base64); files: PNGs beside a Markdown report "
                          "(GitHub's Markdown does not show embedded images).")


PILOT_ARMS = ("vpt-deep", "vpt-shallow", "ft")


@dataclass
class PilotConfig:
    run: str = setting("never", Kind("choice", choices=("never", "uncertain", "always")),
                       "When `check` trains the pilot: never, when the rule is uncertain, or always; "
                       "a pilot that ran decides the gate.", "--run-pilot")
    budget: str | None = setting("30m", _opt("duration"), "Wall-clock budget of the whole pilot.")
    steps: int | None = setting(None, _opt("int", minimum=1), "Training steps per arm instead of a budget.")
    arms: list[str] = setting(["vpt-deep", "ft"], Kind("list", choices=PILOT_ARMS), "Arms to train.")
    img_size: int = setting(224, Kind("int", minimum=8), "Training resolution.")
    batch_size: int = setting(32, Kind("int", minimum=1), "Global batch size.")
    val_fraction: float = setting(0.2, Kind("float", minimum=0.01, maximum=0.9),
                                  "Stratified validation share when the dataset has no val split.")
    prompt_length: int | None = setting(None, _opt("int", minimum=1), "Prompt tokens (default: deep 10, shallow 50).")
    evals: int = setting(4, Kind("int", minimum=1), "Validation evaluations of the continued training.")
    threads: int | None = setting(None, _opt("int", minimum=1), "CPU threads per process.")
    backbone_kwargs: dict = setting({}, Kind("mapping"), "Extra timm.create_model arguments.")
    out: Path | None = setting(None, _opt("path"), "Run directory (default runs/pilot-<time>).")
    result: Path | None = setting(None, _opt("path"),
                                  "A finished pilot run (directory or its result.json) to show in the report.", "--pilot")


@dataclass
class Config:
    """Effective settings; `sources` says where each dotted key's value came from."""

    dataset: Path | None = setting(None, _opt("path"), "Dataset directory or CSV/JSONL manifest.", "DATASET")
    layout: str = setting("auto", Kind("choice", choices=("auto", "folder", "split", "manifest", "flat")),
                          "Dataset layout.", "--layout")
    objective: str | None = setting(None, _opt("str"),
                                    "What the labels ask: classification (assumed when unset), counting, distance, "
                                    "orientation, location, other.", "--objective")
    train_size: int | None = setting(None, _opt("int", minimum=1),
                                     "Training images for the verdict (default: the train split, else all images).",
                                     "--train-size")
    backbone: str | None = setting(None, _opt("str"), "timm name of the ViT you will adapt.", "--backbone")
    weights: Path | None = setting(None, _opt("path"), "Local checkpoint of the backbone (for the pilot).", "--weights")
    reference: str = setting("imagenet-sample-1000", Kind("str"), "Reference statistics: a name or a path.",
                             "--reference")
    inception_weights: Path | None = setting(None, _opt("path"), "FID Inception weights file.", "--inception-weights")
    cache_dir: Path | None = setting(None, _opt("path"), "Feature cache directory (default ~/.cache/vptadvisor).",
                                     "--cache-dir")
    device: str = setting("auto", Kind("choice", choices=("auto", "cpu", "cuda", "mps")), "Where networks run.",
                          "--device")
    seed: int = setting(0, Kind("int"), "Seed for every random choice.", "--seed")
    min_images: int = setting(50, Kind("int", minimum=2), "Fewest readable images to measure on (exit 3 below).",
                              "--min-images")
    strict: bool = setting(False, Kind("bool"), "Any skipped file is an error (exit 3).", "--strict")
    gate: GateConfig = field(default_factory=GateConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    pilot: PilotConfig = field(default_factory=PilotConfig)
    analyze: dict[str, Any] = field(default_factory=dict)  # generic: extra keyword arguments of analyze()
    sources: dict[str, str] = field(default_factory=dict, repr=False)
    file: Path | None = None  # the config file read, if any

    def get(self, key: str) -> Any:
        """The value of a dotted key ("gate.expect", "analyze.batch_size", "seed")."""
        section, _, name = key.rpartition(".")
        if section == "analyze":
            return self.analyze.get(name)
        return getattr(getattr(self, section) if section else self, name)


SECTIONS: dict[str, type] = {"gate": GateConfig, "report": ReportConfig, "pilot": PilotConfig}


@dataclass(frozen=True)
class SettingInfo:
    key: str  # dotted
    kind: Kind
    default: Any
    help: str
    cli: str | None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.replace(".", "_").upper()


def _infos(cls: type, prefix: str) -> list[SettingInfo]:
    out = []
    for f in fields(cls):
        if "kind" not in f.metadata:
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        out.append(SettingInfo(prefix + f.name, f.metadata["kind"], default, f.metadata["help"], f.metadata["cli"]))
    return out


def fixed_settings() -> list[SettingInfo]:
    """Every setting with a fixed schema (top level and the gate, report and pilot sections)."""
    out = _infos(Config, "")
    for name, cls in SECTIONS.items():
        out += _infos(cls, name + ".")
    return out
