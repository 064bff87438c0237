"""The settings models: one source for every default, bound and choice; bounded YAML; the pilot reads
the config file; the JSON Schemas are published; exit 2 with a sentence for out-of-range options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vptadvisor.cli import main
from vptadvisor.config import all_settings, load_config, pilot_settings
from vptadvisor.errors import UsageError
from vptadvisor.settings import AnalyzeSettings, CheckSettings, PilotSettings

REPO = Path(__file__).resolve().parents[1]


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_every_pilot_default_comes_from_the_model(tmp_path):
    cfg = load_config({}, cwd=tmp_path, env={})
    chosen = pilot_settings(cfg)
    assert chosen == PilotSettings()  # nothing set: the model's defaults, field for field
    assert chosen.kwargs()["backbone"] == PilotSettings.model_fields["backbone"].default


def test_the_pilot_takes_dataset_and_its_keys_from_the_config_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "vptadvisor.yaml").write_text(
        "dataset: data\nseed: 3\npilot:\n  arms: [vpt-shallow, ft]\n  img_size: 64\n  evals: 2\n  vpt_lrs: [5, 1]\n"
    )
    cfg = load_config({"pilot.budget": "2h"}, cwd=tmp_path, env={})
    p = pilot_settings(cfg)
    assert p.dataset == tmp_path / "data" and p.seed == 3 and p.arms == ["vpt-shallow", "ft"] and p.budget == "2h"
    kw = p.kwargs()
    assert kw["img_size"] == 64 and kw["lrs"] == {
        arm: [5.0, 1.0] for arm in ["vpt-deep", "vpt-shallow", "vapt", "linear", "ft-then-pt"]
    }
    # `vptadvisor pilot --budget 2h` with no DATASET runs on the file's dataset: it gets past the dataset
    # to the next check (here: no offline weights for the default backbone), not "Pass a DATASET directory"
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["pilot", "--budget", "2h", "--device", "cpu"], capsys)
    assert code in (2, 3) and "DATASET" not in err and "Traceback" not in err, err
    assert "weights" in err


def test_the_pilot_without_budget_or_steps_still_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["pilot", str(tmp_path)], capsys)
    assert code == 2 and "--budget" in err
    code, _, err = run_cli(["pilot", "--budget", "1h"], capsys)
    assert code == 2 and "DATASET" in err
    code, _, err = run_cli(["pilot", "--resume", str(tmp_path)], capsys)  # --resume: not a config key
    assert code == 2 and "is not a pilot run directory" in err


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--seed", "-1"], "--seed must be an integer between 0 and 4294967295, got -1."),
        (["--batch-size", "99999999999999999999"], "--batch-size must be an integer between 1 and 4096"),
        (["--workers", "100000"], "--workers must be an integer between 0 and 256"),
        (["--device", "tpu"], "--device must be one of auto, cpu, cuda, mps, got 'tpu'."),
        (["--backbone-kwargs", "{bad"], "--backbone-kwargs must be a mapping (a JSON object), got '{bad'."),
    ],
)
def test_out_of_range_options_are_exit_2_with_a_sentence(tmp_path, capsys, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    for command in (["analyze", str(tmp_path)], ["check", str(tmp_path), "--expect", "vpt"]):
        if args[0] == "--backbone-kwargs":  # a pilot option only
            continue
        code, _, err = run_cli(command + args, capsys)
        assert code == 2 and err.startswith("error: ") and needle in err and "Traceback" not in err, (command, err)
    code, _, err = run_cli(["pilot", str(tmp_path), "--steps", "1", *args], capsys)
    if args[0] != "--workers":  # the pilot has no --workers
        assert code == 2 and needle.split(" got")[0].split(",")[0] in err, err


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path, capsys, monkeypatch):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = "pilot:\n  backbone_kwargs:\n" + "\n".join("    " + line for line in lines) + "\n"
    (tmp_path / "vptadvisor.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    for args in (["config", "show"], ["analyze", str(tmp_path)], ["pilot", "--steps", "1"]):
        code, _, err = run_cli(args, capsys)
        assert code == 2 and "aliases expand to more than" in err and "Traceback" not in err, (args, err)
    (tmp_path / "vptadvisor.yaml").write_text("pilot:\n  backbone_kwargs: &k {depth: 2}\n  out: run\n")
    assert load_config({}, cwd=tmp_path, env={}).pilot.backbone_kwargs == {"depth": 2}  # small aliases are fine


def test_config_show_prints_big_values_cut(tmp_path, capsys, monkeypatch):
    big = {f"k{i}": "v" * 50 for i in range(500)}
    (tmp_path / "vptadvisor.yaml").write_text(json.dumps({"pilot": {"backbone_kwargs": big}}))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["config", "show"], capsys)
    assert code == 0 and "..." in out and len(out) < 20_000


def test_every_setting_has_help_and_a_json_schema_type():
    schema = CheckSettings.model_json_schema()
    assert schema["additionalProperties"] is False
    for s in all_settings():
        assert s.help and s.describe(), s.key
    for model in (AnalyzeSettings, PilotSettings):
        for name, field in model.model_fields.items():
            assert field.description, name


def test_published_schemas_are_current():
    from vptadvisor.cli.schema_cmd import json_schema

    published = json.loads((REPO / "docs" / "config.schema.json").read_text())
    assert {k: v for k, v in published.items() if k != "$schema"} == json_schema("config")
    for name in ("analyze", "pilot"):
        doc = json_schema(name)
        assert doc["type"] == "object" and "schema" in doc["properties"] and doc["additionalProperties"] is True


def test_schema_command_prints_json(capsys):
    code, out, _ = run_cli(["schema", "pilot"], capsys)
    assert code == 0 and "arms" in json.loads(out)["properties"]


def test_wrong_python_api_arguments_name_the_key():
    with pytest.raises(UsageError, match="prompt_length must be an integer >= 1"):
        _api_pilot(prompt_length=0)
    with pytest.raises(UsageError, match="Unknown arm 'prefix'"):
        _api_pilot(arms=["prefix"])


def _api_pilot(**kw):
    from vptadvisor import pilot

    return pilot("x", **kw)


def test_no_import_cycles_and_no_private_imports_across_packages():
    """tools/import_graph.py: the package has no import cycle (imports under TYPE_CHECKING excepted)
    and no module imports another package's private names."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "import_graph.py")], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    cycles = [line for line in proc.stdout.splitlines() if line.startswith("cycle:")]
    private = [line for line in proc.stdout.splitlines() if line.startswith("private:")]
    assert "import edges" in proc.stdout
    assert cycles == [] and private == [], cycles + private


def test_figures_leave_the_matplotlib_backend_alone():
    code = (
        "import matplotlib; b = matplotlib.get_backend(); "
        "from vptadvisor.report.figure import png, subplots; fig, ax = subplots((2, 2)); ax.plot([0, 1]); "
        "data = png(fig); import sys; assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n'; "
        "assert 'matplotlib.pyplot' not in sys.modules and matplotlib.get_backend() == b; print('ok')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"MPLBACKEND": "svg", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout.strip() == "ok", proc.stderr


def test_one_device_resolver():
    from vptadvisor.device import resolve_device, torch_device

    assert resolve_device("CPU") == "cpu" and str(torch_device("cpu")) == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(UsageError, match="Unknown device 'tpu'"):
        resolve_device("tpu")


def test_the_arm_choices_are_the_pilots_arms():
    from typing import get_args

    from vptadvisor.pilot.arms import ARMS
    from vptadvisor.settings.models import Arm

    assert get_args(Arm) == ARMS
