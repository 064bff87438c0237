"""Predictions of the shipped rule: the API contract analyze relies on, the family-specific
verdict, support-aware guards, and the Shapley split."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from vptadvisor.errors import UsageError
from vptadvisor.rule import Rule, RulePrediction, load_rule

CONTRACT_KEYS = {
    "choice",
    "p_vpt",
    "margin",
    "margin_interval",
    "nearest_tasks",
    "rule_version",
    "notes",
    "family",
    "out_of_support",
}


@pytest.fixture(scope="module")
def rule() -> Rule:
    return load_rule()


def test_to_dict_has_the_verdict_contract_and_is_json(rule):
    pred = rule.predict(fid=152.23, p_high_disparity=0.05, n_train=960)
    assert isinstance(pred, RulePrediction)
    d = pred.to_dict()
    assert set(d) >= CONTRACT_KEYS
    assert d["choice"] in ("vpt", "ft", "uncertain") and d["family"] == "vit-b16-in21k"
    assert 0 <= d["p_vpt"] <= 1 and d["margin_interval"][0] < d["margin"] < d["margin_interval"][1]
    assert d["rule_version"] == rule.rule_version and d["rule_version"].startswith("2.0+")
    json.loads(json.dumps(d))
    for t in d["nearest_tasks"]:
        assert {"task", "n_train", "fid", "disparity", "margin", "winner", "distance"} <= set(t)


def test_more_data_favours_ft_and_the_mixture_is_linear_in_p_high(rule):
    ps = [rule.predict(fid=152.0, p_high_disparity=0.05, n_train=n).p_vpt for n in (400, 960, 5000, 10000, 20000)]
    assert all(a > b for a, b in itertools.pairwise(ps))
    lo = rule.predict(fid=200.0, p_high_disparity=0.0, n_train=800).p_vpt
    hi = rule.predict(fid=200.0, p_high_disparity=1.0, n_train=800).p_vpt
    mid = rule.predict(fid=200.0, p_high_disparity=0.5, n_train=800)
    assert mid.p_vpt == pytest.approx((lo + hi) / 2, abs=1e-12)
    assert float(rule.p_vpt(200.0, 0.5, 800)) == pytest.approx(mid.p_vpt, abs=1e-12)


def test_p_vpt_broadcasts_to_a_grid(rule):
    fids = np.array([150.0, 200.0, 250.0])
    ps = np.array([0.0, 1.0])
    grid = rule.p_vpt(fids[None, :], ps[:, None], 800)
    assert grid.shape == (2, 3)
    assert grid[0, 1] == pytest.approx(rule.predict(fid=200.0, p_high_disparity=0.0, n_train=800).p_vpt)


def test_contributions_add_up_to_the_margin(rule):
    for args in [
        (152.0, 0.05, 960),
        (230.0, 0.95, 20000),
        (200.0, 0.4, 800),
        (156.0, 0.05, 800, "vit_base_patch16_224.mae"),
    ]:
        pred = rule.predict(
            fid=args[0], p_high_disparity=args[1], n_train=args[2], backbone=args[3] if len(args) > 3 else None
        )
        assert set(pred.contributions) == {"objective", "fid", "n_train"}
        assert sum(pred.contributions.values()) + pred.reference_margin == pytest.approx(pred.margin, abs=1e-9)
    pred = rule.predict(fid=152.0, p_high_disparity=0.0, n_train=20000)
    assert pred.contributions["n_train"] < 0 < pred.contributions["fid"]


def test_verdict_bands_inside_the_evidence(rule):
    band = rule.decision
    for n in (400, 960, 3000, 10000):
        pred = rule.predict(fid=160.0, p_high_disparity=0.0, n_train=n)
        assert not pred.out_of_support
        if pred.choice != "uncertain":
            assert pred.choice == ("vpt" if pred.p_vpt >= band["vpt_if_p_at_least"] else "ft")
        else:
            assert "pilot" in pred.advice and "cheaper to store" in pred.advice
    assert rule.predict(fid=152.0, p_high_disparity=0.05, n_train=960).choice == "vpt"


def test_each_family_gets_its_own_prediction(rule):
    kw = {"fid": 156.39, "p_high_disparity": 0.05, "n_train": 800}
    vit = rule.predict(**kw, backbone="vit_base_patch16_224.augreg_in21k")
    mae = rule.predict(**kw, backbone="vit_base_patch16_224.mae")
    swin = rule.predict(**kw, backbone="swin_base_patch4_window7_224.ms_in22k")
    assert (vit.family, mae.family, swin.family) == ("vit-b16-in21k", "vit-b16-mae", "swin-b-in21k")
    assert mae.p_vpt < vit.p_vpt and mae.margin < 0 < vit.margin  # MAE: VPT won 4 of 19, mean margin -21
    assert mae.backbone_covered and mae.choice != "vpt"
    assert any("AugReg" in n for n in vit.notes)
    assert all(t["task"] for t in mae.nearest_tasks)


def test_an_unknown_backbone_is_uncertain_wider_and_not_another_familys_numbers(rule):
    kw = {"fid": 152.0, "p_high_disparity": 0.05, "n_train": 960}
    ref = rule.predict(**kw)
    other = rule.predict(**kw, backbone="vit_small_patch14_dinov2")
    assert other.family == "unknown" and not other.backbone_covered and other.choice == "uncertain"
    assert other.p_vpt != ref.p_vpt and other.margin_sd > ref.margin_sd
    assert other.rule_choice == ref.rule_choice  # the reference family's call, for information
    assert [o["input"] for o in other.out_of_support] == ["backbone"]
    assert any("not one of the study's families" in n for n in other.notes)
    for fam in ("swin-b-in21k", "vit-b16-mae", "vit-b16-mocov3"):
        assert rule.predict(**kw, backbone=fam).p_vpt != other.p_vpt


@pytest.mark.parametrize(
    "kw, inputs",
    [
        ({"fid": 400.0, "p_high_disparity": 0.05, "n_train": 800}, {"fid"}),
        ({"fid": 600.0, "p_high_disparity": 0.05, "n_train": 800}, {"fid"}),
        ({"fid": 156.0, "p_high_disparity": 0.05, "n_train": 1_000_000}, {"n_train"}),
        ({"fid": 300.0, "p_high_disparity": 0.95, "n_train": 800}, {"fid"}),
    ],
)
def test_out_of_support_is_named_and_not_decisive_against_the_evidence(rule, kw, inputs):
    pred = rule.predict(**kw)
    assert {o["input"] for o in pred.out_of_support} == inputs
    assert pred.choice == "uncertain"
    assert any("outside the evidence" in n for n in pred.notes)
    inside = dict(kw, fid=min(max(kw["fid"], 160.0), 240.0), n_train=min(kw["n_train"], 10000))
    assert pred.margin_sd > rule.predict(**inside).margin_sd  # the spread grows outside


def test_high_disparity_high_fid_is_not_called_ft(rule):
    # dSprites/location (Structured, FID 234.96 group) is the study's largest VPT win
    pred = rule.predict(fid=300.0, p_high_disparity=0.95, n_train=800)
    assert pred.choice != "ft"
    assert pred.nearest_tasks[0]["disparity"] == "high"


def test_notes_for_uncertain_disparity_and_small_fid_samples(rule):
    pred = rule.predict(fid=200.0, p_high_disparity=0.5, n_train=800, n_fid_images=1200, n_ref_images=1000)
    text = " ".join(pred.notes)
    assert "disparity is uncertain" in text and "fewer than 2048" in text
    corrected = rule.predict(
        fid=200.0,
        p_high_disparity=0.5,
        n_train=800,
        n_fid_images=1200,
        n_ref_images=1000,
        fid_note="FID put on the 1000-image scale: 200.0 ± 2.0.",
    )
    assert "fewer than 2048" not in " ".join(corrected.notes)
    assert corrected.notes[-1] == "FID put on the 1000-image scale: 200.0 ± 2.0."


def test_fid_uncertainty_and_scale_mapping_widen_the_margin(rule):
    a = rule.predict(fid=152.0, p_high_disparity=0.0, n_train=960, fid_scale_sd=0.0)
    b = rule.predict(fid=152.0, p_high_disparity=0.0, n_train=960, fid_scale_sd=0.0, fid_sd=30.0)
    c = rule.predict(fid=152.0, p_high_disparity=0.0, n_train=960)
    assert b.margin_sd > a.margin_sd and c.margin_sd > a.margin_sd
    assert b.margin == pytest.approx(a.margin, abs=0.3)
    assert c.inputs["fid_scale_sd"] == rule.scale_sd > 0


def test_nearest_tasks_are_distinct_and_sorted(rule):
    pred = rule.predict(fid=146.0, p_high_disparity=0.0, n_train=5400)
    tasks = [t["task"] for t in pred.nearest_tasks]
    assert len(tasks) == len(set(tasks)) == 3 and tasks[0] == "CUB-200-2011"
    assert np.all(np.diff([t["distance"] for t in pred.nearest_tasks]) >= 0)


def test_prediction_is_deterministic(rule):
    a = load_rule().predict(fid=170.0, p_high_disparity=0.3, n_train=2000).to_dict()
    assert a == rule.predict(fid=170.0, p_high_disparity=0.3, n_train=2000).to_dict()


@pytest.mark.parametrize(
    "kwargs", [{"fid": -1.0}, {"fid": float("nan")}, {"p_high_disparity": 1.5}, {"n_train": 0}, {"fid_sd": -1.0}]
)
def test_bad_inputs_are_usage_errors(rule, kwargs):
    args = {"fid": 150.0, "p_high_disparity": 0.0, "n_train": 800}
    args.update(kwargs)
    with pytest.raises(UsageError):
        rule.predict(**args)


def test_load_rule_errors(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_rule(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(UsageError, match="Cannot read the rule file"):
        load_rule(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text('{"format": "vptadvisor-rule/1"}', encoding="utf-8")
    with pytest.raises(UsageError, match="format"):
        load_rule(tmp_path / "old.json")


def test_objective_prior_mapping():
    from vptadvisor.rule import objective_prior

    assert objective_prior(None).to_dict() == {
        "p_high_disparity": 0.05,
        "source": "default: classification (not declared)",
    }
    assert objective_prior("Counting").p_high_disparity == 0.95
    assert objective_prior("location").p_high_disparity == 0.95
    assert objective_prior("other").p_high_disparity == 0.5
    with pytest.raises(UsageError):
        objective_prior("segmentation")
