"""Settings: precedence (command line > environment > file > default), pyproject.toml, unknown keys and
wrong types (usage errors naming the key), safe YAML only, and `vptadvisor config show`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vptadvisor.cli import main
from vptadvisor.config import all_settings, analyze_kwargs, load_config, pilot_kwargs
from vptadvisor.errors import UsageError


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file_or_environment(tmp_path):
    cfg = load_config({}, cwd=tmp_path, env={})
    assert cfg.file is None and cfg.dataset is None and cfg.layout == "auto" and cfg.seed == 0
    assert cfg.gate.expect is None and cfg.gate.min_confidence == 0.7 and cfg.gate.allow_uncertain is False
    assert cfg.pilot.arms == ["vpt-deep", "ft"] and cfg.pilot.run == "never" and analyze_kwargs(cfg) == {}
    assert set(cfg.sources.values()) == {"default"}


def test_precedence_command_line_over_environment_over_file_over_default(tmp_path):
    write(tmp_path / "vptadvisor.yaml", "seed: 1\ndevice: cpu\ngate:\n  min_confidence: 0.6\n  expect: ft\n")
    env = {"VPTADVISOR_SEED": "2", "VPTADVISOR_GATE_MIN_CONFIDENCE": "0.8"}
    cfg = load_config({"seed": 3, "gate.expect": None}, cwd=tmp_path, env=env)
    assert cfg.seed == 3 and cfg.sources["seed"] == "command line --seed"  # all four set: CLI wins
    assert (
        cfg.gate.min_confidence == 0.8
        and cfg.sources["gate.min_confidence"] == "environment VPTADVISOR_GATE_MIN_CONFIDENCE"
    )
    assert cfg.device == "cpu" and cfg.sources["device"] == "file vptadvisor.yaml"
    assert (
        cfg.gate.expect == "ft" and cfg.sources["gate.expect"] == "file vptadvisor.yaml"
    )  # None on the CLI: not given
    assert cfg.min_images == 50 and cfg.sources["min_images"] == "default"
    assert cfg.file == tmp_path / "vptadvisor.yaml"


def test_pyproject_tool_table_and_explicit_config_path(tmp_path):
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.vptadvisor]\nobjective = "counting"\n'
        'train_size = 5000\n\n[tool.vptadvisor.pilot]\narms = ["vpt-shallow", "ft"]\nbudget = "2h"\n',
    )
    cfg = load_config({}, cwd=tmp_path, env={})
    assert cfg.file == tmp_path / "pyproject.toml"
    assert (cfg.objective, cfg.train_size, cfg.pilot.arms, cfg.pilot.budget) == (
        "counting",
        5000,
        ["vpt-shallow", "ft"],
        "2h",
    )
    # vptadvisor.yaml is preferred over pyproject.toml; --config over both; $VPTADVISOR_CONFIG over discovery
    write(tmp_path / "vptadvisor.yaml", "objective: distance\n")
    assert load_config({}, cwd=tmp_path, env={}).objective == "distance"
    other = write(tmp_path / "other.yml", "objective: location\n")
    assert load_config({}, config=other, cwd=tmp_path, env={}).objective == "location"
    assert load_config({}, cwd=tmp_path, env={"VPTADVISOR_CONFIG": str(other)}).objective == "location"
    # a pyproject.toml without the table is not a config
    (tmp_path / "vptadvisor.yaml").unlink()
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    assert load_config({}, cwd=tmp_path, env={}).file is None


def test_relative_paths_in_a_file_are_relative_to_the_file(tmp_path, monkeypatch):
    sub = tmp_path / "repo"
    sub.mkdir()
    cfg_file = write(sub / "vptadvisor.yaml", "dataset: data/images\ncache_dir: .cache\nreport:\n  path: out/r.html\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config({}, config=cfg_file, env={})
    assert (
        cfg.dataset == sub / "data/images" and cfg.cache_dir == sub / ".cache" and cfg.report.path == sub / "out/r.html"
    )
    cli = load_config({"dataset": Path("mine")}, config=cfg_file, env={})
    assert cli.dataset == Path("mine")  # command-line paths stay relative to the working directory


@pytest.mark.parametrize(
    "text,needle",
    [
        ("gate:\n  expct: vpt\n", "unknown key 'gate.expct' (did you mean 'gate.expect'?)"),
        ("datset: x\n", "unknown key 'datset' (did you mean 'dataset'?)"),
        ("pilot:\n  budgett: 1h\n", "unknown key 'pilot.budgett'"),
        ("analyze:\n  batchsize: 8\n", "unknown key 'analyze.batchsize'"),
        ("analyze:\n  progress: 1\n", "unknown key 'analyze.progress'"),  # not settable from a file
        ("analyze:\n  device: cpu\n", "unknown key 'analyze.device'"),  # a top-level key, not in the section
        ("gate: vpt\n", "'gate' must be a mapping"),
    ],
)
def test_unknown_keys_are_usage_errors_naming_the_key(tmp_path, text, needle):
    write(tmp_path / "vptadvisor.yaml", text)
    with pytest.raises(UsageError) as info:
        load_config({}, cwd=tmp_path, env={})
    assert needle in info.value.message and "vptadvisor.yaml" in info.value.message


@pytest.mark.parametrize(
    "text,needle",
    [
        ("seed: one\n", "seed must be an integer"),
        ("seed: 1.5\n", "seed must be an integer"),
        ("strict: 1\n", "strict must be true or false"),
        ("min_images: 1\n", "min_images must be an integer >= 2"),
        ("device: tpu\n", "device must be one of auto, cpu, cuda, mps"),
        ("gate:\n  min_confidence: 1.5\n", "gate.min_confidence must be a number between 0 and 1"),
        ("gate:\n  min_confidence: true\n", "gate.min_confidence must be a number"),
        ("gate:\n  expect: maybe\n", "gate.expect must be one of vpt, ft"),
        ("pilot:\n  arms: [vpt-deep, prefix]\n", "Unknown arm 'prefix': choose from vpt-deep, vpt-shallow, vapt"),
        ("pilot:\n  budget: soon\n", "pilot.budget must be a duration"),
        ("pilot:\n  backbone_kwargs: [1]\n", "pilot.backbone_kwargs must be a mapping"),
        ("analyze:\n  batch_size: big\n", "analyze.batch_size must be an integer"),
        ("analyze:\n  cache: maybe\n", "analyze.cache must be true or false"),
        ("dataset: 3\n", "dataset must be a path"),
    ],
)
def test_wrong_types_are_usage_errors_naming_the_key(tmp_path, text, needle):
    write(tmp_path / "vptadvisor.yaml", text)
    with pytest.raises(UsageError) as info:
        load_config({}, cwd=tmp_path, env={})
    assert needle in info.value.message


def test_wrong_environment_values_name_the_variable(tmp_path):
    for var, value, needle in [
        ("VPTADVISOR_SEED", "x", "seed must be an integer"),
        ("VPTADVISOR_GATE_ALLOW_UNCERTAIN", "perhaps", "true or false"),
        ("VPTADVISOR_PILOT_BACKBONE_KWARGS", "{bad", "mapping"),
    ]:
        with pytest.raises(UsageError) as info:
            load_config({}, cwd=tmp_path, env={var: value})
        assert var in info.value.message and needle in info.value.message
    env = {
        "VPTADVISOR_GATE_ALLOW_UNCERTAIN": "yes",
        "VPTADVISOR_PILOT_ARMS": "vpt-deep,ft",
        "VPTADVISOR_TRAIN_SIZE": "null",
        "VPTADVISOR_ANALYZE_KID_SUBSETS": "7",
        "VPTADVISOR_CACHE_DIR": "",
    }
    cfg = load_config({}, cwd=tmp_path, env=env)
    assert cfg.gate.allow_uncertain is True and cfg.pilot.arms == ["vpt-deep", "ft"] and cfg.train_size is None
    assert (
        cfg.analyze.kid_subsets == 7
        and cfg.sources["analyze.kid_subsets"] == "environment VPTADVISOR_ANALYZE_KID_SUBSETS"
    )
    assert cfg.sources["cache_dir"] == "default"  # empty = unset


def test_yaml_is_read_safely_and_bad_files_are_usage_errors(tmp_path):
    write(tmp_path / "vptadvisor.yaml", "seed: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_config({}, cwd=tmp_path, env={})
    write(tmp_path / "vptadvisor.yaml", "gate: [unclosed\n")
    with pytest.raises(UsageError, match="line"):
        load_config({}, cwd=tmp_path, env={})
    write(tmp_path / "vptadvisor.yaml", "- a list\n")
    with pytest.raises(UsageError, match="mapping"):
        load_config({}, cwd=tmp_path, env={})
    write(tmp_path / "vptadvisor.yaml", "")
    assert load_config({}, cwd=tmp_path, env={}).file == tmp_path / "vptadvisor.yaml"
    with pytest.raises(UsageError, match="does not exist"):
        load_config({}, config=tmp_path / "missing.yaml", env={})
    write(tmp_path / "pyproject.toml", "[tool.vptadvisor\n")
    with pytest.raises(UsageError, match="TOML"):
        load_config({}, config=tmp_path / "pyproject.toml", env={})


def test_generic_analyze_section_follows_the_signature_of_analyze(tmp_path):
    import inspect

    from vptadvisor.analyze import analyze

    keys = {s.key for s in all_settings()}
    params = set(inspect.signature(analyze).parameters) - {"dataset", "progress"}
    top = {k for k in keys if "." not in k}
    assert {k.split(".", 1)[1] for k in keys if k.startswith("analyze.")} == params - top
    write(
        tmp_path / "vptadvisor.yaml",
        "dataset: d\nobjective: counting\nseed: 5\nanalyze:\n  batch_size: 8\n  cache: false\n",
    )
    cfg = load_config({"analyze.kid_subsets": 9}, cwd=tmp_path, env={})
    kwargs = analyze_kwargs(cfg)
    assert set(kwargs) <= params
    assert kwargs["batch_size"] == 8 and kwargs["cache"] is False and kwargs["kid_subsets"] == 9
    assert (
        kwargs["objective"] == "counting" and kwargs["seed"] == 5 and "resize" not in kwargs
    )  # unset: analyze's default
    inspect.signature(analyze).bind(cfg.dataset, **kwargs)  # every key is an argument analyze() accepts
    pk = pilot_kwargs(cfg)
    assert pk["seed"] == 5 and pk["arms"] == ["vpt-deep", "ft"] and pk["budget"] == "30m"


def test_config_show_prints_values_and_sources(tmp_path, capsys, monkeypatch):
    write(tmp_path / "vptadvisor.yaml", "objective: counting\ngate:\n  expect: vpt\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VPTADVISOR_SEED", "11")
    code, out, err = run_cli(["config", "show", "--format", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["file"] == str(tmp_path / "vptadvisor.yaml")
    s = doc["settings"]
    assert s["objective"] == {"value": "counting", "source": "file vptadvisor.yaml", "env": "VPTADVISOR_OBJECTIVE"}
    assert s["seed"]["value"] == 11 and s["seed"]["source"] == "environment VPTADVISOR_SEED"
    assert s["gate.min_confidence"] == {"value": 0.7, "source": "default", "env": "VPTADVISOR_GATE_MIN_CONFIDENCE"}
    assert "analyze.batch_size" in s
    code, out, _ = run_cli(["config", "show"], capsys)
    assert code == 0 and "gate.expect" in out and "file vptadvisor.yaml" in out and "VPTADVISOR_SEED" in out


def test_config_errors_exit_2_on_every_command(tmp_path, capsys, monkeypatch):
    write(tmp_path / "vptadvisor.yaml", "gate:\n  expct: vpt\n")
    monkeypatch.chdir(tmp_path)
    for args in (["config", "show"], ["check", "x"], ["analyze", "x"]):
        code, out, err = run_cli(args, capsys)
        assert code == 2, (args, err)
        assert err.startswith("error: ") and "gate.expct" in err and "Traceback" not in err and err.count("\n") == 1
