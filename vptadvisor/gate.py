"""The CI gate: does the verdict still match the decision the repository relies on?

    outcome = evaluate_gate(result, expect="vpt", min_confidence=0.7)
    outcome.passed, outcome.reason

Semantics (docs/ci.md): the gate passes when the verdict is the expected method and the probability
that the expected method is better (P(VPT better) for vpt, 1 - P for ft) is at least
`min_confidence`. A "too close to call" verdict fails unless `allow_uncertain`. When a pilot ran,
its combined verdict (rule prior updated with the measured margin) decides instead of the rule.
`run_check` is what `vptadvisor check` does: analyze, maybe a pilot, the gate, the report.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from vptadvisor.errors import GateFailed, UsageError
from vptadvisor.jsonfile import read_json
from vptadvisor.results import CHOICE_NAME, AnalyzeResult, ObjectiveResult, VerdictResult

DEFAULT_MIN_CONFIDENCE = 0.7


@dataclass
class GateOutcome:
    passed: bool
    expect: str  # vpt | ft
    got: str  # vpt | ft | uncertain
    p_vpt: float  # P(VPT better) of the deciding verdict
    confidence: float  # P(the expected method is better)
    min_confidence: float
    allow_uncertain: bool
    source: str  # "rule" or "pilot": which verdict decided
    moved: str | None  # the input that moved the verdict most against the expectation
    reason: str  # one line

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pilot_dict(pilot: Any) -> dict | None:
    """A pilot as its result.json dict (a PilotResult, or already a dict; None stays None)."""
    if pilot is None:
        return None
    return pilot if isinstance(pilot, dict) else pilot.to_dict()


def _describe_input(key: str, v: VerdictResult, obj: ObjectiveResult | None) -> str:
    inputs = v.inputs or {}
    if key == "fid":
        return f"FID {inputs.get('fid', float('nan')):.1f}"
    if key == "n_train":
        return f"{int(inputs.get('n_train', 0)):,} training images"
    if key == "objective":
        p = inputs.get("p_high_disparity", obj.p_high_disparity if obj else float("nan"))
        source = f", {obj.source}" if obj is not None and obj.source else ""
        return f"objective disparity P(high) {p:.2f}{source}"
    return key


def moved_input(v: VerdictResult, obj: ObjectiveResult | None, expect: str) -> str | None:
    """The input whose contribution (Shapley value, points of VPT - FT margin relative to a typical
    task) pushes hardest against `expect`; the backbone when the rule does not cover it."""
    if v.backbone_covered is False:
        rule = CHOICE_NAME.get(v.rule_choice or "", v.rule_choice)
        return (f"backbone {(v.inputs or {}).get('backbone')} is not covered by the rule "
                f"(for its own backbone it says {rule})")
    contributions = v.contributions or {}
    if not contributions:
        return None
    sign = 1.0 if expect == "vpt" else -1.0
    key = min(contributions, key=lambda k: (sign * contributions[k], k))
    value = contributions[key]
    what = _describe_input(key, v, obj)
    if sign * value < 0:
        return f"{what} ({value:+.1f} points of margin vs a typical task)"
    return f"no input pushes against {CHOICE_NAME[expect]}; the weakest support is {what} ({value:+.1f} points)"


def evaluate_gate(result: AnalyzeResult, expect: str, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                  allow_uncertain: bool = False, pilot: Any = None) -> GateOutcome:
    """Gate an analyze result (and, if given, a pilot that ran on the same data: PilotResult or its
    result.json dict, whose verdict then decides)."""
    if expect not in ("vpt", "ft"):
        raise UsageError(f"--expect must be vpt or ft, got {expect!r}.")
    if not 0.0 <= float(min_confidence) <= 1.0:
        raise UsageError(f"--min-confidence must be a probability between 0 and 1, got {min_confidence!r}.")
    v = result.verdict
    if v is None or v.choice is None or v.p_vpt is None:
        raise UsageError("The analysis has no verdict to gate on: use an analyze result with a verdict.")
    pd = pilot_dict(pilot)
    pv = (pd or {}).get("verdict")
    if pv:
        got, p_vpt, source = pv["choice"], float(pv["p_vpt"]), "pilot"
        d = pd.get("difference") or {}
        lo, hi = (d.get("interval") or [float("nan"), float("nan")])[:2]
        moved = (f"the pilot measured {d.get('vpt_arm', 'vpt')} - ft = {100 * d.get('margin', float('nan')):+.1f} "
                 f"points [{100 * lo:+.1f}, {100 * hi:+.1f}] on {d.get('n_val', '?')} val images")
    else:
        got, p_vpt, source = v.choice, float(v.p_vpt), "rule"
        moved = moved_input(v, result.objective, expect)
    confidence = p_vpt if expect == "vpt" else 1.0 - p_vpt
    want = f"expected {CHOICE_NAME[expect]} with P >= {min_confidence:.2f}"
    by = " from the pilot" if source == "pilot" else ""
    if got == expect and confidence >= min_confidence:
        passed = True
        reason = f"gate passed: {want}, got {CHOICE_NAME[got]}{by} (P({CHOICE_NAME[expect]} better) {confidence:.2f})"
    elif got == "uncertain" and allow_uncertain:
        passed = True
        reason = (f"gate passed: {want}, got too close to call{by} (P(VPT better) {p_vpt:.2f}), "
                  "allowed by --allow-uncertain")
    else:
        passed = False
        if got == expect:
            head = f"got {CHOICE_NAME[got]}{by} but P({CHOICE_NAME[expect]} better) is only {confidence:.2f}"
        else:
            head = f"got {CHOICE_NAME[got]}{by} (P(VPT better) {p_vpt:.2f})"
        reason = f"gate failed: {want}, {head}"
        if moved:
            reason += f"; moved by: {moved}"
        if got == "uncertain":
            reason += "; pass --allow-uncertain to accept a close call"
    return GateOutcome(passed=passed, expect=expect, got=got, p_vpt=p_vpt, confidence=confidence,
                       min_confidence=float(min_confidence), allow_uncertain=allow_uncertain, source=source,
                       moved=moved, reason=reason)


# --- vptadvisor check ------------------------------------------------------------------------------

@dataclass
class CheckResult:
    """What `vptadvisor check` produced: the analysis, the pilot (if one ran or was given), the gate."""

    analysis: AnalyzeResult
    gate: GateOutcome | None
    pilot: dict | None = None  # the pilot's result.json (PilotResult.to_dict())
    pilot_ran: bool = False
    report: Path | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """analyze's JSON plus `gate`, and `pilot` / `report` when there are some."""
        out = self.analysis.to_dict()
        if self.gate is not None:
            out["gate"] = self.gate.to_dict()
        if self.pilot is not None:
            out["pilot"] = self.pilot
        if self.report is not None:
            out["report"] = str(self.report)
        return out

    def raise_for_gate(self) -> None:
        if self.gate is not None and not self.gate.passed:
            raise GateFailed(self.gate.reason)


