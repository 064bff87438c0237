"""The learning-curves figure of a pilot run (curves.png in the run directory).

The picture is the report's (`vptadvisor.report.pilot_curves`), drawn from the result's JSON, so
the run directory and the report show the same figure.
"""

from __future__ import annotations

from pathlib import Path

from vptadvisor.atomic import write_bytes
from vptadvisor.pilot.result import PilotResult


def plot_curves(result: PilotResult, path: str | Path) -> Path:
    """Training loss per step (winning candidate, smoothed; dropped learning rates dashed) and val
    accuracy against the arm's seconds, one colour per arm, chance level dashed."""
    from vptadvisor.report.pilot_curves import pilot_curves_png

    write_bytes(path, pilot_curves_png(result))
    return Path(path)
