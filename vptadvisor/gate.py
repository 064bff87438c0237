"""The CI gate: does the verdict still match the decision the repository relies on?

    outcome = evaluate_gate(result, expect="vpt", min_confidence=0.7)
    outcome.passed, outcome.reason

Semantics (docs/ci.md): the gate passes when the verdict is the expected method and the probability
that the expected method is better (P(VPT better) for vpt, 1 - P for ft) is at least
`min_confidence`. A "too close to call" verdict fails unless `allow_uncertain`. When a pilot ran,
its combined verdict (rule prior updated with the measured margin) decides instead of the rule.
What `vptadvisor check` does around it (analyze, a pilot, the report) is vptadvisor/check.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from vptadvisor.errors import UsageError
from vptadvisor.results import CHOICE_NAME, AnalyzeResult, ObjectiveResult, VerdictResult
from vptadvisor.results.pilot import PilotResult

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
        return (
            f"backbone {(v.inputs or {}).get('backbone')} is not covered by the rule "
            f"(for its own backbone it says {rule})"
        )
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


def evaluate_gate(
    result: AnalyzeResult,
    expect: str,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    allow_uncertain: bool = False,
    pilot: PilotResult | None = None,
) -> GateOutcome:
    """Gate an analyze result (and, if given, a pilot that ran on the same data, whose verdict then
    decides)."""
    if expect not in ("vpt", "ft"):
        raise UsageError(f"--expect must be vpt or ft, got {expect!r}.")
    if not 0.0 <= float(min_confidence) <= 1.0:
        raise UsageError(f"--min-confidence must be a probability between 0 and 1, got {min_confidence!r}.")
    v = result.verdict
    if v is None or v.choice is None or v.p_vpt is None:
        raise UsageError("The analysis has no verdict to gate on: use an analyze result with a verdict.")
    moved: str | None
    pv = pilot.verdict if pilot is not None else None
    if pv is not None and pilot is not None:
        got, p_vpt, source = pv.choice, float(pv.p_vpt), "pilot"
        d = pilot.difference
        nan = float("nan")
        lo, hi = d.interval[:2] if d is not None else (nan, nan)
        moved = (
            f"the pilot measured {d.vpt_arm if d else 'vpt'} - ft = {100 * (d.margin if d else nan):+.1f} "
            f"points [{100 * lo:+.1f}, {100 * hi:+.1f}] on {d.n_val if d else '?'} val images"
        )
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
        reason = (
            f"gate passed: {want}, got too close to call{by} (P(VPT better) {p_vpt:.2f}), allowed by --allow-uncertain"
        )
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
    return GateOutcome(
        passed=passed,
        expect=expect,
        got=got,
        p_vpt=p_vpt,
        confidence=confidence,
        min_confidence=float(min_confidence),
        allow_uncertain=allow_uncertain,
        source=source,
        moved=moved,
        reason=reason,
    )
