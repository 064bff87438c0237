"""The settings models, one per command (see models.py), and how a setting is declared (fields.py)."""

from vptadvisor.settings.fields import DURATION_PATTERN, ENV_PREFIX, setting
from vptadvisor.settings.models import (
    SECTIONS,
    AnalyzeSettings,
    CheckPilotSettings,
    CheckSettings,
    GateSettings,
    PilotSettings,
    ReferenceSettings,
    ReportSettings,
    Settings,
)

__all__ = [
    "DURATION_PATTERN",
    "ENV_PREFIX",
    "SECTIONS",
    "AnalyzeSettings",
    "CheckPilotSettings",
    "CheckSettings",
    "GateSettings",
    "PilotSettings",
    "ReferenceSettings",
    "ReportSettings",
    "Settings",
    "setting",
]