def load_pilot_result(path: str | os.PathLike) -> dict:
    """A finished pilot's result.json (give the run directory or the file)."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "result.json"
    doc = read_json(p, what="pilot result", hint="pass a finished pilot run directory or its result.json")
    if not isinstance(doc, dict) or "arms" not in doc:
        raise UsageError(f"{p} is not a pilot result (no 'arms'): pass a finished pilot run's result.json.")
    return doc


def run_check(cfg, *, require_expect: bool = True, progress: Callable[[int, int], None] | None = None,
              pilot_progress: Callable[[str], None] | None = None) -> CheckResult:
    """Analyze `cfg.dataset` with the settings of `cfg` (a vptadvisor.config.Config), run the pilot
    when `cfg.pilot.run` says so, gate on `cfg.gate`, and write `cfg.report.path`."""
    from vptadvisor.analyze import analyze
    from vptadvisor.config import analyze_kwargs, pilot_kwargs
    from vptadvisor.report.render import report_format

    if cfg.report.path is not None:
        report_format(cfg.report.path)  # a bad extension fails before measuring
    if cfg.dataset is None:
        raise UsageError("No dataset: give DATASET on the command line or set `dataset` in vptadvisor.yaml.")
    if require_expect and cfg.gate.expect is None:
        raise UsageError("check needs the expected decision: pass --expect vpt|ft or set gate.expect in vptadvisor.yaml.")
    given = load_pilot_result(cfg.pilot.result) if cfg.pilot.result is not None else None  # fail before measuring
    result = analyze(cfg.dataset, progress=progress, **analyze_kwargs(cfg))
    check = CheckResult(analysis=result, gate=None)
    run = cfg.pilot.run
    if run == "always" or (run == "uncertain" and result.verdict is not None and result.verdict.choice == "uncertain"):
        from vptadvisor.pilot import prior_from_verdict, run_pilot

        ran = run_pilot(cfg.dataset, prior=prior_from_verdict(result.verdict, "analyze"), progress=pilot_progress,
                        **pilot_kwargs(cfg))
        check.pilot, check.pilot_ran = ran.to_dict(), True
    elif given is not None:
        check.pilot = given
        check.notes.append("The pilot result was read from a finished run; it is shown in the report but the "
                           "gate uses the rule's verdict.")
    if cfg.gate.expect is not None:
        check.gate = evaluate_gate(result, cfg.gate.expect, cfg.gate.min_confidence, cfg.gate.allow_uncertain,
                                   pilot=check.pilot if check.pilot_ran else None)
    if cfg.report.path is not None:
        from vptadvisor.report import write_report

        check.report = write_report(cfg.report.path, result, gate=check.gate, pilot=check.pilot,
                                    pilot_ran=check.pilot_ran, images=cfg.report.images, rule=cfg.analyze.get("rule"),
                                    config=cfg, notes=check.notes)
    return check
