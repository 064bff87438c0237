"""Finding and reading the config file: `--config PATH`, else `$VPTADVISOR_CONFIG`, else
`vptadvisor.yaml` (or `.yml`) in the working directory, else `[tool.vptadvisor]` in its pyproject.toml.

YAML is read with the safe loader only, and bounded: a file over MAX_BYTES, or whose aliases would
expand to more than MAX_NODES values (a "billion laughs" alias bomb), is a usage error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vptadvisor.errors import UsageError

CONFIG_ENV = "VPTADVISOR_CONFIG"
FILE_NAMES = ("vptadvisor.yaml", "vptadvisor.yml")
MAX_BYTES = 1 << 20  # a config file is a few hundred bytes
MAX_NODES = 10_000  # YAML values after alias expansion


def find_config_file(
    explicit: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Path | None:
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


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"Cannot read config file {path} ({exc}).") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"{path} is larger than {MAX_BYTES // 1024} KiB: a config file holds a few settings.")
    return data


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise UsageError(
                f"Reading {path.name} needs Python 3.11 or the tomli package: pip install tomli, "
                "or use vptadvisor.yaml."
            ) from None
    try:
        doc: dict[str, Any] = tomllib.loads(_read_bytes(path).decode("utf-8"))
        return doc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"Cannot read {path} ({exc}): fix the TOML.") from None


def _expanded_size(root: Any) -> int:
    """How many values the YAML node graph holds once aliases are expanded (counted per distinct node,
    so a bomb is measured without being expanded)."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = MAX_NODES + 1  # a node inside itself: recursive aliases are refused too
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(v) for v in node.value)
        else:
            n = 1
        sizes[id(node)] = n = min(n, MAX_NODES + 1)
        return n

    return size(root)


def _load_yaml(path: Path) -> Any:
    import yaml

    text = _read_bytes(path).decode("utf-8", errors="strict")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise UsageError(
                f"{path}: its YAML aliases expand to more than {MAX_NODES:,} values: write the settings "
                "out without anchors (&) and aliases (*)."
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw settings mapping of a config file (`[tool.vptadvisor]` for TOML)."""
    if path.suffix == ".toml":
        table = _read_toml(path).get("tool", {}).get("vptadvisor")
        if table is None:
            raise UsageError(f"{path} has no [tool.vptadvisor] table: add one, or pass a vptadvisor.yaml.")
        return dict(table)
    import yaml

    try:
        doc = _load_yaml(path)
    except UnicodeDecodeError as exc:
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
