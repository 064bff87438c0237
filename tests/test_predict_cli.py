"""`vptadvisor predict`: the verdict without a dataset, through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from vptadvisor.cli import main
from vptadvisor.rule import load_rule


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_json_is_the_verdict_of_the_api(capsys):
    code, out, _ = run(
        ["predict", "--fid", "152.23", "--objective", "classification", "--train-size", "960", "--format", "json"],
        capsys,
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"verdict"}
    v = doc["verdict"]
    assert {"choice", "p_vpt", "margin", "margin_interval", "notes", "family", "out_of_support"} <= set(v)
    api = load_rule().predict(fid=152.23, p_high_disparity=0.05, n_train=960).to_dict()
    assert v["p_vpt"] == api["p_vpt"] and v["choice"] == api["choice"] == "vpt"
    assert v["objective"] == {"p_high_disparity": 0.05, "source": "declared: classification"}


def test_p_high_backbone_and_out_of_support(capsys):
    code, out, _ = run(
        [
            "predict",
            "--fid",
            "400",
            "--p-high",
            "0.05",
            "--train-size",
            "800",
            "--backbone",
            "vit_base_patch16_224.mae",
            "--format",
            "json",
        ],
        capsys,
    )
    v = json.loads(out)["verdict"]
    assert code == 0 and v["family"] == "vit-b16-mae" and v["inputs"]["p_high_disparity"] == 0.05
    assert [o["input"] for o in v["out_of_support"]] == ["fid"] and v["choice"] != "vpt"  # MAE: FT even at the edge


def test_table_prints_the_verdict_block(capsys):
    code, out, _ = run(["predict", "--fid", "200", "--objective", "counting", "--train-size", "800"], capsys)
    assert code == 0 and "Verdict" in out and "P(VPT better)" in out and "closest published" in out


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "--fid", "150", "--train-size", "800"],  # neither --objective nor --p-high
        ["predict", "--fid", "150", "--objective", "counting", "--p-high", "0.5", "--train-size", "800"],
        ["predict", "--fid", "150", "--objective", "segmentation", "--train-size", "800"],
        ["predict", "--fid", "150", "--p-high", "1.5", "--train-size", "800"],
        ["predict", "--fid", "150", "--objective", "counting", "--train-size", "0"],
        ["predict", "--fid", "150", "--objective", "counting"],
    ],
)
def test_usage_errors_exit_2(args, capsys):
    code, _, err = run(args, capsys)
    assert code == 2 and err.strip()
