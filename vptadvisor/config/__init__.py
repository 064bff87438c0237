"""Settings from `vptadvisor.yaml` or `[tool.vptadvisor]` in pyproject.toml, the environment and the
command line (in that order of increasing precedence). See docs/ci.md for every key.

    from vptadvisor.config import load_config
    cfg = load_config()            # finds ./vptadvisor.yaml or ./pyproject.toml
    cfg.gate.expect, cfg.sources["gate.expect"]
"""

from vptadvisor.config.load import (
    CONFIG_ENV, all_settings, analyze_kwargs, find_config_file, load_config, pilot_kwargs, read_config_file,
)
from vptadvisor.config.schema import Config, GateConfig, Kind, PilotConfig, ReportConfig, SettingInfo

__all__ = [
    "CONFIG_ENV", "Config", "GateConfig", "Kind", "PilotConfig", "ReportConfig", "SettingInfo", "all_settings",
    "analyze_kwargs", "find_config_file", "load_config", "pilot_kwargs", "read_config_file",
]
