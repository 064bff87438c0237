"""vptadvisor: decide between Visual Prompt Tuning and full fine-tuning, with evidence.

    from vptadvisor import analyze, pilot, prior_from_verdict

    result = analyze("./my_dataset", objective="classification")   # -> AnalyzeResult
    result.verdict.choice, result.verdict.p_vpt, result.to_dict()   # same fields as --format json
    run = pilot("./my_dataset", budget="30m")                       # -> PilotResult (trains; needs torch)

`analyze`, `pilot` and `prior_from_verdict` are plain functions (vptadvisor/api.py); the work they
do is imported on first call, so `import vptadvisor` stays light (the pilot imports torch).
"""

from __future__ import annotations

from vptadvisor.api import analyze, pilot, prior_from_verdict
from vptadvisor.version import __version__

__all__ = ["__version__", "analyze", "pilot", "prior_from_verdict"]
