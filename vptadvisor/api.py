"""The Python API: plain functions, each validating its settings with the command's model.

    from vptadvisor import analyze, pilot, prior_from_verdict
    result = analyze("./my_dataset", objective="classification")    # -> AnalyzeResult
    run = pilot("./my_dataset", budget="30m", prior=prior_from_verdict(result.verdict))  # -> PilotResult

Keyword arguments are the fields of vptadvisor.settings.AnalyzeSettings / PilotSettings (their
defaults, bounds and choices); a wrong one raises vptadvisor.errors.UsageError naming it.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vptadvisor.errors import UsageError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from vptadvisor.pilot.stats import Prior
    from vptadvisor.results import AnalyzeResult
    from vptadvisor.results.pilot import PilotResult


def _validated(model: type[BaseModel], settings: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from vptadvisor.config import describe

    try:
        return model.model_validate(settings)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "?"
        if key not in model.model_fields:
            raise UsageError(f"unknown argument {key!r}: the arguments are {', '.join(model.model_fields)}.") from None
        if err["type"] == "sentence":  # a validator's own sentence
            raise UsageError(f"{key}: {err['msg']}") from None
        raise UsageError(f"{key} must be {describe(model.model_fields[key])}, got {settings.get(key)!r}.") from None


def _implementation(module: str, name: str) -> Callable[..., Any]:
    """The function behind the API. Importing the module `vptadvisor.analyze` (or the package
    `vptadvisor.pilot`) binds that name on the package the first time; the package's name stays this
    API's function."""
    function = getattr(importlib.import_module(module), name)
    package = sys.modules["vptadvisor"]
    for api_name in ("analyze", "pilot"):
        setattr(package, api_name, globals()[api_name])
    return function  # type: ignore[no-any-return]


def analyze(
    dataset: str | os.PathLike[str], *, progress: Callable[[int, int], None] | None = None, **settings: Any
) -> AnalyzeResult:
    """Measure how far `dataset` is from the pretraining data (FID and KID against the reference) and
    decide VPT vs FT from it, the task objective and the training-set size. `settings`: the fields
    of vptadvisor.settings.AnalyzeSettings (objective, train_size, backbone, reference, device, ...)."""
    from vptadvisor.settings import AnalyzeSettings

    valid = _validated(AnalyzeSettings, settings)
    run = _implementation("vptadvisor.analyze", "analyze")
    return run(dataset, progress=progress, **valid.kwargs())  # type: ignore[no-any-return]


def pilot(
    dataset: str | os.PathLike[str] | None = None,
    *,
    prior: Prior | None = None,
    progress: Callable[[str], None] | None = None,
    started: float | None = None,
    **settings: Any,
) -> PilotResult:
    """Train VPT and full fine-tuning on `dataset` within a budget (e.g. budget="30m") or `steps` per
    arm and compare them (docs/pilot.md). `settings`: the fields of vptadvisor.settings.PilotSettings;
    `prior`: the rule's prediction (prior_from_verdict(result.verdict))."""
    from vptadvisor.settings import PilotSettings

    valid = _validated(PilotSettings, {**settings, "dataset": dataset} if dataset is not None else settings)
    run = _implementation("vptadvisor.pilot.runner", "run_pilot")
    result: PilotResult = run(valid.dataset, prior=prior, progress=progress, started=started, **valid.kwargs())
    return result


def prior_from_verdict(verdict: Any, source: str = "rule") -> Prior:
    """The pilot's prior from a rule prediction (an AnalyzeResult's `verdict`, or its JSON mapping)."""
    function = _implementation("vptadvisor.pilot.stats", "prior_from_verdict")
    return function(verdict, source)  # type: ignore[no-any-return]
