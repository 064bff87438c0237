"""Settings from `vptadvisor.yaml` or `[tool.vptadvisor]` in pyproject.toml, the environment and the
command line (in that order of increasing precedence). See docs/ci.md for every key.

    from vptadvisor.config import load_config
    cfg = load_config()            # finds ./vptadvisor.yaml or ./pyproject.toml
    cfg.gate.expect, cfg.sources["gate.expect"]
"""

from vptadvisor.config.files import CONFIG_ENV, find_config_file, read_config_file
from vptadvisor.config.load import (
    Config,
    SettingInfo,
    all_settings,
    analyze_kwargs,
    analyze_settings,
    describe,
    load_config,
    pilot_kwargs,
    pilot_settings,
)

__all__ = [
    "CONFIG_ENV",
    "Config",
    "SettingInfo",
    "all_settings",
    "analyze_kwargs",
    "analyze_settings",
    "describe",
    "find_config_file",
    "load_config",
    "pilot_kwargs",
    "pilot_settings",
    "read_config_file",
]
