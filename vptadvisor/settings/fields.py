"""How a setting is declared: `setting(default, help, ...)`, a pydantic Field that also carries its
command-line option, and the few value types settings share (paths, durations, choices).

A setting's type, default, bounds and choices live only in its model (vptadvisor/settings/models.py);
the config file, the environment, the command line and the JSON Schema are all derived from it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field

ENV_PREFIX = "VPTADVISOR_"
DURATION_PATTERN = r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$"
_DURATION = re.compile(DURATION_PATTERN)
MAX_SEED = 2**32 - 1  # numpy's and torch's seed range
MAX_BATCH = 4096  # images per network batch: beyond it a batch of 299 px images no longer fits in memory
MAX_WORKERS = 256  # decoding processes: far more than any machine's cores; more only hangs forking


def _path(value: Path) -> Path:
    if not str(value).strip():
        raise ValueError("empty path")
    return value.expanduser()


def _duration(value: str) -> str:
    text = value.strip().lower()
    if not text or not _DURATION.match(text):
        raise ValueError("not a duration")
    return value


# Paths are given as text everywhere (YAML, TOML, the environment): the one lax type of a strict model.
SettingPath = Annotated[Path, Field(strict=False), AfterValidator(_path)]
Duration = Annotated[
    str,
    AfterValidator(_duration),
    Field(json_schema_extra={"x-text": "a duration: write it like 90s, 30m, 2h or 1h30m"}),
]


def setting(
    default: Any, help: str, *, cli: str | None = None, shared: bool = False, file: bool = True, **bounds: Any
) -> Any:
    """A setting: its default, one line of help, its command-line option (None: none), whether it is a
    top-level key of the config file shared by the commands (`shared`), and whether a file or the
    environment may set it (`file`); `bounds` are pydantic's (ge, le, ...)."""
    extra: dict[str, Any] = {"x-shared": shared, "x-file": file}
    if cli is not None:
        extra["x-cli"] = cli
    return Field(default, description=help, json_schema_extra=extra, **bounds)  # pydantic copies list/dict defaults
