"""Effective settings: command line > environment > config file > defaults, each with its source.

The config file is `--config PATH`, else `$VPTADVISOR_CONFIG`, else `vptadvisor.yaml` (or `.yml`) in
the working directory, else the `[tool.vptadvisor]` table of `pyproject.toml` there. Relative paths
in a file are relative to the file's folder; on the command line and in the environment, to the
working directory. Unknown keys and values of the wrong type are usage errors (exit 2) that name
the key.
"""

from __future__ import annotations

import difflib
import inspect
import os
import types
import typing
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from vptadvisor.config.schema import (
    SECTIONS, BadValue, Config, Kind, SettingInfo, fixed_settings,
)
from vptadvisor.errors import UsageError

CONFIG_ENV = "VPTADVISOR_CONFIG"
FILE_NAMES = ("vptadvisor.yaml", "vptadvisor.yml")
_NOT_FROM_CONFIG = {"dataset", "progress"}  # analyze() parameters a config cannot set this way


def _kind_from_hint(hint: Any, default: Any) -> Kind | None:
    """A Kind for a type hint of analyze(); None when a file cannot express it (callables...)."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    optional = type(None) in args or default is None
    rest = [a for a in args if a is not type(None)]
    if any(a in (os.PathLike, Path) or (inspect.isclass(a) and issubclass(a, os.PathLike)) for a in rest):
        return Kind("path", optional=optional)
    if rest == [bool]:
        return Kind("bool", optional=optional)
    if rest == [int]:
        return Kind("int", optional=optional)
    if set(rest) <= {int, float} and rest:
        return Kind("float", optional=optional)
    if rest == [str]:
        return Kind("str", optional=optional)
    return None


@lru_cache(maxsize=1)
def analyze_section_settings() -> tuple[SettingInfo, ...]:
    """`analyze.<name>` for every keyword argument of analyze() without a top-level key, typed from
    its annotation: new arguments of analyze() become settable without a change here."""
    from vptadvisor.analyze import analyze

    hints = typing.get_type_hints(analyze)
    top = {f.name for f in fields(Config)}
    out = []
    for name, p in inspect.signature(analyze).parameters.items():
        if name in _NOT_FROM_CONFIG or name in top or p.default is inspect.Parameter.empty:
            continue
        kind = _kind_from_hint(hints.get(name), p.default)
        if kind is not None:
            out.append(SettingInfo(f"analyze.{name}", kind, p.default, f"analyze(..., {name}=...)", None))
    return tuple(out)


def all_settings() -> list[SettingInfo]:
    return fixed_settings() + list(analyze_section_settings())


# --- the config file ---------------------------------------------------------------------------

def find_config_file(explicit: str | os.PathLike | None = None, cwd: str | os.PathLike | None = None,
                     env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    chosen = explicit if explicit is not None else (env.get(CONFIG_ENV) or None)
    if chosen is not None:
        path = Path(chosen).expanduser()
        if not path.is_file():
            how = "--config" if explicit is not None else f"${CONFIG_ENV}"
            raise UsageError(f"Config file {path} ({how}) does not exist: check the path.")
        return path
    here = Path(cwd) if cwd is not None else Path.cwd()
    for name in FILE_NAMES:
        if (here / name).is_file():
            return here / name
    pyproject = here / "pyproject.toml"
    if pyproject.is_file() and _read_toml(pyproject).get("tool", {}).get("vptadvisor") is not None:
        return pyproject
    return None


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise UsageError(f"Reading {path.name} needs Python 3.11 or the tomli package: pip install tomli, "
                             "or use vptadvisor.yaml.") from None
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"Cannot read {path} ({exc}): fix the TOML.") from None


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw settings mapping of a config file (`[tool.vptadvisor]` for TOML)."""
    if path.suffix == ".toml":
        doc = _read_toml(path)
        table = doc.get("tool", {}).get("vptadvisor")
        if table is None:
            raise UsageError(f"{path} has no [tool.vptadvisor] table: add one, or pass a vptadvisor.yaml.")
        return table
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read config file {path} ({exc}).") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise UsageError(f"{path} is not valid YAML{at}: fix the file.") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UsageError(f"{path} must hold a mapping of settings (key: value), not {type(doc).__name__}.")
    return doc


def _unknown(label: str, key: str, known: list[str]) -> UsageError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return UsageError(f"{label}: unknown key '{key}'{hint}; the keys are listed in docs/ci.md and by "
                      "`vptadvisor config show`.")


