"""Gate semantics on real rule predictions (no images): match, mismatch, confidence, uncertain, the
input that moved the verdict, an uncovered backbone, and a pilot that decides."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vptadvisor.check import CheckResult
from vptadvisor.errors import GateFailed, UsageError
from vptadvisor.gate import evaluate_gate, moved_input
from vptadvisor.results import ObjectiveResult, VerdictResult
from vptadvisor.rule import load_rule, objective_prior


def predicted(fid: float, objective: str | None, n_train: int, backbone: str | None = None) -> SimpleNamespace:
    """What gate reads from an AnalyzeResult (`verdict`, `objective`), from the real shipped rule."""
    prior = objective_prior(objective)
    pred = load_rule().predict(fid=fid, p_high_disparity=prior.p_high_disparity, n_train=n_train, backbone=backbone)
    verdict = pred.to_dict()
    verdict["n_train_source"] = "dataset"
    return SimpleNamespace(
        verdict=VerdictResult.from_dict(verdict), objective=ObjectiveResult.from_dict(prior.to_dict())
    )


DTD_LIKE = dict(fid=152.2, objective=None, n_train=960)  # docs/rule.md: vpt


def test_match_passes_and_mismatch_fails_with_one_line_naming_everything():
    r = predicted(**DTD_LIKE)
    assert r.verdict.choice == "vpt" and r.verdict.p_vpt > 0.7
    ok = evaluate_gate(r, "vpt")
    assert ok.passed and ok.got == "vpt" and ok.source == "rule" and ok.confidence == r.verdict.p_vpt
    bad = evaluate_gate(r, "ft")
    assert not bad.passed and bad.confidence == pytest.approx(1 - r.verdict.p_vpt)
    assert "\n" not in bad.reason
    assert "expected FT" in bad.reason and "got VPT" in bad.reason and f"{r.verdict.p_vpt:.2f}" in bad.reason
    # the input pushing hardest towards VPT is the low FID (+2.8 points vs a typical task, docs/rule.md)
    assert bad.moved.startswith("FID 152.2") and "moved by: FID 152.2" in bad.reason


def test_more_data_flips_to_ft_and_names_the_training_set_size():
    r = predicted(fid=240.0, objective=None, n_train=20_000)  # rule 2.0: 200,000 images is beyond the evidence
    assert r.verdict.choice == "ft"
    out = evaluate_gate(r, "vpt")
    assert not out.passed and "got FT" in out.reason and "20,000 training images" in out.moved
    assert evaluate_gate(r, "ft").passed


def test_min_confidence_is_a_threshold_on_the_expected_side():
    r = predicted(**DTD_LIKE)
    p = r.verdict.p_vpt
    assert evaluate_gate(r, "vpt", min_confidence=round(p - 0.01, 2)).passed
    strict = evaluate_gate(r, "vpt", min_confidence=round(p + 0.01, 2))
    assert not strict.passed and "only" in strict.reason and strict.got == "vpt"
    with pytest.raises(UsageError):
        evaluate_gate(r, "vpt", min_confidence=1.2)
    with pytest.raises(UsageError):
        evaluate_gate(r, "maybe")


def test_too_close_to_call_fails_unless_allowed():
    r = predicted(fid=152.2, objective=None, n_train=10_000)  # docs/rule.md: uncertain, P 0.64
    assert r.verdict.choice == "uncertain"
    out = evaluate_gate(r, "vpt")
    assert not out.passed and "too close to call" in out.reason and "--allow-uncertain" in out.reason
    assert "10,000 training images" in out.moved
    assert evaluate_gate(r, "vpt", allow_uncertain=True).passed
    assert evaluate_gate(r, "ft", allow_uncertain=True).passed


def test_an_uncovered_backbone_is_uncertain_and_named():
    r = predicted(**DTD_LIKE, backbone="vit_small_patch14_dinov2")
    assert r.verdict.choice == "uncertain" and r.verdict.rule_choice == "vpt"
    out = evaluate_gate(r, "vpt")
    assert not out.passed and "backbone vit_small_patch14_dinov2 is not covered" in out.reason


def test_moved_input_points_against_the_expectation():
    counting = predicted(fid=200.0, objective="counting", n_train=800)  # only the objective moves it
    v = counting.verdict
    assert v.contributions["objective"] > 1 and abs(v.contributions["fid"]) < 1e-9
    towards_vpt = moved_input(v, counting.objective, "ft")
    assert towards_vpt.startswith("objective disparity P(high) 0.95, declared: counting")
    assert moved_input(v, counting.objective, "vpt").startswith("no input pushes against VPT")


def test_a_pilot_that_ran_decides_the_gate():
    r = predicted(**DTD_LIKE)  # the rule says VPT
    from vptadvisor.results.pilot import Difference, PilotResult, Verdict

    pilot = PilotResult.model_construct(  # only the blocks the gate reads
        verdict=Verdict.model_construct(choice="ft", p_vpt=0.02, confirms_rule=False),
        difference=Difference.model_construct(vpt_arm="vpt-deep", margin=-0.125, interval=[-0.17, -0.08], n_val=240),
    )
    out = evaluate_gate(r, "vpt", pilot=pilot)
    assert not out.passed and out.source == "pilot" and "from the pilot" in out.reason
    assert "vpt-deep - ft = -12.5 points [-17.0, -8.0] on 240 val images" in out.reason
    assert evaluate_gate(r, "ft", pilot=pilot).passed


def test_check_result_raises_gate_failed_with_the_reason():
    r = predicted(**DTD_LIKE)
    check = CheckResult(analysis=None, gate=evaluate_gate(r, "ft"))
    with pytest.raises(GateFailed) as info:
        check.raise_for_gate()
    assert info.value.exit_code == 1 and info.value.message.startswith("gate failed: expected FT")
    CheckResult(analysis=None, gate=evaluate_gate(r, "vpt")).raise_for_gate()  # passes: no exception
