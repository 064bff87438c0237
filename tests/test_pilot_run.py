"""End-to-end pilot runs on a tiny random ViT and a generated dataset (fast), through the API and CLI."""

from __future__ import annotations

import json
import time

import pytest
from test_pilot_helpers import (
    TINY_IMG,
    TINY_KWARGS,
    TINY_NAME,
    make_dataset,
    make_tiny_weights,
    tiny_cli_args,
)

from vptadvisor.errors import MeasureError, UsageError
from vptadvisor.pilot import PilotResult, run_pilot
from vptadvisor.pilot.export import load_pilot_model, read_meta


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("pilot")
    return {
        "data": make_dataset(root / "data", bad_files=True),
        "weights": make_tiny_weights(root / "tiny.safetensors"),
        "root": root,
    }


def tiny_run(assets, out, **kw) -> PilotResult:
    args = dict(
        backbone=TINY_NAME,
        weights=assets["weights"],
        backbone_kwargs=TINY_KWARGS,
        img_size=TINY_IMG,
        batch_size=8,
        device="cpu",
        threads=1,
        run_dir=out,
    )
    args.update(kw)
    return run_pilot(assets["data"], **args)


def test_step_run_honours_the_json_contract_and_is_reproducible(assets, tmp_path):
    r = tiny_run(assets, tmp_path / "a", steps=30, arms="vpt-deep,vpt-shallow,ft")
    data = json.loads((tmp_path / "a" / "result.json").read_text())
    assert data == json.loads(json.dumps(r.to_dict()))
    assert PilotResult.from_dict(data).to_dict() == data
    for name in ("vpt-deep", "vpt-shallow", "ft"):
        arm = data["arms"][name]
        for key in ("val_accuracy", "val_accuracy_interval", "trainable_params", "peak_memory_bytes", "seconds"):
            assert key in arm
        lo, hi = arm["val_accuracy_interval"]
        assert 0 <= lo <= arm["val_accuracy"] <= hi <= 1
        assert (arm["steps"] == 30 or arm["status"] == "stopped") and arm["peak_memory_bytes"] > 0
        assert arm["bytes_per_task"] == 4 * arm["stored_params"] and arm["paper_params"] == arm["trainable_params"]
    for key in ("budget_seconds", "elapsed_seconds"):
        assert key in data
    assert set(data["difference"]) >= {"margin", "interval", "mcnemar_p"}
    assert set(data["verdict"]) >= {"choice", "p_vpt", "confirms_rule"}
    assert data["difference"]["vpt_arm"] == "vpt-deep" and data["verdict"]["confirms_rule"] is None
    assert data["arms"]["vpt-deep"]["trainable_params"] == 2 * 10 * 32 + 32 * 4 + 4
    assert data["arms"]["ft"]["trainable_fraction"] == 1.0
    assert {s["path"] for s in data["split"]["skipped"]} == {"class_0/empty.jpg", "class_1/broken.png"}
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == [
        "config.json",
        "curves.png",
        "result.json",
        "vpt-deep.json",
        "vpt-deep.safetensors",
        "vpt-shallow.json",
        "vpt-shallow.safetensors",
    ]
    assert set(data["complementarity"]["disagreement"]) == {"vpt-deep+vpt-shallow", "vpt-deep+ft", "vpt-shallow+ft"}
    assert set(data["complementarity"]["ensemble"]) >= {"members", "val_accuracy", "ci"}
    assert [w["alpha"] for w in data["complementarity"]["wise_ft"]] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert data["ranking"]["best_per_byte"] in data["arms"] and len(data["halving"]) == 2
    assert (tmp_path / "a" / "vpt-deep.safetensors").stat().st_size < 50_000
    again = tiny_run(assets, tmp_path / "b", steps=30, arms="vpt-deep,vpt-shallow,ft")
    for name, arm in r.arms.items():
        assert again.arms[name].curve["train"] == arm.curve["train"]
        assert again.arms[name].val_accuracy == arm.val_accuracy
    assert again.difference.margin == r.difference.margin


def test_saved_prompts_rebuild_the_trained_model(assets, tmp_path):
    r = tiny_run(assets, tmp_path / "a", steps=12, arms="vpt-deep,ft", save_backbone=True)
    meta = read_meta(tmp_path / "a" / "vpt-deep.safetensors")
    assert meta["prompt_length"] == 10 and meta["classes"] == ["class_0", "class_1", "class_2", "class_3"]
    model, classes, _ = load_pilot_model(tmp_path / "a" / "vpt-deep.safetensors")
    assert model.prompts.shape == (2, 10, 32) and len(classes) == 4
    full, _, ft_meta = load_pilot_model(tmp_path / "a" / "ft.safetensors")
    assert ft_meta["arm"] == "ft" and ft_meta["val_accuracy"] == r.arms["ft"].final_val_accuracy


