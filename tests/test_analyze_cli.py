"""`vptadvisor analyze` end to end: exit codes, skipped files, JSON contract, cache, no writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import EXPECTED, write_corpus

from vptadvisor.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def _snapshot(root: Path) -> dict:
    return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def corpus_dataset(tmp_path_factory) -> Path:
    """Every bad-file kind plus 40 good images, in an ImageFolder layout."""
    return write_corpus(tmp_path_factory.mktemp("corpus-ds"), n_good=40)


@pytest.fixture(scope="module")
def corpus_run(corpus_dataset) -> tuple[dict, dict, dict]:
    """The cold run (features computed and cached), with the dataset's state before and after it."""
    from vptadvisor.analyze import analyze

    before = _snapshot(corpus_dataset)
    result = analyze(corpus_dataset, min_images=20, kid_subset_size=30, kid_subsets=10).to_dict()
    return result, before, _snapshot(corpus_dataset)


@pytest.fixture(scope="module")
def corpus_json(corpus_run) -> dict:
    return corpus_run[0]


def test_corpus_skips_and_converts_every_kind(corpus_json):
    skipped = {s["path"]: s["reason"] for s in corpus_json["dataset"]["skipped"]}
    for name, (action, reason) in EXPECTED.items():
        if action == "skip":
            assert reason in skipped[name], (name, skipped.get(name))
        else:
            assert name not in skipped
    conversions = corpus_json["dataset"]["conversions"]
    for action, tag in EXPECTED.values():
        if action == "convert":
            assert conversions.get(tag, 0) >= 1, tag
    n_convert = sum(1 for a, _ in EXPECTED.values() if a == "convert")
    assert corpus_json["dataset"]["n_images"] == 40 + n_convert


def test_json_contract(corpus_json):
    d = corpus_json
    assert d["schema"] == "vptadvisor.analyze/1"
    assert {"path", "n_images", "n_classes", "skipped"} <= set(d["dataset"])
    assert all(set(s) == {"path", "reason"} for s in d["dataset"]["skipped"])
    assert {"fid", "kid", "kid_std", "reference", "n_reference"} <= set(d["distance"])
    assert isinstance(d["distance"]["fid"], float) and d["distance"]["fid"] > 0
    assert d["distance"]["reference"] == "imagenet-sample-1000" and d["distance"]["n_reference"] == 1000
    assert "sample size" in d["distance"]["note"]
    assert {"vptadvisor", "torch", "pytorch-fid", "numpy"} <= set(d["versions"])
    assert d["seed"] == 0
    json.dumps(d)  # serialisable as is


def test_second_run_reads_cache_and_gives_identical_numbers(corpus_dataset, corpus_json):
    from vptadvisor.analyze import analyze

    again = analyze(corpus_dataset, min_images=20, kid_subset_size=30, kid_subsets=10)
    assert again.timing.n_computed == 0
    assert again.timing.n_cached == again.dataset.n_files - 1  # the dangling link is re-checked, never cached
    assert again.distance.fid == corpus_json["distance"]["fid"]
    assert again.distance.kid == corpus_json["distance"]["kid"]
    assert [s.__dict__ for s in again.dataset.skipped] == corpus_json["dataset"]["skipped"]


def test_corrupt_cache_entry_is_recomputed_not_fatal(corpus_dataset, corpus_json, _isolated_cache):
    import sqlite3

    from vptadvisor.analyze import analyze

    databases = sorted((_isolated_cache / "features").rglob("*.sqlite3"))
    assert databases
    corrupted = 0
    for path in databases:
        db = sqlite3.connect(path)
        rows = [r[0] for r in db.execute("SELECT path FROM entries WHERE length(features) > 0 ORDER BY path LIMIT 6")]
        for i, key in enumerate(rows):  # a truncated blob, then a blob of the right length but garbage
            expr = "substr(features, 1, length(features) / 2)" if i % 2 else "zeroblob(length(features))"
            db.execute(f"UPDATE entries SET features = {expr} WHERE path = ?", (key,))
        db.commit()
        db.close()
        corrupted += len(rows)
    assert corrupted >= 6
    again = analyze(corpus_dataset, min_images=20, kid_subset_size=30, kid_subsets=10)
    assert 1 <= again.timing.n_computed <= corrupted
    assert again.distance.fid == pytest.approx(corpus_json["distance"]["fid"], rel=1e-6)


def test_analyze_never_writes_into_the_dataset(corpus_run):
    _, before, after = corpus_run
    assert after == before and len(before) > 40


def test_strict_turns_skips_into_exit_3(corpus_dataset, corpus_json, capsys):
    code, out, err = run_cli(["analyze", str(corpus_dataset), "--strict", "--min-images", "20"], capsys)
    assert code == 3
    assert "--strict" in err and "Traceback" not in err and out == ""


