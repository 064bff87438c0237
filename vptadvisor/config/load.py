"""Effective settings: command line > environment > config file > defaults, each with its source.

Every key, type, default, bound and environment variable comes from the settings models
(vptadvisor/settings/models.py); this module only layers the sources and says where each value came
from. pydantic validates. (pydantic-settings layers sources too, but it cannot say which source a
value came from, which `config show` and the report print, nor resolve a file's relative paths
against the file; so the layering is the few lines below.)

Relative paths in a file are relative to the file's folder; on the command line and in the
environment, to the working directory. Unknown keys and values of the wrong type are usage errors
(exit 2) that name the key.
"""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, PrivateAttr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from vptadvisor.config.files import find_config_file, read_config_file
from vptadvisor.errors import UsageError
from vptadvisor.settings import ENV_PREFIX, SECTIONS, AnalyzeSettings, CheckSettings, PilotSettings
from vptadvisor.settings.fields import Duration

M = TypeVar("M", bound=BaseModel)


class Config(CheckSettings):
    """Effective settings (CheckSettings); `sources` says where each dotted key's value came from."""

    if TYPE_CHECKING:  # the fields come from the command models at run time

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _file: Path | None = PrivateAttr(default=None)

    @property
    def sources(self) -> dict[str, str]:
        return self._sources

    @property
    def file(self) -> Path | None:
        return self._file

    def get(self, key: str) -> Any:
        """The value of a dotted key ("gate.expect", "analyze.batch_size", "seed")."""
        section, _, name = key.rpartition(".")
        return getattr(getattr(self, section) if section else self, name)


@dataclass(frozen=True)
class SettingInfo:
    key: str  # dotted
    field: FieldInfo

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.replace(".", "_").upper()

    @property
    def help(self) -> str:
        return self.field.description or ""

    @property
    def default(self) -> Any:
        return self.field.get_default(call_default_factory=True)

    @property
    def cli(self) -> str | None:
        extra = self.field.json_schema_extra
        return extra.get("x-cli") if isinstance(extra, dict) else None  # type: ignore[return-value]

    @property
    def from_file(self) -> bool:
        extra = self.field.json_schema_extra
        return not isinstance(extra, dict) or extra.get("x-file") is not False

    def describe(self) -> str:
        return describe(self.field)


def type_parts(annotation: Any) -> tuple[bool, list[Any]]:
    """(optional, the other members) of a type."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return type(None) in args, [a for a in args if a is not type(None)]
    return False, [annotation]


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def describe(field: FieldInfo) -> str:
    """What a field takes, in words: "an integer >= 2", "one of vpt, ft (or null)"."""
    optional, rest = type_parts(field.annotation)
    ann = rest[0] if rest else Any
    origin = typing.get_origin(ann)
    if ann is Duration:
        text = "a duration: write it like 90s, 30m, 2h or 1h30m"
    elif origin is Literal:
        text = "one of " + ", ".join(map(str, typing.get_args(ann)))
    elif origin is typing.Annotated and typing.get_origin(typing.get_args(ann)[0]) is list:
        (item,) = typing.get_args(typing.get_args(ann)[0])
        text = "a list of " + ", ".join(map(str, typing.get_args(item)))
    elif origin is list:
        (item,) = typing.get_args(ann)
        if typing.get_origin(item) is Literal:
            text = "a list of " + ", ".join(map(str, typing.get_args(item)))
        else:
            text = {float: "a list of numbers", int: "a list of integers"}.get(item, "a list of strings")
            text += " (comma-separated on the command line)"
    elif origin is dict or ann is dict:
        text = "a mapping (a JSON object)"
    else:
        text = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(ann, "")
        if typing.get_origin(ann) is typing.Annotated and typing.get_args(ann)[0] is Path:
            text = "a path"
    low = next((getattr(m, a) for m in field.metadata for a in ("ge", "gt") if hasattr(m, a)), None)
    high = next((getattr(m, a) for m in field.metadata for a in ("le", "lt") if hasattr(m, a)), None)
    if low is not None and high is not None:
        text += f" between {_num(low)} and {_num(high)}"
    elif low is not None:
        text += f" {'>=' if any(hasattr(m, 'ge') for m in field.metadata) else '>'} {_num(low)}"
    return text + (" (or null)" if optional else "")


@lru_cache(maxsize=1)
def _infos() -> dict[str, SettingInfo]:
    out: dict[str, SettingInfo] = {}
    for name, field in CheckSettings.model_fields.items():
        if name in SECTIONS:
            for sub, subfield in SECTIONS[name].model_fields.items():
                out[f"{name}.{sub}"] = SettingInfo(f"{name}.{sub}", subfield)
        else:
            out[name] = SettingInfo(name, field)
    return out


def all_settings() -> list[SettingInfo]:
    """Every key of the config file, in the model's order."""
    return list(_infos().values())


