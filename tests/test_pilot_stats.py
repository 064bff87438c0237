"""Accuracy intervals, the paired difference (bootstrap + McNemar) and the combined verdict."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from vptadvisor.errors import UsageError
from vptadvisor.pilot.stats import (
    Prior,
    combine,
    load_prior,
    paired_difference,
    prior_from_verdict,
    wilson_interval,
)


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0


def test_paired_difference_mcnemar_and_bootstrap():
    rng = np.random.default_rng(1)
    a = rng.random(300) < 0.8
    b = a.copy()
    flip = rng.choice(300, 40, replace=False)
    b[flip[:30]] = False  # 30 images only a gets right (where a was right)...
    b[flip[30:]] = True
    d = paired_difference(a, b, seed=3)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    assert d["discordant"] == {"a_only": only_a, "b_only": only_b}
    assert d["margin"] == pytest.approx((only_a - only_b) / 300)
    assert d["mcnemar_p"] == pytest.approx(sps.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    lo, hi = d["interval"]
    assert lo < d["margin"] < hi
    # the bootstrap se of a paired mean difference is close to its analytic se
    diff = a.astype(float) - b.astype(float)
    assert d["se"] == pytest.approx(diff.std(ddof=1) / math.sqrt(300), rel=0.05)
    assert paired_difference(a, b, seed=3) == d  # seeded


def test_identical_predictions_have_zero_margin_and_p_one():
    a = np.array([True, False, True])
    d = paired_difference(a, a)
    assert d["margin"] == 0.0 and d["mcnemar_p"] == 1.0 and d["interval"] == [0.0, 0.0]


def test_combine_is_precision_weighted():
    prior = Prior(choice="vpt", p_vpt=0.8, margin=0.06, margin_sd=0.06, source="t", units_read_as="points")
    v = combine(prior, -0.02, 0.02)
    w0, w1 = 1 / 0.06**2, 1 / 0.02**2
    assert v["posterior_margin"] == pytest.approx((0.06 * w0 - 0.02 * w1) / (w0 + w1))
    assert v["posterior_sd"] == pytest.approx((w0 + w1) ** -0.5)
    assert v["p_vpt"] == pytest.approx(sps.norm.cdf(v["posterior_margin"] / v["posterior_sd"]))
    assert v["choice"] == "ft" and v["confirms_rule"] is False and v["source"] == "pilot+rule"
    alone = combine(None, 0.03, 0.01)
    assert alone["confirms_rule"] is None and alone["choice"] == "vpt"
    assert alone["p_vpt"] == pytest.approx(sps.norm.cdf(3.0))


def test_prior_from_rule_verdict_reads_points_by_default():
    p = prior_from_verdict({"choice": "vpt", "p_vpt": 0.8, "margin": 5.0, "margin_sd": 6.0})
    assert p.margin == pytest.approx(0.05) and p.margin_sd == pytest.approx(0.06) and p.units_read_as == "points"
    f = prior_from_verdict(
        {"choice": "ft", "p_vpt": 0.3, "margin": -0.02, "margin_sd": 0.05, "margin_units": "fraction"}
    )
    assert f.margin == -0.02 and f.units_read_as == "fraction"
    # an 80 % interval without sd: sd = width / (2 z_0.9)
    i = prior_from_verdict(
        {"choice": "uncertain", "p_vpt": 0.6, "margin": 2.0, "margin_interval": [-4.0, 8.0], "interval_level": 0.8}
    )
    assert i.margin_sd == pytest.approx(0.12 / (2 * sps.norm.ppf(0.9)))
    assert combine(i, 0.01, 0.02)["confirms_rule"] is None


@pytest.mark.parametrize(
    "verdict",
    [
        {"choice": "maybe", "p_vpt": 0.5, "margin": 1, "margin_sd": 2},
        {"choice": "vpt", "p_vpt": 0.5, "margin": 1},
        {"choice": "vpt", "p_vpt": 0.5, "margin": 0.05, "margin_sd": 0.06},
        {"choice": "vpt", "p_vpt": 0.5, "margin": 5, "margin_sd": 6, "margin_units": "km"},
    ],
)
def test_bad_verdicts_are_usage_errors(verdict):
    with pytest.raises(UsageError):
        prior_from_verdict(verdict, "analysis.json")


def test_load_prior_from_analyze_json(tmp_path):
    path = tmp_path / "analyze.json"
    path.write_text(
        json.dumps(
            {
                "verdict": {
                    "choice": "vpt",
                    "p_vpt": 0.81,
                    "margin": 5.9,
                    "margin_sd": 6.6,
                    "margin_interval": [-2.6, 14.4],
                }
            }
        )
    )
    p = load_prior(path)
    assert p.choice == "vpt" and p.margin == pytest.approx(0.059)
    with pytest.raises(UsageError, match="does not exist"):
        load_prior(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UsageError, match="Cannot read"):
        load_prior(tmp_path / "bad.json")
    (tmp_path / "noverdict.json").write_text("{}")
    with pytest.raises(UsageError, match="verdict"):
        load_prior(tmp_path / "noverdict.json")


def test_prior_from_the_real_rule_prediction():
    from vptadvisor.rule import load_rule

    pred = load_rule().predict(fid=152.2, p_high_disparity=0.05, n_train=960)
    p = prior_from_verdict(pred, "rule")
    assert p.margin == pytest.approx(pred.margin / 100) and p.margin_sd == pytest.approx(pred.margin_sd / 100)
    assert p.choice == pred.choice


def test_combined_verdict_uses_the_rules_thresholds_and_says_when_it_is_too_close():
    from vptadvisor.results import confirmation
    from vptadvisor.rule import load_rule

    rule = load_rule()
    assert (rule.decide(0.7), rule.decide(0.69), rule.decide(0.31), rule.decide(0.3)) == (
        "vpt",
        "uncertain",
        "uncertain",
        "ft",
    )
    prior = Prior(choice="vpt", p_vpt=0.78, margin=0.05, margin_sd=0.065, source="t", units_read_as="points")
    # the dtd-10 pilot: a measured tie pulls a VPT call to a coin flip, which must not "confirm" it
    tie = combine(prior, -0.008, 0.030)
    assert 0.3 < tie["p_vpt"] < 0.7 and tie["choice"] == "uncertain" and tie["confirms_rule"] is False
    assert confirmation(tie["confirms_rule"], tie["choice"], "vpt") == "leaves the rule's VPT too close to call"
    sure = combine(prior, 0.06, 0.02)
    assert (
        sure["choice"] == "vpt"
        and sure["confirms_rule"] is True
        and confirmation(True, "vpt", "vpt") == "confirms the rule's VPT"
    )
    flipped = combine(prior, -0.08, 0.02)
    assert all(v["choice"] == rule.decide(v["p_vpt"]) for v in (tie, sure, flipped))
    assert (
        flipped["choice"] == "ft" and confirmation(flipped["confirms_rule"], "ft", "vpt") == "overturns the rule's VPT"
    )
    assert confirmation(None, "vpt", "uncertain") == "the rule made no call"


def test_prior_remembers_the_backbone_the_rule_was_asked_about():
    from vptadvisor.pilot.outputs import _other_backbone

    v = {
        "choice": "uncertain",
        "p_vpt": 0.6,
        "margin": 2.0,
        "margin_sd": 6.0,
        "inputs": {"backbone": "vit_small_patch14_dinov2"},
    }
    assert prior_from_verdict(v).backbone == "vit_small_patch14_dinov2"
    assert prior_from_verdict({"choice": "vpt", "p_vpt": 0.8, "margin": 5.0, "margin_sd": 6.0}).backbone is None
    # no backbone given to analyze = the rule's own ViT-B/16 IN-21k, which the pilot's default names
    assert not _other_backbone(None, "vit_base_patch16_224.augreg_in21k")
    assert _other_backbone(None, "vit_small_patch14_dinov2")
    assert not _other_backbone("vit_small_patch14_dinov2", "vit_small_patch14_dinov2")
    assert _other_backbone("vit_small_patch14_dinov2", "vit_base_patch16_224.augreg_in21k")
