"""`vptadvisor check` (and `analyze` with a gate or a report): analyze, maybe train the pilot, gate,
write the report. The gate's semantics are vptadvisor/gate.py; this module only orchestrates.

    from vptadvisor.config import load_config
    check = run_check(load_config())       # reads ./vptadvisor.yaml
    check.gate.passed, check.to_dict()
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vptadvisor.errors import GateFailed, UsageError
from vptadvisor.jsonfile import read_json

if TYPE_CHECKING:  # imported where used: a usage error must not wait for pydantic models and scipy
    from vptadvisor.config import Config
    from vptadvisor.gate import GateOutcome
    from vptadvisor.results import AnalyzeResult
    from vptadvisor.results.pilot import PilotResult


@dataclass
class CheckResult:
    """What `vptadvisor check` produced: the analysis, the pilot (if one ran or was given), the gate."""

    analysis: AnalyzeResult
    gate: GateOutcome | None
    pilot: PilotResult | None = None
    pilot_ran: bool = False
    report: Path | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """analyze's JSON plus `gate`, and `pilot` / `report` when there are some."""
        out = self.analysis.to_dict()
        if self.gate is not None:
            out["gate"] = self.gate.to_dict()
        if self.pilot is not None:
            out["pilot"] = self.pilot.to_dict()
        if self.report is not None:
            out["report"] = str(self.report)
        return out

    def raise_for_gate(self) -> None:
        if self.gate is not None and not self.gate.passed:
            raise GateFailed(self.gate.reason)


def load_pilot_result(path: str | os.PathLike[str]) -> PilotResult:
    """A finished pilot's result.json (give the run directory or the file)."""
    from pydantic import ValidationError

    from vptadvisor.results.pilot import PilotResult

    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "result.json"
    doc = read_json(p, what="pilot result", hint="pass a finished pilot run directory or its result.json")
    if not isinstance(doc, dict) or "arms" not in doc:
        raise UsageError(f"{p} is not a pilot result (no 'arms'): pass a finished pilot run's result.json.")
    try:
        return PilotResult.from_dict(doc)
    except ValidationError as exc:
        where = ".".join(map(str, exc.errors()[0]["loc"]))
        raise UsageError(
            f"{p} is not a valid pilot result ({where}: {exc.errors()[0]['msg']}): pass a finished "
            "pilot run's result.json."
        ) from None


def run_check(
    cfg: Config,
    *,
    require_expect: bool = True,
    progress: Callable[[int, int], None] | None = None,
    pilot_progress: Callable[[str], None] | None = None,
) -> CheckResult:
    """Analyze `cfg.dataset` with the settings of `cfg`, run the pilot when `cfg.pilot.run` says so,
    gate on `cfg.gate`, and write `cfg.report.path`."""
    from vptadvisor.api import analyze
    from vptadvisor.config import analyze_settings, pilot_settings
    from vptadvisor.report.render import report_format

    if cfg.report.path is not None:
        report_format(cfg.report.path)  # a bad extension fails before measuring
    if cfg.dataset is None:
        raise UsageError("No dataset: give DATASET on the command line or set `dataset` in vptadvisor.yaml.")
    if require_expect and cfg.gate.expect is None:
        raise UsageError(
            "check needs the expected decision: pass --expect vpt|ft or set gate.expect in vptadvisor.yaml."
        )
    given = load_pilot_result(cfg.pilot.result) if cfg.pilot.result is not None else None  # fail before measuring
    result = analyze(cfg.dataset, progress=progress, **analyze_settings(cfg).kwargs())
    check = CheckResult(analysis=result, gate=None)
    run = cfg.pilot.run
    if run == "always" or (run == "uncertain" and result.verdict is not None and result.verdict.choice == "uncertain"):
        from vptadvisor.api import pilot, prior_from_verdict

        chosen = pilot_settings(cfg).model_dump(exclude={"dataset"})
        check.pilot = pilot(
            cfg.dataset, prior=prior_from_verdict(result.verdict, "analyze"), progress=pilot_progress, **chosen
        )
        check.pilot_ran = True
    elif given is not None:
        check.pilot = given
        check.notes.append(
            "The pilot result was read from a finished run; it is shown in the report but the "
            "gate uses the rule's verdict."
        )
    if cfg.gate.expect is not None:
        from vptadvisor.gate import evaluate_gate

        check.gate = evaluate_gate(
            result,
            cfg.gate.expect,
            cfg.gate.min_confidence,
            cfg.gate.allow_uncertain,
            pilot=check.pilot if check.pilot_ran else None,
        )
    if cfg.report.path is not None:
        from vptadvisor.report import write_report

        check.report = write_report(
            cfg.report.path,
            result,
            gate=check.gate,
            pilot=check.pilot,
            pilot_ran=check.pilot_ran,
            images=cfg.report.images,
            rule=cfg.analyze.rule,
            config=cfg,
            notes=check.notes,
        )
    return check