def _unknown(label: str, key: str, known: list[str]) -> UsageError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return UsageError(
        f"{label}: unknown key '{key}'{hint}; the keys are listed in docs/ci.md and by `vptadvisor config show`."
    )


def flatten_file(raw: dict[str, Any], label: str) -> dict[str, Any]:
    """Nested file mapping -> {dotted key: raw value}; unknown keys and non-mapping sections are errors."""
    infos = _infos()
    known = sorted(infos)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        key = str(key)
        if key in SECTIONS:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise UsageError(f"{label}: '{key}' must be a mapping of settings, got {type(value).__name__}.")
            for sub, subvalue in value.items():
                dotted = f"{key}.{sub}"
                if dotted not in infos or not infos[dotted].from_file:
                    raise _unknown(label, dotted, known)
                out[dotted] = subvalue
        elif key in infos and infos[key].from_file:
            out[key] = value
        else:
            raise _unknown(label, key, known)
    return out


def parse_text(info: SettingInfo, text: str) -> Any:
    """Text (an environment variable, a command-line string) -> a value of the setting's type:
    true/false/yes/no/1/0 for booleans, null for unset, commas for lists, JSON for mappings."""
    optional, rest = type_parts(info.field.annotation)
    t = text.strip()
    if optional and t.lower() in ("", "null", "none"):
        return None
    origin = typing.get_origin(rest[0]) if rest else None
    if origin is dict:
        try:
            return json.loads(t)
        except json.JSONDecodeError:
            raise ValueError(info.describe()) from None
    value: Any = [v.strip() for v in t.split(",") if v.strip()] if origin is list else t
    try:  # pydantic's lax mode turns text into numbers and booleans; the strict model then checks
        return TypeAdapter(info.field.annotation or Any).validate_python(value, strict=False)
    except ValidationError:
        return value


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        section, _, name = key.rpartition(".")
        (out.setdefault(section, {}) if section else out)[name] = value
    return out


