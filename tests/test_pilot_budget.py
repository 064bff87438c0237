"""Budget parsing, the per-arm plan (successive halving + continued training) and the schedule."""

from __future__ import annotations

import math

import pytest

from vptadvisor.errors import UsageError
from vptadvisor.pilot.budget import (
    LR_CANDIDATES,
    SEARCH_WASTE,
    lr_at,
    parse_budget,
    plan_arm,
    shares,
)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("90s", 90),
        ("30m", 1800),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1.5h", 5400),
        (" 10M ", 600),
        ("2m30s", 150),
        ("0.5s", 0.5),
    ],
)
def test_parse_budget_accepts_durations(text, seconds):
    assert parse_budget(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["90", "", "2x", "h", "1m2h", "-5m", "1 h", "5 minutes", "1e3s", "m30"])
def test_parse_budget_refuses_everything_else(text):
    with pytest.raises(UsageError, match="90s, 30m, 2h"):
        parse_budget(text)


@pytest.mark.parametrize("text", ["0m", "0s", "0h0m"])
def test_zero_budget_is_refused(text):
    with pytest.raises(UsageError, match="is zero"):
        parse_budget(text)


@pytest.mark.parametrize("total", [1, 5, 11, 12, 30, 45, 46, 100, 1000, 12345])
def test_plan_spends_exactly_the_steps_and_wastes_at_most_35_percent(total):
    plan = plan_arm("vpt-deep", total)
    assert plan.total_steps == total or (total < 3 and plan.total_steps >= total)
    k = len(plan.base_lrs)
    assert k == (4 if total >= 46 else 2 if total >= 12 else 1)
    assert plan.base_lrs == LR_CANDIDATES["vpt"][k]
    wasted = plan.total_steps - plan.horizon
    assert wasted <= SEARCH_WASTE * total + 1e-9
    if plan.rungs:
        assert plan.rungs == [plan.rungs[0] * 2**j for j in range(len(plan.rungs))]
        assert plan.horizon >= plan.rungs[-1]
    assert 1 <= plan.warmup <= max(1, round(0.1 * plan.horizon))


def test_ft_plan_uses_the_finetune_grid_and_its_warmup():
    plan = plan_arm("ft", 400)
    assert plan.base_lrs == [0.005, 0.001, 0.0005, 0.0001]
    assert plan.warmup == round(0.05 * plan.horizon)
    assert plan_arm("ft", 400, base_lrs=[1e-3]).rungs == []


def test_lr_schedule_warmup_then_cosine_scaled_by_batch():
    peak = 10.0 * 64 / 256
    assert lr_at(10.0, 64, 0, 4, 0.0) == pytest.approx(peak / 4)
    assert lr_at(10.0, 64, 3, 4, 0.0) == pytest.approx(peak)
    assert lr_at(10.0, 64, 10, 4, 0.5) == pytest.approx(peak / 2)
    assert lr_at(10.0, 64, 10, 4, 1.0) == pytest.approx(0.0, abs=1e-12)


def test_adaptive_progress_equals_step_over_horizon_when_steps_are_known():
    horizon, p = 37, 5 / 37
    for step in range(5, horizon):
        assert p == pytest.approx(step / horizon)
        p = p + (1 - p) / (horizon - step)
    assert p == pytest.approx(1.0)


def test_shares_are_equal():
    s = shares(100.0, ["vpt-deep", "ft"])
    assert s == {"vpt-deep": 50.0, "ft": 50.0}
    assert math.isclose(sum(shares(90.0, ["a", "b", "c"]).values()), 90.0)