def test_too_few_images_is_exit_3(corpus_dataset, corpus_json, capsys):
    code, _, err = run_cli(["analyze", str(corpus_dataset)], capsys)  # 46 readable < 50
    assert code == 3 and "min-images" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "args,needle",
    [
        (["analyze", "/no/such/dataset"], "does not exist"),
        (["analyze"], "--demo"),
        (["analyze", ".", "--device", "tpu"], "device"),
        (["analyze", ".", "--resize", "nearest"], "resize"),
        (["analyze", "--demo", "--reference", "nope"], "Unknown reference"),
        (["analyze", ".", "--bogus-option"], "bogus"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args, needle, capsys):
    code, out, err = run_cli(args, capsys)
    assert code == 2, err
    assert needle in err and "Traceback" not in err


def test_json_output_and_file_via_cli(corpus_dataset, corpus_json, tmp_path, capsys):
    out_file = tmp_path / "result.json"
    code, out, err = run_cli(
        [
            "analyze",
            str(corpus_dataset),
            "--format",
            "json",
            "--min-images",
            "20",
            "--kid-subset-size",
            "30",
            "--kid-subsets",
            "10",
            "-o",
            str(out_file),
        ],
        capsys,
    )
    assert code == 0 and err == ""  # no progress bar when stderr is not a terminal
    printed = json.loads(out)
    assert printed == json.loads(out_file.read_text())
    assert printed["distance"]["fid"] == corpus_json["distance"]["fid"]


def test_table_output_names_the_skipped_files(corpus_dataset, corpus_json, capsys):
    code, out, _ = run_cli(["analyze", str(corpus_dataset), "--min-images", "20", "--kid-subset-size", "30"], capsys)
    assert code == 0
    assert "FID" in out and "bad/truncated.jpg" in out and "sample size" in out


@pytest.mark.slow
def test_subprocess_entry_point_user_error_has_no_traceback(tmp_path):
    env = {**os.environ}
    proc = subprocess.run(
        [sys.executable, "-m", "vptadvisor", "analyze", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr and proc.stdout == ""


def test_verdict_contract_and_what_moves_it(corpus_dataset, corpus_json):
    from vptadvisor.analyze import analyze

    v, obj = corpus_json["verdict"], corpus_json["objective"]
    assert v["choice"] in {"vpt", "ft", "uncertain"} and 0.0 <= v["p_vpt"] <= 1.0
    lo, hi = v["margin_interval"]
    assert lo < v["margin"] < hi and v["rule_version"] and v["nearest_tasks"]
    # one class of 40 images and one of 6: too few for the probe, so the default is used and said
    assert obj["source"] == "default" and obj["p_high_disparity"] == pytest.approx(0.05)
    assert "could not measure" in obj["note"] and "--objective" in obj["note"] and obj["probe"]["error"]
    assert v["inputs"]["fid"] == pytest.approx(corpus_json["distance"]["fid_matched"]["value"])
    assert v["n_train_source"] == "dataset" and v["inputs"]["n_train"] == corpus_json["dataset"]["n_train"]
    kwargs = dict(min_images=20, kid_subset_size=30, kid_subsets=10)
    # at 800 images: below 400 the one-shot evidence says high disparity no longer favours VPT (rule 2.0)
    counting = analyze(corpus_dataset, objective="counting", train_size=800, **kwargs)
    assert (counting.objective.source, counting.objective.declared) == ("declared", "counting")
    assert counting.objective.p_high_disparity == pytest.approx(0.95)
    assert counting.objective.probe == obj["probe"]
    classification = analyze(corpus_dataset, objective="classification", train_size=800, **kwargs)
    assert counting.verdict.p_vpt > classification.verdict.p_vpt
    bigger = analyze(corpus_dataset, train_size=10_000, **kwargs)
    assert bigger.verdict.p_vpt < v["p_vpt"] and bigger.verdict.n_train_source == "--train-size"
    other = analyze(corpus_dataset, backbone="vit_small_patch14_dinov2", **kwargs)
    assert other.verdict.choice == "uncertain" and not other.verdict.backbone_covered


def test_small_dataset_fid_is_put_on_the_1000_image_scale(corpus_json):
    d = corpus_json["distance"]
    assert d["fid_matched"]["n_images"] == d["n_images"] < 1000
    assert d["fid_matched"]["method"].startswith("offset fit")
    assert d["fid_matched"]["value"] < d["fid"]  # fewer images inflate FID; the correction removes it


def test_demo_quick_start_runs_and_the_probe_reads_its_objective(capsys):
    code, out, err = run_cli(["analyze", "--demo", "--format", "json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["dataset"]["n_images"] == 120 and result["dataset"]["n_classes"] == 4
    obj = result["objective"]
    assert obj["source"] == "probe" and obj["p_high_disparity"] == obj["probe"]["p_high_disparity"]
    assert obj["probe"]["signals"] and obj["note"].startswith("measured by the probe")
    code, out, err = run_cli(["analyze", "--demo", "--quiet", "--objective", "counting"], capsys)
    assert code == 0 and out.startswith("FID ") and "verdict=" in out
