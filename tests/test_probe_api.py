"""probe_objective: the API contract the analyze command relies on, its errors, determinism and cost.

Features are synthetic but built like the suite: the same "images" (feature rows) carry a content
attribute that dominates the features, as object identity dominates ImageNet features, and a
weak nuisance attribute (position-like) in directions the content does not use. Labelling the same
rows by content must give a low probability and by the nuisance a high one.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from vptadvisor.errors import MeasureError
from vptadvisor.probe import ProbeResult, load_model, probe_objective

CONTRACT = {"p_high_disparity", "signals", "evidence", "probe_version"}


def _scene_features(n=400, seed=0, d=2048):
    rng = np.random.default_rng(seed)
    content = rng.integers(0, 4, size=n)
    where = rng.integers(0, 4, size=n)
    sub = rng.integers(0, 25, size=n)  # 25 "objects" per content class
    protos = rng.normal(size=(4, 25, d)) * 0.6 + rng.normal(size=(4, 1, d)) * 1.0
    nuisance = rng.normal(size=(4, d)) * 0.12
    F = protos[content, sub] + nuisance[where] + rng.normal(size=(n, d)) * 0.5
    F = np.maximum(F + 1.0, 0).astype(np.float32)  # post-ReLU-like, as pool3 is
    return F, [f"c{c}" for c in content], [f"p{w}" for w in where]


@pytest.fixture(scope="module")
def scene():
    return _scene_features()


def test_content_labels_low_and_nuisance_labels_high(scene):
    F, content, where = scene
    low = probe_objective({"pool3": F}, content)
    high = probe_objective({"pool3": F}, where)
    assert isinstance(low, ProbeResult)
    # the signals' likelihood ratio separates them; the shipped prior (0.2) keeps P honest
    assert low.signals["log_likelihood_ratio"] < -1 and high.signals["log_likelihood_ratio"] > 0.5
    assert low.p_high_disparity < low.prior_high < high.p_high_disparity
    assert low.signals["non_semantic"] < high.signals["non_semantic"]
    assert "%" in low.evidence and "P(high disparity)" in high.evidence


def test_to_dict_is_the_json_contract(scene):
    F, content, _ = scene
    d = probe_objective({"pool3": F, "mixed_6e_g2": np.zeros((len(F), 3))}, content).to_dict()
    assert set(d) >= CONTRACT
    assert 0.0 <= d["p_high_disparity"] <= 1.0
    assert d["probe_version"] == load_model().probe_version
    assert all(isinstance(v, float) for v in d["signals"].values())
    assert {"r2_linear", "r2_neighbours", "non_semantic", "one_dimensional", "logit", "log_likelihood_ratio"} <= set(
        d["signals"]
    )
    assert d["prior_high"] == load_model().prior_high and d["augmented_images"] == 0
    assert set(d["meanings"]) == {"non_semantic", "one_dimensional"}
    json.loads(json.dumps(d))


def test_deterministic_and_seed_dependent_only_through_episodes(scene):
    F, content, where = scene
    a = probe_objective({"pool3": F}, where, seed=3).to_dict()
    b = probe_objective({"pool3": F.copy()}, list(where), seed=3).to_dict()
    assert a == b
    c = probe_objective({"pool3": F}, where, seed=4)
    assert abs(c.p_high_disparity - a["p_high_disparity"]) < 0.2


def test_robust_to_subsampling_imbalance_and_class_count(scene):
    F, content, where = scene
    rng = np.random.default_rng(0)
    half = np.sort(rng.choice(len(F), 160, replace=False))
    # imbalance: keep only a quarter of one class
    drop = [i for i, c in enumerate(content) if c == "c0"][::4]
    imb = np.array(sorted(set(range(len(F))) - {i for i, c in enumerate(content) if c == "c0"} | set(drop)))
    two = [c if c in ("c0", "c1") else "c-other" for c in content]
    for rows, labels_low, labels_high in (
        (half, [content[i] for i in half], [where[i] for i in half]),
        (imb, [content[i] for i in imb], [where[i] for i in imb]),
        (np.arange(len(F)), two, [w if w == "p0" else "p-other" for w in where]),
    ):
        lo = probe_objective({"pool3": F[rows]}, labels_low, prior_high=0.5).p_high_disparity
        hi = probe_objective({"pool3": F[rows]}, labels_high, prior_high=0.5).p_high_disparity
        assert lo < 0.5 < hi


@pytest.mark.parametrize(
    "labels, message",
    [
        (["a"] * 50, "same label"),
        (["a"] * 30 + [None] * 20, "no label"),
        (["a"] * 45 + ["b"] * 5, "Fewer than two classes"),
        (["a"] * 49, "labels for 50"),
    ],
)
def test_measure_errors_are_one_clear_sentence(labels, message):
    F = np.random.default_rng(0).normal(size=(50, 2048))
    with pytest.raises(MeasureError, match=message) as err:
        probe_objective({"pool3": F}, labels)
    assert err.value.message.count(". ") == 0 and err.value.message.endswith(".")


def test_missing_pool3_is_a_measure_error():
    with pytest.raises(MeasureError, match="pool3"):
        probe_objective({"mixed_6e_g2": np.zeros((40, 8))}, ["a", "b"] * 20)


def test_small_and_unbalanced_data_is_said_and_pulled_to_the_prior(scene):
    F, _, where = scene
    full = probe_objective({"pool3": F}, where)
    assert not full.weak_evidence and full.evidence_weight["size"] == 1.0
    rows = np.concatenate(
        [np.flatnonzero(np.array(where) == w)[:n] for w, n in zip(("p0", "p1", "p2", "p3"), (50, 12, 12, 12))]
    )
    small = probe_objective({"pool3": F[rows]}, [where[i] for i in rows])
    assert small.weak_evidence and "pulled toward its prior" in small.evidence and "unbalanced" in small.evidence
    prior = load_model().prior_high
    assert abs(small.p_high_disparity - prior) < abs(full.p_high_disparity - prior)
    assert small.evidence_weight["weight"] < full.evidence_weight["weight"]


def test_prior_override_moves_p_as_bayes_says(scene):
    F, content, _ = scene
    a = probe_objective({"pool3": F}, content, prior_high=0.2)
    b = probe_objective({"pool3": F}, content, prior_high=0.5)
    logit = lambda p: np.log(p / (1 - p))
    assert logit(b.p_high_disparity) - logit(a.p_high_disparity) == pytest.approx(logit(0.5) - logit(0.2), abs=1e-3)
    with pytest.raises(Exception, match="between 0 and 1"):
        probe_objective({"pool3": F}, content, prior_high=1.0)


def test_small_classes_are_left_out_and_counted(scene):
    F, content, _ = scene
    labels = list(content)
    labels[:3] = ["rare"] * 3
    res = probe_objective({"pool3": F}, labels)
    assert res.n_classes == 5 and res.n_classes_used == 4


@pytest.mark.slow
def test_cost_on_a_dtd10_sized_dataset_is_well_under_a_second_or_two():
    F, content, _ = _scene_features(n=1200, seed=1)
    labels = [f"{c}-{i % 3}" for i, c in enumerate(content)]  # 12 classes of 100
    start = time.perf_counter()
    probe_objective({"pool3": F}, labels)
    assert time.perf_counter() - start < 5.0  # measured ~0.5 s on the 2-core dev machine


def test_single_thread_blas_restores_the_thread_count():
    from vptadvisor.blas import blas_threads, single_thread_blas

    before = blas_threads()
    if before is None:
        pytest.skip("threadpoolctl finds no BLAS under numpy here")
    with single_thread_blas():
        assert blas_threads() == 1
    assert blas_threads() == before