def test_a_diverging_candidate_is_dropped_and_reported(assets, tmp_path):
    r = tiny_run(assets, tmp_path / "a", steps=24, arms="vpt-deep,ft", lrs={"vpt-deep": [1e7, 1.0], "ft": [1e4]})
    cands = {c.base_lr: c for c in r.arms["vpt-deep"].candidates}
    assert cands[1e7].status == "diverged" and "step" in cands[1e7].reason
    assert cands[1.0].status == "winner" and r.arms["vpt-deep"].val_accuracy is not None
    ft = r.arms["ft"]
    assert ft.status == "failed" and ft.val_accuracy is None and ft.candidates[0].status == "diverged"
    assert r.difference is None and r.verdict is None
    assert json.loads((tmp_path / "a" / "result.json").read_text())["arms"]["ft"]["status"] == "failed"


@pytest.mark.slow
def test_budget_is_kept_and_shared_fairly(assets, tmp_path):
    t = time.perf_counter()
    r = tiny_run(assets, tmp_path / "a", budget="15s")
    wall = time.perf_counter() - t
    # load-tolerant: the budget is never under-used, and the overshoot is bounded by the pilot's own
    # clock (one step and one evaluation past the deadline on a loaded machine), not by a fixed 10 %
    assert 0.9 * 15 <= r.elapsed_seconds <= 1.5 * 15 and wall <= r.elapsed_seconds + 5
    assert sum(a.share_seconds for a in r.arms.values()) <= 15
    for arm in r.arms.values():
        assert arm.seconds <= 1.25 * arm.share_seconds + 1
        assert arm.plan["n_evals"] >= 1 and len(arm.curve["val"]) >= 1
        assert abs(sum(arm.seconds_breakdown.values()) - arm.seconds) < 0.05


def test_usage_errors(assets, tmp_path):
    with pytest.raises(UsageError, match="budget"):
        tiny_run(assets, tmp_path / "a")
    with pytest.raises(UsageError, match="Unknown arm"):
        tiny_run(assets, tmp_path / "a", steps=2, arms="vpt,ft")
    tiny_run(assets, tmp_path / "done", steps=2, arms="vpt-deep")
    with pytest.raises(UsageError, match="already holds"):
        tiny_run(assets, tmp_path / "done", steps=2, arms="vpt-deep")
    with pytest.raises(UsageError, match="complete"):
        run_pilot(resume=tmp_path / "done")
    with pytest.raises(UsageError, match="not a pilot run"):
        run_pilot(resume=tmp_path)
    with pytest.raises(MeasureError, match="budget"):
        tiny_run(assets, tmp_path / "b", budget="0.01s")


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """`vptadvisor pilot ARGS` in this process: (exit code, stdout, stderr)."""
    from vptadvisor.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["pilot", *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_cli_json_and_table_output_and_errors(assets, tmp_path, capsys):
    code, out, err = run_cli(tiny_cli_args(assets["data"], assets["weights"], tmp_path / "run", 6), capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data["arms"]) == {"vpt-deep", "ft"} and data["difference"] is not None
    args = tiny_cli_args(assets["data"], assets["weights"], tmp_path / "run2", 6)
    args[args.index("--format") + 1] = "table"
    code, out, err = run_cli(args, capsys)
    assert code == 0 and "vpt-deep" in out and "McNemar" in out and "verdict" in out
    for bad, text in (
        (["--budget", "10"], "90s, 30m, 2h"),
        (["--budget", "5m", "--arms", "prompt"], "Unknown arm"),
        (["--budget", "5m", "--arms", "ft-then-pt"], "add ft to --arms"),
        (["--budget", "5m", "--backbone", "resnet18", "--random-init"], "VisionTransformer"),
        (["--budget", "5m", "--weights", str(tmp_path / "nope.safetensors")], "does not exist"),
        (["--budget", "5m", "--backbone-kwargs", "[1]"], "JSON object"),
        (["--budget", "5m", "--vpt-lrs", "1,x"], "comma-separated"),
    ):
        code, out, err = run_cli([str(assets["data"]), *bad, "--device", "cpu"], capsys)
        assert code == 2, (bad, err)
        assert text in err and "Traceback" not in err


def test_batch_must_split_across_processes(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UsageError, match="divisible"):
        tiny_run(assets, tmp_path / "a", steps=2, batch_size=7)


def test_the_pilot_leaves_the_callers_thread_count_as_it_was(assets, tmp_path):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        r = tiny_run(assets, tmp_path / "t", steps=2, arms="vpt-deep")  # trains with threads=1
        assert r.arms["vpt-deep"].steps == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