def flatten_file(raw: dict[str, Any], label: str, infos: dict[str, SettingInfo]) -> dict[str, Any]:
    """Nested file mapping -> {dotted key: raw value}; unknown keys and non-mapping sections are errors."""
    out: dict[str, Any] = {}
    known = sorted(infos)
    for key, value in raw.items():
        key = str(key)
        if key in SECTIONS or key == "analyze":
            if value is None:
                continue
            if not isinstance(value, dict):
                raise UsageError(f"{label}: '{key}' must be a mapping of settings, got {type(value).__name__}.")
            for sub, subvalue in value.items():
                dotted = f"{key}.{sub}"
                if dotted not in infos:
                    raise _unknown(label, dotted, known)
                out[dotted] = subvalue
        elif key in infos:
            out[key] = value
        else:
            raise _unknown(label, key, known)
    return out


# --- resolution --------------------------------------------------------------------------------

def load_config(cli: Mapping[str, Any] | None = None, config: str | os.PathLike | None = None,
                cwd: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Resolve every setting. `cli` maps dotted keys to command-line values (None: not given)."""
    env = os.environ if env is None else env
    infos = {s.key: s for s in all_settings()}
    values: dict[str, Any] = {k: s.default for k, s in infos.items()}
    sources: dict[str, str] = dict.fromkeys(infos, "default")

    path = find_config_file(config, cwd, env)
    if path is not None:
        label = str(path)
        for key, raw in flatten_file(read_config_file(path), label, infos).items():
            info = infos[key]
            try:
                value = info.kind.check(raw)
            except BadValue as exc:
                raise UsageError(f"{label}: {key} must be {exc}, got {raw!r}.") from None
            if isinstance(value, Path) and not value.is_absolute():
                value = path.parent / value
            values[key], sources[key] = value, f"file {path.name}"

    for key, info in infos.items():
        text = env.get(info.env)
        if text is None or text == "":
            continue
        try:
            values[key] = info.kind.parse(text)
        except BadValue as exc:
            raise UsageError(f"Environment variable {info.env}: {key} must be {exc}, got {text!r}.") from None
        sources[key] = f"environment {info.env}"

    for key, value in (cli or {}).items():
        if value is None:
            continue
        if key not in infos:
            raise UsageError(f"unknown setting {key!r} given on the command line.")
        info = infos[key]
        option = info.cli or key
        try:
            values[key] = info.kind.check(value.value if hasattr(value, "value") else value)
        except BadValue as exc:
            shown = value.value if hasattr(value, "value") else value
            raise UsageError(f"{option} must be {str(exc).replace(' (or null)', '')}, got {shown!r}.") from None
        sources[key] = f"command line {option}" if option.startswith("-") else "command line"

    cfg = Config(sources=sources, file=path)
    for key, value in values.items():
        section, _, name = key.rpartition(".")
        if section == "analyze":
            if sources[key] != "default":
                cfg.analyze[name] = value
        else:
            setattr(getattr(cfg, section) if section else cfg, name, value)
    return cfg


def analyze_kwargs(cfg: Config) -> dict[str, Any]:
    """Keyword arguments of analyze() from the settings: every top-level key that is a parameter of
    analyze(), plus the `analyze` section (only what was set, so analyze()'s own defaults hold)."""
    from vptadvisor.analyze import analyze

    params = inspect.signature(analyze).parameters
    out = {f.name: getattr(cfg, f.name) for f in fields(Config)
           if f.name in params and f.name not in _NOT_FROM_CONFIG and "kind" in f.metadata}
    out.update(cfg.analyze)
    return out


def pilot_kwargs(cfg: Config) -> dict[str, Any]:
    """Keyword arguments of vptadvisor.pilot.run_pilot() from the settings (dataset excluded)."""
    p = cfg.pilot
    out: dict[str, Any] = {
        "budget": p.budget if p.steps is None or cfg.sources.get("pilot.budget") != "default" else None,
        "steps": p.steps, "arms": list(p.arms), "weights": cfg.weights,
        "backbone_kwargs": dict(p.backbone_kwargs) or None, "img_size": p.img_size, "batch_size": p.batch_size,
        "val_fraction": p.val_fraction, "seed": cfg.seed, "prompt_length": p.prompt_length, "layout": cfg.layout,
        "evals": p.evals, "device": cfg.device, "threads": p.threads, "run_dir": p.out,
    }
    if cfg.backbone is not None:
        out["backbone"] = cfg.backbone
    return out
