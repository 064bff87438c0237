"""Leave-one-task-out evidence: metrics on hand-made cases, and the `study validate` JSON contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vptadvisor.cli import main
from vptadvisor.rule import metrics
from vptadvisor.rule.validate import BASELINES, _paper_forecast, validate
from vptadvisor.rule.fit import Arrays
from vptadvisor.study.table import load_table

SCORE_KEYS = {"sign_accuracy", "brier", "log_loss", "margin_mae", "ece"}


def test_ties_count_half_everywhere():
    assert list(metrics.outcome(np.array([2.0, -1.0, 0.0]))) == [1.0, 0.0, 0.5]
    y4 = metrics.outcome(np.array([2.0, 0.5, -1.0, 0.0]))
    assert metrics.sign_accuracy(np.ones(4, bool), y4) == pytest.approx(2.5 / 4)
    assert metrics.sign_accuracy(np.zeros(4, bool), y4) == pytest.approx(1.5 / 4)
    assert metrics.sign_accuracy(np.array([True, True, False, False]), y4) == pytest.approx(3.5 / 4)
    y = metrics.outcome(np.array([2.0, -1.0, 0.0]))
    p = np.array([0.8, 0.3, 0.6])
    expect = -(np.log(0.8) + np.log(0.7) + 0.5 * np.log(0.6) + 0.5 * np.log(0.4)) / 3
    assert metrics.log_loss(p, y) == pytest.approx(expect)
    assert metrics.brier(p, y) == pytest.approx((0.04 + 0.09 + 0.01) / 3)


def test_ece_and_reliability_by_hand():
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    y = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
    bins = metrics.reliability(p, y)
    assert [(b.lo, b.n) for b in bins] == [(0.0, 2), (0.5, 1), (0.9, 2)]
    assert metrics.ece(p, y) == pytest.approx((2 * 0.45 + 1 * 0.45 + 2 * 0.05) / 5)
    assert metrics.reliability(np.array([1.0]), np.array([1.0]))[0].lo == 0.9  # p = 1 lands in the last bin


def test_ceiling_counts_conflicting_cells():
    keys = [("a",), ("a",), ("a",), ("b",), ("b",)]
    margin = np.array([1.0, 2.0, -1.0, 0.0, 3.0])
    # cell a: majority VPT -> 2/3; cell b: call VPT -> tie half + win = 1.5
    assert metrics.ceiling_sign_accuracy(keys, margin) == pytest.approx((2 + 1.5) / 5)


def test_paper_rule_cut_and_laplace_probabilities():
    train = Arrays(task=np.array(["a", "b", "c", "d"]), disparity=np.array([0.0, 0.0, 0.0, 1.0]),
                   fid=np.array([150.0, 160.0, 240.0, 240.0]), n_train=np.full(4, 800.0),
                   margin=np.array([2.0, 1.0, -1.0, 3.0]))
    test = Arrays(task=np.array(["e", "f"]), disparity=np.array([0.0, 0.0]), fid=np.array([155.0, 230.0]),
                  n_train=np.full(2, 800.0), margin=np.array([1.0, -1.0]))
    fc = _paper_forecast(train, test)
    assert list(fc.call_vpt) == [True, False]  # cut between 160 and 240
    assert fc.p[0] == pytest.approx((3 + 1) / (3 + 2)) and fc.p[1] == pytest.approx((0 + 1) / (1 + 2))
    assert fc.margin[0] == pytest.approx(2.0) and fc.margin[1] == pytest.approx(-1.0)


@pytest.fixture(scope="module")
def report_json():
    import io
    import contextlib
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as exc:
        main(["study", "validate", "--format", "json"])
    assert exc.value.code == 0
    return json.loads(buf.getvalue())


def test_validate_json_contract(report_json):
    assert SCORE_KEYS == set(report_json["rule"])
    assert set(report_json["baselines"]) == set(BASELINES)
    for scores in report_json["baselines"].values():
        assert set(scores) == SCORE_KEYS
    assert report_json["n_rows"] == 71 and report_json["n_tasks"] == 24
    assert len(report_json["rows"]) == 71


def test_validate_numbers_are_consistent(report_json):
    rows = load_table()
    default = [r for r in rows if r.backbone == "vit-b16-in21k"]
    wins = sum(r.winner == "vpt" for r in default) + 0.5 * sum(r.winner == "tie" for r in default)
    b = report_json["baselines"]
    assert b["always-vpt"]["sign_accuracy"] == pytest.approx(wins / 71, abs=1e-6)
    assert b["always-vpt"]["sign_accuracy"] + b["always-ft"]["sign_accuracy"] == pytest.approx(1.0, abs=1e-6)
    assert b["always-vpt"]["log_loss"] == b["always-ft"]["log_loss"]  # same base-rate probability
    beats = {k: report_json["rule"]["log_loss"] < v["log_loss"] for k, v in b.items()}
    assert report_json["beats_baselines_on_log_loss"] == beats
    assert report_json["beats_all_baselines_on_log_loss"] == all(beats.values())
    assert ("NOT" not in report_json["statement"]) == all(beats.values())
    assert report_json["ceiling_sign_accuracy"] == pytest.approx(60 / 71, abs=1e-6)
    assert report_json["rule"]["sign_accuracy"] <= report_json["ceiling_sign_accuracy"] + 1e-9


def test_rule_beats_the_baselines_it_claims_to(report_json):
    # docs/rule.md states these results; if the table or model changes, update the docs too.
    assert report_json["beats_all_baselines_on_log_loss"] is True
    assert report_json["rule"]["ece"] <= 0.10


def test_validate_is_deterministic(report_json):
    again = validate(load_table()).to_dict()
    assert json.loads(json.dumps(again)) == report_json