def load_config(
    cli: Mapping[str, Any] | None = None,
    config: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Resolve every setting. `cli` maps dotted keys to command-line values (None: not given)."""
    env = os.environ if env is None else env
    infos = _infos()
    given: dict[str, Any] = {}
    sources: dict[str, str] = dict.fromkeys(infos, "default")
    label: dict[str, str] = {}  # how an error names where a key's value came from

    path = find_config_file(config, cwd, env)
    if path is not None:
        for key, raw in flatten_file(read_config_file(path), str(path)).items():
            if (
                isinstance(raw, str)
                and _is_path(infos[key])
                and raw.strip()
                and not Path(raw).expanduser().is_absolute()
            ):
                raw = str(path.parent / raw)
            given[key], sources[key], label[key] = raw, f"file {path.name}", f"{path}: {key}"

    for key, info in infos.items():
        text = env.get(info.env)
        if not text or not info.from_file:
            continue
        try:
            given[key] = parse_text(info, text)
        except ValueError as exc:
            raise UsageError(f"Environment variable {info.env}: {key} must be {exc}, got {text!r}.") from None
        sources[key], label[key] = f"environment {info.env}", f"Environment variable {info.env}: {key}"

    for key, value in (cli or {}).items():
        if value is None:
            continue
        if key not in infos:
            raise UsageError(f"unknown setting {key!r} given on the command line.")
        info = infos[key]
        option = info.cli.split("/")[0] if info.cli else key
        value = getattr(value, "value", value)  # enums
        try:
            given[key] = parse_text(info, value) if isinstance(value, str) and not _is_plain_str(info) else value
        except ValueError as exc:
            raise UsageError(f"{option} must be {exc}, got {value!r}.") from None
        sources[key] = f"command line {option}" if option.startswith("-") else "command line"
        label[key] = option

    try:
        cfg = Config.model_validate(_nest(given))
    except ValidationError as exc:
        raise _bad_value(exc, given, label) from None
    cfg._sources, cfg._file = sources, path
    return cfg


def _is_path(info: SettingInfo) -> bool:
    return "a path" in info.describe()


def _is_plain_str(info: SettingInfo) -> bool:
    _, rest = type_parts(info.field.annotation)
    return bool(rest) and (rest[0] is str or typing.get_origin(rest[0]) is Literal or rest[0] is Duration)


def _bad_value(exc: ValidationError, given: Mapping[str, Any], label: Mapping[str, str]) -> UsageError:
    """The first error as one sentence naming the key (and the file, variable or option it came from)."""
    infos = _infos()
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    key = next((".".join(loc[:n]) for n in (2, 1) if ".".join(loc[:n]) in infos), ".".join(loc))
    if key not in infos:
        return UsageError(f"Bad setting {key}: {err['msg']}.")
    value = given.get(key)
    where = label.get(key, key)
    if err["type"] == "sentence":  # a validator's own sentence (e.g. "Unknown arm 'lora': ...")
        return UsageError(f"{where}: {err['msg']}")
    if where.startswith("-"):  # a command-line option
        return UsageError(f"{where} must be {infos[key].describe().replace(' (or null)', '')}, got {value!r}.")
    return UsageError(f"{where} must be {infos[key].describe()}, got {value!r}.")


# --- the command models, from the effective settings -----------------------------------------------


def _values(cfg: Config, model: type[BaseModel], section: str) -> dict[str, Any]:
    """The settings of `model` that were set (top-level shared keys, then its section): unset keys
    keep the command's own default."""
    out: dict[str, Any] = {}
    for name in model.model_fields:
        for key in (name, f"{section}.{name}"):
            if key in cfg.sources and cfg.sources[key] != "default":
                out[name] = cfg.get(key)
    return out


def command_settings(cfg: Config, model: type[M], section: str, **given: Any) -> M:
    """A command's settings model from the effective settings (plus values the file cannot hold)."""
    return model.model_validate({**_values(cfg, model, section), **{k: v for k, v in given.items() if v is not None}})


def analyze_settings(cfg: Config) -> AnalyzeSettings:
    return AnalyzeSettings.model_validate(_values(cfg, AnalyzeSettings, "analyze"))


def pilot_settings(cfg: Config) -> PilotSettings:
    values = _values(cfg, PilotSettings, "pilot")
    if cfg.dataset is not None:
        values["dataset"] = cfg.dataset
    if cfg.pilot.steps is not None and cfg.sources.get("pilot.budget") == "default":
        values["budget"] = None  # steps alone: no default budget on top
    return PilotSettings.model_validate(values)


def analyze_kwargs(cfg: Config) -> dict[str, Any]:
    """Keyword arguments of analyze() from the settings (only what was set)."""
    return _values(cfg, AnalyzeSettings, "analyze")


def pilot_kwargs(cfg: Config) -> dict[str, Any]:
    """Keyword arguments of vptadvisor.pilot.run_pilot() from the settings (dataset excluded)."""
    return pilot_settings(cfg).kwargs()
