"""Predictions of the shipped rule: the API contract the analyze command relies on, and its logic."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from vptadvisor.errors import UsageError
from vptadvisor.rule import Rule, RulePrediction, load_rule

CONTRACT_KEYS = {"choice", "p_vpt", "margin", "margin_interval", "nearest_tasks", "rule_version"}


@pytest.fixture(scope="module")
def rule() -> Rule:
    return load_rule()


def test_to_dict_has_the_verdict_contract_and_is_json(rule):
    pred = rule.predict(fid=152.23, p_high_disparity=0.05, n_train=960)
    assert isinstance(pred, RulePrediction)
    d = pred.to_dict()
    assert CONTRACT_KEYS <= set(d)
    assert d["choice"] in ("vpt", "ft", "uncertain")
    assert 0 <= d["p_vpt"] <= 1 and len(d["margin_interval"]) == 2
    assert d["rule_version"] == rule.rule_version
    json.loads(json.dumps(d))
    for t in d["nearest_tasks"]:
        assert {"task", "n_train", "fid", "disparity", "margin", "winner", "distance"} <= set(t)


def test_more_data_favours_ft_and_high_disparity_favours_vpt(rule):
    ps = [rule.predict(fid=152.0, p_high_disparity=0.05, n_train=n).p_vpt for n in (400, 960, 5000, 10000, 50000)]
    assert all(a > b for a, b in zip(ps, ps[1:]))
    lo = rule.predict(fid=200.0, p_high_disparity=0.0, n_train=800).p_vpt
    hi = rule.predict(fid=200.0, p_high_disparity=1.0, n_train=800).p_vpt
    mid = rule.predict(fid=200.0, p_high_disparity=0.5, n_train=800)
    assert hi > lo
    assert mid.p_vpt == pytest.approx((lo + hi) / 2, abs=1e-12)  # mixture over the binary disparity


def test_pure_disparity_gives_the_gaussian_predictive(rule):
    pred = rule.predict(fid=180.0, p_high_disparity=0.0, n_train=2000)
    mean, sd = rule.components(180.0, 2000)
    assert pred.margin == pytest.approx(mean[0]) and pred.margin_sd == pytest.approx(sd[0])
    assert pred.p_vpt == pytest.approx(stats.norm.cdf(mean[0] / sd[0]))
    z = stats.norm.ppf(0.9)
    assert pred.margin_interval == pytest.approx((mean[0] - z * sd[0], mean[0] + z * sd[0]), abs=1e-6)


def test_contributions_add_up_to_the_margin(rule):
    for args in [(152.0, 0.05, 960), (230.0, 0.95, 20000), (200.0, 0.4, 800)]:
        pred = rule.predict(fid=args[0], p_high_disparity=args[1], n_train=args[2])
        assert set(pred.contributions) == {"objective", "fid", "n_train"}
        assert sum(pred.contributions.values()) + pred.reference_margin == pytest.approx(pred.margin, abs=1e-9)
    pred = rule.predict(fid=152.0, p_high_disparity=0.0, n_train=20000)
    assert pred.contributions["n_train"] < 0 < pred.contributions["fid"]


def test_verdict_bands(rule):
    band = rule.decision
    for n in (400, 960, 3000, 10000, 40000):
        pred = rule.predict(fid=160.0, p_high_disparity=0.0, n_train=n)
        expect = ("vpt" if pred.p_vpt >= band["vpt_if_p_at_least"] else
                  "ft" if pred.p_vpt <= band["ft_if_p_at_most"] else "uncertain")
        assert pred.choice == expect
        if expect == "uncertain":
            assert "pilot" in pred.advice and "cheaper to store" in pred.advice
    assert rule.predict(fid=245.0, p_high_disparity=0.0, n_train=100000).choice == "ft"
    assert rule.predict(fid=150.0, p_high_disparity=1.0, n_train=400).choice == "vpt"


def test_backbone_coverage(rule):
    covered = rule.predict(fid=152.0, p_high_disparity=0.05, n_train=960, backbone="vit_base_patch16_224.augreg_in21k")
    assert covered.backbone_covered and covered.choice == covered.rule_choice
    assert any("AugReg" in n for n in covered.notes)
    other = rule.predict(fid=152.0, p_high_disparity=0.05, n_train=960, backbone="vit_small_patch14_dinov2")
    assert not other.backbone_covered and other.choice == "uncertain"
    assert other.rule_choice == covered.rule_choice and other.p_vpt == covered.p_vpt
    assert any("not covered" in n and "MAE" in n for n in other.notes)
    none = rule.predict(fid=152.0, p_high_disparity=0.05, n_train=960)
    assert none.backbone_covered and any("No backbone given" in n for n in none.notes)


def test_notes_for_inputs_outside_the_study(rule):
    pred = rule.predict(fid=320.0, p_high_disparity=0.5, n_train=100, n_fid_images=1200, n_ref_images=1000)
    text = " ".join(pred.notes)
    assert "outside the study's range" in text and "extrapolated" in text
    assert "disparity is uncertain" in text and "fewer than 2048" in text
    # a caller that put the FID on the study's scale says so, and the small-sample warning gives way
    corrected = rule.predict(fid=320.0, p_high_disparity=0.5, n_train=100, n_fid_images=1200, n_ref_images=1000,
                             fid_note="FID put on the 1000-image scale: 320.0 ± 2.0.")
    text = " ".join(corrected.notes)
    assert "fewer than 2048" not in text and "1000-image scale" in text
    assert corrected.notes[-1] == "FID put on the 1000-image scale: 320.0 ± 2.0."
    quiet = rule.predict(fid=180.0, p_high_disparity=0.0, n_train=1000, backbone="vit-b16-in21k",
                         n_fid_images=50000, n_ref_images=50000)
    assert quiet.notes == []


def test_fid_uncertainty_widens_the_margin(rule):
    a = rule.predict(fid=152.0, p_high_disparity=0.0, n_train=960)
    b = rule.predict(fid=152.0, p_high_disparity=0.0, n_train=960, fid_sd=30.0)
    assert b.margin == pytest.approx(a.margin) and b.margin_sd > a.margin_sd
    slope = rule.doc["coefficients"]["fid"]["mean"] / 50.0
    assert b.margin_sd == pytest.approx(math.sqrt(a.margin_sd**2 + (slope * 30.0) ** 2))


def test_nearest_tasks_are_distinct_and_sorted(rule):
    pred = rule.predict(fid=146.0, p_high_disparity=0.0, n_train=5400)
    tasks = [t["task"] for t in pred.nearest_tasks]
    assert len(tasks) == len(set(tasks)) == 3 and tasks[0] == "CUB-200-2011"
    assert np.all(np.diff([t["distance"] for t in pred.nearest_tasks]) >= 0)


@pytest.mark.parametrize("kwargs", [dict(fid=-1.0), dict(fid=float("nan")), dict(p_high_disparity=1.5),
                                    dict(n_train=0), dict(fid_sd=-1.0)])
def test_bad_inputs_are_usage_errors(rule, kwargs):
    args = dict(fid=150.0, p_high_disparity=0.0, n_train=800)
    args.update(kwargs)
    with pytest.raises(UsageError):
        rule.predict(**args)


def test_load_rule_errors(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_rule(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(UsageError, match="Cannot read the rule file"):
        load_rule(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(UsageError, match="format"):
        load_rule(tmp_path / "old.json")


def test_objective_prior_mapping():
    from vptadvisor.rule import objective_prior

    assert objective_prior(None).to_dict() == {"p_high_disparity": 0.05, "source": "default: classification (not declared)"}
    assert objective_prior("Counting").p_high_disparity == 0.95
    assert objective_prior("other").p_high_disparity == 0.5
    with pytest.raises(UsageError):
        objective_prior("segmentation")
