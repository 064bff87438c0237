"""Command-line options: the output options every command shares, and `settings_options`, which
derives a command's setting options from its settings model (vptadvisor/settings/models.py), so a
setting is declared once.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Optional, TypeVar

import typer
from pydantic import BaseModel

from vptadvisor.config.load import SettingInfo, all_settings, type_parts
from vptadvisor.errors import UsageError
from vptadvisor.settings.fields import Duration


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


Format = typer.Option(OutputFormat.table, "--format", "-f", help="table (human) or json (machine).")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bars; one summary line instead of the table.")
Output = typer.Option(None, "--output", "-o", metavar="FILE", help="Also write the JSON result to FILE (atomically).")
ConfigPath = typer.Option(
    None,
    "--config",
    metavar="PATH",
    help="Config file (default: ./vptadvisor.yaml, else [tool.vptadvisor] in ./pyproject.toml, or $VPTADVISOR_CONFIG).",
)
CacheDir = typer.Option(
    None,
    "--cache-dir",
    envvar="VPTADVISOR_CACHE_DIR",
    metavar="DIR",
    help="Feature cache directory (default ~/.cache/vptadvisor).",
)

F = TypeVar("F", bound=Callable[..., Any])

BACKBONE_LISTING = ("list", "help", "?")


def check_backbone_name(value: Any) -> None:
    """`--backbone list` asks for the list: point to `vptadvisor backbones` (exit 2)."""
    if isinstance(value, str) and value.strip().lower() in BACKBONE_LISTING:
        raise UsageError(
            f"--backbone {value.strip()} is not a model name: `vptadvisor backbones` lists the backbones the rule "
            "knows and whether their weights are on this machine; pass one of their timm names."
        )


def cache_root(cache_dir: Optional[Path]) -> Optional[Path]:
    return Path(cache_dir).expanduser() if cache_dir else None


def _default_text(info: SettingInfo) -> str:
    value = info.default
    if value is None or value == {} or isinstance(value, bool):
        return ""
    if isinstance(value, list):
        value = ",".join(map(str, value))
    return f" (default: {value})"


def _option(info: SettingInfo, name: str) -> tuple[Any, Any]:
    """(annotation, typer.Option) for a setting; None as the option's default means 'not given here'."""
    cli = info.cli or "--" + name.replace("_", "-")
    _, rest = type_parts(info.field.annotation)
    ann = rest[0] if rest else str
    metavar = None
    if ann is bool:
        kind: Any = bool
    elif ann in (int, float):
        kind = ann
    elif typing.get_origin(ann) is Literal:
        kind, metavar = str, "|".join(map(str, typing.get_args(ann)))
    elif typing.get_origin(ann) is typing.Annotated and ann is not Duration and typing.get_args(ann)[0] is Path:
        kind, metavar = Path, "PATH"
    else:  # strings, durations, lists (comma-separated), mappings (JSON)
        kind = str
    help_ = info.help + _default_text(info)
    option = typer.Option(None, *cli.split(" "), help=help_, metavar=metavar, show_default=False)
    return Optional[kind], option


def settings_options(
    model: type[BaseModel] | None = None, section: str = "", *, keys: typing.Sequence[str] = ()
) -> Callable[[F], F]:
    """Give a command one option per setting: the fields of `model` that have an option (a shared field
    is the config's top-level key, the others `<section>.<name>`), plus the dotted config `keys`.
    The command receives them as `settings`, {dotted key: value or None (not given)}; a field the
    config file cannot hold (such as --resume) comes under its own name."""
    infos = {s.key: s for s in all_settings()}
    chosen: dict[str, SettingInfo] = {}
    if model is not None:
        for name, field in model.model_fields.items():
            info = SettingInfo(name, field)
            if not info.cli:
                continue
            key = name if name in infos else f"{section}.{name}"
            if key not in infos:  # a setting the config file cannot hold (--resume): under its own name
                key = name
            chosen[key] = SettingInfo(key, field)  # the command's own help and type; the key routes it
    for key in keys:
        chosen[key] = infos[key]

    def decorate(fn: F) -> F:
        hints = typing.get_type_hints(fn)
        params = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(fn).parameters.values()
            if p.name != "settings"
        ]
        names = {key: key.replace(".", "__") for key in chosen}
        for key, info in chosen.items():
            ann, option = _option(info, key.rpartition(".")[2])
            params.append(inspect.Parameter(names[key], inspect.Parameter.KEYWORD_ONLY, default=option, annotation=ann))

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            settings = {key: kwargs.pop(name) for key, name in names.items()}
            for key, value in settings.items():
                if key.rpartition(".")[2] == "backbone":
                    check_backbone_name(value)
            return fn(settings=settings, **kwargs)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # typer reads the signature above, not the function's
        return typing.cast(F, command)

    return decorate
