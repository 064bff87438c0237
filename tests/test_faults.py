"""Fault injection, as a user would meet it: every case runs `python -m vptadvisor` in a subprocess and
asserts the exit code, the one-line message, that no traceback was printed, and that the dataset's
bytes (names, modes, links, contents) did not change.

Exit codes (vptadvisor/cli/guard.py): 0 ok, 1 gate failed, 2 usage, 3 could not measure / write /
internal error, 130 interrupted (SIGINT), 143 terminated (SIGTERM). An interrupted or crashed run
never exits 0 or 1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from faultkit import (
    DTD,
    copy_dtd,
    default_signals,
    make_reference,
    pilot_assets,
    pilot_cli_args,
    pilot_interrupted_run,
    tree_digest,
    wait_cpu,
)

pytestmark = pytest.mark.skipif(
    not DTD.is_dir() and os.environ.get("CI") != "true", reason="needs the real images in ../shared/datasets/dtd-10"
)
TIMEOUT = 600  # wall seconds; generous: the suite must pass on a loaded shared machine


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("faults-env")
    return dict(
        os.environ,
        VPTADVISOR_CACHE_DIR=str(home / "cache"),
        TORCH_HOME=str(home / "torch"),
        VPTADVISOR_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )


@pytest.fixture(scope="module")
def ds(tmp_path_factory, env) -> Path:
    """12 real DTD images (3 classes); analysed once so later runs read the feature cache."""
    root = copy_dtd(tmp_path_factory.mktemp("faults-ds") / "ds", classes=3, per_class=4)
    r = cli(["analyze", root, "--min-images", "2", "-q"], env)
    assert r.code == 0, r.err
    return root


@pytest.fixture()
def untouched(ds):
    """The dataset's bytes must be the same after the test."""
    before = tree_digest(ds)
    yield ds
    assert tree_digest(ds) == before, "the dataset changed"


def cli(args, env, cwd=None, timeout=TIMEOUT, stdin=None) -> Result:
    p = subprocess.run(
        [sys.executable, "-m", "vptadvisor", *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=stdin,
        check=False,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def shell(line: str, env, timeout=TIMEOUT) -> Result:
    p = subprocess.run(line, shell=True, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return Result(p.returncode, p.stdout, p.stderr)


def clean(r: Result, code: int, *words: str) -> None:
    """Exit `code`, every word in stderr, no traceback, at most a couple of lines of stderr."""
    assert r.code == code, (r.code, r.err[-2000:])
    assert "Traceback" not in r.err, r.err
    for w in words:
        assert w.lower() in r.err.lower(), (w, r.err)
    assert len([x for x in r.err.splitlines() if x.strip()]) <= 3, r.err


def interrupt(args, env, sig=signal.SIGINT, cpu=3.0, group=False) -> Result:
    """Start a command, wait until it has done `cpu` seconds of work, then signal it (or its whole
    process group, as Ctrl-C in a terminal does)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vptadvisor", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=group,
        preexec_fn=default_signals,
    )
    try:
        wait_cpu(proc, cpu)
        os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    return Result(proc.returncode, out, err)


# --- 1. exit-code integrity: interruptions, terminations ----------------------------------------------


def test_sigint_during_analyze_exits_130(untouched, env):
    r = interrupt(["analyze", untouched, "--min-images", "2", "-q", "--no-cache"], env)
    clean(r, 130, "Interrupted.")
    assert r.out == ""


def test_ctrl_c_to_the_process_group_during_analyze_exits_130(untouched, env):
    r = interrupt(["analyze", untouched, "--min-images", "2", "-q", "--no-cache", "--workers", "2"], env, group=True)
    clean(r, 130, "Interrupted.")


def test_sigint_during_a_failing_check_never_passes(untouched, env, tmp_path):
    # the full run fails this gate (exit 1); interrupted, it must be 130, never 0
    r = interrupt(["check", untouched, "--min-images", "2", "-q", "--expect", "ft", "--cache-dir", tmp_path / "c"], env)
    clean(r, 130, "Interrupted.")
    assert r.out == ""


def test_sigterm_during_analyze_exits_143(untouched, env):
    r = interrupt(["analyze", untouched, "--min-images", "2", "-q", "--no-cache"], env, sig=signal.SIGTERM)
    clean(r, 143, "Terminated.")


def test_sigterm_during_check_exits_143(untouched, env, tmp_path):
    r = interrupt(
        ["check", untouched, "--min-images", "2", "-q", "--expect", "vpt", "--cache-dir", tmp_path / "c"],
        env,
        sig=signal.SIGTERM,
    )
    clean(r, 143, "Terminated.")


def test_sigint_during_reference_build_exits_130_and_writes_nothing(untouched, env, tmp_path):
    out = tmp_path / "ref.safetensors"
    r = interrupt(
        ["reference", "build", untouched, "--name", "x", "--min-images", "2", "--no-cache", "-o", out, "-q"], env
    )
    clean(r, 130, "Interrupted.")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_sigint_during_study_validate_exits_130(env):
    r = interrupt(["study", "validate"], env, cpu=2.0)
    clean(r, 130, "Interrupted.")


def test_sigint_during_probe_suite_exits_130(env):
    r = interrupt(["probe-suite", "--quick"], env, cpu=3.0)
    clean(r, 130, "Interrupted.")


@pytest.mark.slow
def test_sigint_and_sigterm_during_pilot(env, tmp_path):
    data, weights = pilot_assets(tmp_path / "p")
    before = tree_digest(data)
    pilot_interrupted_run(data, weights, tmp_path / "run", env)  # asserts 130 and a resumable checkpoint
    args = pilot_cli_args(data, weights, tmp_path / "run2", steps=400) + ["--checkpoint-every", "0"]
    r = interrupt(["pilot", *args], env, sig=signal.SIGTERM, cpu=4.0)
    clean(r, 143, "--resume")
    assert tree_digest(data) == before


# --- helpers for file-system faults -------------------------------------------------------------------


def _mount(target: Path, options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True, check=False
        ).returncode
        == 0
    )


@pytest.fixture()
def ro_dir(tmp_path):
    """A directory nobody can write to: a read-only tmpfs as root, else mode 0555."""
    d = tmp_path / "ro"
    if _mount(d, "ro,size=1m"):
        yield d
        subprocess.run(["umount", str(d)], check=False)
    elif os.geteuid() != 0:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
    else:
        pytest.skip("root without mount: no read-only directory to test with")


@pytest.fixture()
def full_dir(tmp_path):
    """A directory on a file system with no space left (a tiny tmpfs, filled)."""
    d = tmp_path / "full"
    if not _mount(d, "size=256k"):
        pytest.skip("needs root and tmpfs to simulate a full disk")
    try:
        with open(d / "filler", "wb") as fh:
            fh.write(b"\0" * (1 << 20))
    except OSError:
        pass
    yield d
    subprocess.run(["umount", str(d)], check=False)


def analysis(r: Result) -> dict:
    return json.loads(r.out)


def q(ds) -> list:
    return ["analyze", ds, "--min-images", "2", "-q"]


# --- 2. output writes -----------------------------------------------------------------------------------


def test_output_through_a_symlink_writes_the_target_and_keeps_the_link(untouched, env, tmp_path):
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old")
    link.symlink_to(real.name)
    clean(cli([*q(untouched), "-o", link], env), 0)
    assert link.is_symlink() and os.readlink(link) == real.name
    assert json.loads(real.read_text())["schema"] == "vptadvisor.analyze/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]  # nothing left beside


def test_output_through_a_dangling_symlink_creates_its_target(untouched, env, tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "sub" / "made.json")
    clean(cli([*q(untouched), "-o", link], env), 0)
    assert link.is_symlink() and json.loads((tmp_path / "sub" / "made.json").read_text())


def test_output_onto_a_fifo_is_refused_and_the_fifo_kept(untouched, env, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    clean(cli([*q(untouched), "-o", fifo], env), 2, "FIFO", str(fifo))
    assert fifo.exists() and not fifo.is_file()


def test_output_onto_a_device_is_refused_and_the_node_kept(untouched, env, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    import stat

    full = tmp_path / "full"  # a private twin of /dev/full: the old code replaced the node it wrote to
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    clean(cli([*q(untouched), "-o", full], env), 2, "device", str(full))
    assert full.is_char_device()


def test_output_through_a_link_to_a_device_is_refused(untouched, env, tmp_path):
    link = tmp_path / "null.json"
    link.symlink_to("/dev/null")
    clean(cli([*q(untouched), "-o", link], env), 2, "device", "/dev/null")
    assert link.is_symlink() and Path("/dev/null").is_char_device()


def test_output_dash_is_stdout(untouched, env, tmp_path):
    r = cli([*q(untouched), "-o", "-"], env, cwd=tmp_path)
    clean(r, 0)
    assert analysis(r)["schema"] == "vptadvisor.analyze/1" and not (tmp_path / "-").exists()


def test_output_onto_a_directory_is_refused(untouched, env, tmp_path):
    clean(cli([*q(untouched), "-o", tmp_path], env), 2, "is a directory", str(tmp_path))


def test_output_into_a_read_only_directory_is_refused(untouched, env, ro_dir):
    clean(cli([*q(untouched), "-o", ro_dir / "x.json"], env), 2, str(ro_dir), "not writable")


def test_output_onto_a_read_only_file_is_refused(untouched, env, tmp_path):
    target = tmp_path / "keep.json"
    target.write_text("keep")
    target.chmod(0o444)
    clean(cli([*q(untouched), "-o", target], env), 2, "read-only", str(target))
    assert target.read_text() == "keep"


def test_report_into_a_read_only_directory_is_refused(untouched, env, ro_dir):
    clean(cli([*q(untouched), "--report", ro_dir / "r.md"], env), 2, "--report", str(ro_dir))


def test_report_onto_a_directory_is_refused(untouched, env, tmp_path):
    (tmp_path / "r.html").mkdir()
    clean(cli([*q(untouched), "--report", tmp_path / "r.html"], env), 2, "is a directory")


def test_report_through_a_symlink_is_written_through(untouched, env, tmp_path):
    (tmp_path / "link.md").symlink_to("real.md")
    clean(cli([*q(untouched), "--report", tmp_path / "link.md"], env), 0)
    assert (tmp_path / "link.md").is_symlink() and (tmp_path / "real.md").read_text().startswith("#")


def test_result_on_a_full_disk_exits_3_and_keeps_the_old_file(untouched, env, full_dir):
    clean(cli([*q(untouched), "-o", full_dir / "r.json"], env), 3, "No space left", str(full_dir / "r.json"))
    assert sorted(p.name for p in full_dir.iterdir()) == ["filler"]  # no half-written or temporary file


def test_check_output_onto_a_fifo_is_refused(untouched, env, tmp_path):
    os.mkfifo(tmp_path / "f")
    clean(cli(["check", untouched, "--min-images", "2", "--expect", "vpt", "-o", tmp_path / "f"], env), 2, "FIFO")


def test_reference_build_output_dash_is_refused(untouched, env):
    clean(cli(["reference", "build", untouched, "--name", "x", "-o", "-"], env), 2, "file path")


def test_reference_build_output_onto_a_directory_is_refused(untouched, env, tmp_path):
    clean(cli(["reference", "build", untouched, "--name", "x", "-o", tmp_path], env), 2, "is a directory")


def test_reference_build_into_a_read_only_directory_is_refused(untouched, env, ro_dir):
    clean(cli(["reference", "build", untouched, "--name", "x", "-o", ro_dir / "x.safetensors"], env), 2, str(ro_dir))


def test_reference_build_on_a_full_disk_exits_3_leaving_nothing(untouched, env, full_dir):
    r = cli(
        ["reference", "build", untouched, "--name", "x", "--min-images", "2", "-o", full_dir / "x.safetensors", "-q"],
        env,
    )
    clean(r, 3, "No space left")
    assert sorted(p.name for p in full_dir.iterdir()) == ["filler"]


def test_cache_on_a_full_disk_still_measures(untouched, env, full_dir):
    r = cli([*q(untouched), "--cache-dir", full_dir / "cache"], env)
    clean(r, 0)
    assert "FID" in r.out


def test_cache_on_a_read_only_file_system_still_measures(untouched, env, ro_dir):
    r = cli([*q(untouched), "--cache-dir", ro_dir / "cache"], env)
    clean(r, 0)
    assert "FID" in r.out


def test_stdout_closed(untouched, env):
    clean(
        shell(f"{sys.executable} -m vptadvisor analyze {untouched} --min-images 2 -q >&-", env),
        2,
        "standard output is closed",
    )


def test_stdout_full(untouched, env):
    clean(
        shell(f"{sys.executable} -m vptadvisor analyze {untouched} --min-images 2 -q >/dev/full", env),
        3,
        "could not write the result to standard output",
        "No space left",
    )


def test_stdout_pipe_closed_by_the_reader(untouched, env):
    r_fd, w_fd = os.pipe()
    os.close(r_fd)  # the reader is gone before anything is written: EPIPE
    p = subprocess.run(
        [sys.executable, "-m", "vptadvisor", "analyze", str(untouched), "--min-images", "2", "-f", "json"],
        env=env,
        stdout=w_fd,
        stderr=subprocess.PIPE,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    os.close(w_fd)
    clean(Result(p.returncode, "", p.stderr), 3, "standard output", "Broken pipe")


# --- 3. dataset walking: links, loops, bounds, manifests --------------------------------------------------


@pytest.fixture()
def fresh(tmp_path) -> Path:
    """A copy of 12 images (3 classes) to add links and files to; the features come from the cache."""
    return copy_dtd(tmp_path / "d", classes=3, per_class=4)


def listed(r: Result) -> tuple[int, dict]:
    d = analysis(r)["dataset"]
    return d["n_images"], {s["path"]: s["reason"] for s in d["skipped"]}


def jq(ds) -> list:
    return ["analyze", ds, "--min-images", "2", "-f", "json"]


def test_link_to_its_own_folder_is_a_loop_skipped_and_listed(fresh, env):
    (fresh / "blotchy" / "self").symlink_to(".")
    before = tree_digest(fresh)
    r = cli(jq(fresh), env)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 12 and "loop" in skipped["blotchy/self"]
    assert tree_digest(fresh) == before


def test_two_loops_to_parents_never_hang(fresh, env):
    (fresh / "blotchy" / "self").symlink_to(".")
    (fresh / "banded" / "loop").symlink_to("..")
    (fresh / "braided" / "deep").mkdir()
    (fresh / "braided" / "deep" / "up").symlink_to("../..")
    r = cli(jq(fresh), env)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 12 and {"blotchy/self", "banded/loop", "braided/deep/up"} <= set(skipped)


def test_bind_mount_loop_is_found_by_device_and_inode(fresh, env):
    inner = fresh / "banded" / "again"
    inner.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "--bind", str(fresh), str(inner)], capture_output=True, check=False).returncode != 0
    ):
        pytest.skip("needs root and bind mounts")
    try:
        r = cli(jq(fresh), env)
    finally:
        subprocess.run(["umount", str(inner)], check=False)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 12 and "loop" in skipped["banded/again"]


def test_class_folder_linked_from_outside_the_root_is_skipped_and_listed(fresh, env, tmp_path):
    outside = copy_dtd(tmp_path / "outside", classes=4, per_class=2)
    (fresh / "stolen").symlink_to(outside / "bubbly")
    r = cli(jq(fresh), env)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 12 and "outside the dataset root" in skipped["stolen"]


def test_image_linked_from_outside_the_root_is_skipped_and_listed(fresh, env, tmp_path):
    outside = copy_dtd(tmp_path / "outside", classes=4, per_class=2)
    (fresh / "banded" / "x.jpg").symlink_to(next((outside / "bubbly").iterdir()))
    r = cli(jq(fresh), env)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 12 and "outside the dataset root" in skipped["banded/x.jpg"]


def test_links_inside_the_root_are_followed(fresh, env):
    (fresh / "banded" / "again.jpg").symlink_to(next((fresh / "blotchy").iterdir()))
    r = cli(jq(fresh), env)
    clean(r, 0)
    assert listed(r) == (13, {})


def test_broken_link_inside_the_root_is_listed(fresh, env):
    (fresh / "banded" / "gone.jpg").symlink_to("missing.jpg")
    r = cli(jq(fresh), env)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 12 and "cannot be read" in skipped["banded/gone.jpg"]


def test_split_layout_follows_the_same_link_policy(env, tmp_path):
    root = tmp_path / "s"
    copy_dtd(root / "train", classes=3, per_class=4)
    copy_dtd(root / "val", classes=3, per_class=1)
    (root / "train" / "banded" / "loop").symlink_to("../..")
    (root / "val" / "out").symlink_to(DTD / "banded")
    r = cli(jq(root), env)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 15 and "loop" in skipped["train/banded/loop"] and "outside" in skipped["val/out"]


def test_flat_layout_follows_the_same_link_policy(env, tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for f in sorted((DTD / "banded").iterdir())[:4]:
        shutil.copy2(f, root / f.name)
    (root / "out.jpg").symlink_to(next((DTD / "blotchy").iterdir()))
    r = cli(jq(root), env)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 4 and "outside" in skipped["out.jpg"]


def test_manifest_link_leaving_the_root_is_skipped_and_listed(env, tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    for i, f in enumerate(sorted((DTD / "banded").iterdir())[:4]):
        shutil.copy2(f, root / f"{i}.jpg")
    (root / "out.jpg").symlink_to(next((DTD / "blotchy").iterdir()))
    (root / "manifest.csv").write_text(
        "path,label\n" + "".join(f"{i}.jpg,{'ab'[i % 2]}\n" for i in range(4)) + "out.jpg,a\n"
    )
    r = cli(jq(root / "manifest.csv"), env)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 4 and "outside" in skipped["out.jpg"]


def test_dataset_of_links_leaving_the_root_is_refused(env, tmp_path):
    root = tmp_path / "links"
    root.mkdir()
    (root / "a").symlink_to(DTD / "banded")
    (root / "b").symlink_to(DTD / "blotchy")
    clean(cli(q(root), env), 2, "No images", "outside the dataset root")


def test_folders_nested_too_deep_are_skipped_and_listed(fresh, env):
    deep = fresh / "banded"
    for i in range(70):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    shutil.copy2(next((fresh / "blotchy").iterdir()), deep / "x.jpg")
    r = cli(jq(fresh), env)
    clean(r, 0)
    n, skipped = listed(r)
    assert n == 12 and any("deeper than" in why for why in skipped.values())


@pytest.fixture()
def manifest_dir(tmp_path) -> Path:
    root = tmp_path / "m"
    root.mkdir()
    for i, f in enumerate(sorted((DTD / "banded").iterdir())[:10]):
        shutil.copy2(f, root / f"{i}.jpg")
    return root


def test_duplicate_manifest_rows_are_an_error_naming_them(manifest_dir, env):
    m = manifest_dir / "manifest.csv"
    m.write_text("path,label\n" + "".join(f"{i}.jpg,{'ab'[i % 2]}\n" for i in range(10)) + "0.jpg,b\n./0.jpg,c\n")
    before = tree_digest(manifest_dir)
    clean(cli(q(m), env), 2, "more than once", "0.jpg", "lines 2, 12, 13", "list each image once")
    assert tree_digest(manifest_dir) == before


def test_duplicate_jsonl_rows_are_an_error(manifest_dir, env):
    m = manifest_dir / "manifest.jsonl"
    m.write_text(
        "".join(json.dumps({"path": f"{i}.jpg", "label": i % 2}) + "\n" for i in range(10))
        + json.dumps({"path": "3.jpg", "label": 1})
        + "\n"
    )
    clean(cli(q(m), env), 2, "more than once", "3.jpg")


@pytest.mark.parametrize(
    "content,words",
    [
        (b"path,label\n0.jpg,a\x00b\n1.jpg,b\n", ["NUL"]),
        (b"path,label\n0\x00.jpg,a\n1.jpg,b\n", ["NUL"]),
        (b"path,label\n0.jpg," + b"x" * (200 * 1024) + b"\n1.jpg,b\n", ["line 2", "KiB"]),
        (b"path,label\n0.jpg,a\n" + b"y" * (300 * 1024) + b".jpg,b\n", ["line 3", "KiB"]),
        (b"path,label\n../0.jpg,a\n", ["escapes the dataset root"]),
        (b"path,label\n/etc/passwd,a\n", ["relative"]),
        (b"path,label\n\xff\xfe.jpg,a\n", ["Cannot read manifest"]),
        (b"", ["header"]),
    ],
    ids=[
        "csv-nul-label",
        "csv-nul-path",
        "csv-field-200KiB",
        "csv-path-300KiB",
        "csv-dotdot",
        "csv-absolute",
        "csv-not-utf8",
        "csv-empty",
    ],
)
def test_bad_csv_manifests_exit_2(manifest_dir, env, content, words):
    m = manifest_dir / "manifest.csv"
    m.write_bytes(content)
    clean(cli(q(m), env), 2, *words)


@pytest.mark.parametrize(
    "line,words",
    [
        (json.dumps({"path": "0.jpg\u0000", "label": "a"}), ["NUL"]),
        (json.dumps({"path": "0.jpg", "label": "z" * (200 * 1024)}), ["KiB"]),
        ("{not json", ["not valid JSON"]),
        ("[1, 2]", ["not a JSON object"]),
    ],
    ids=["jsonl-nul", "jsonl-field-200KiB", "jsonl-broken", "jsonl-array"],
)
def test_bad_jsonl_manifests_exit_2(manifest_dir, env, line, words):
    m = manifest_dir / "manifest.jsonl"
    m.write_text(json.dumps({"path": "1.jpg", "label": "b"}) + "\n" + line + "\n")
    clean(cli(q(m), env), 2, *words)


def test_file_name_not_valid_utf8_is_measured(fresh, env):
    src = next((fresh / "banded").iterdir())
    os.rename(src, os.fsencode(src.parent) + b"/caf\xe9.jpg")
    before = tree_digest(fresh)
    r = cli(jq(fresh), env)
    clean(r, 0)
    assert listed(r)[0] == 12 and tree_digest(fresh) == before


# --- 4. settings out of range -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,words",
    [
        (["--seed", "-1"], ["--seed", "between 0 and"]),
        (["--seed", str(2**40)], ["--seed", "between 0 and"]),
        (["--batch-size", "99999999999999999999"], ["--batch-size", "between 1 and"]),
        (["--batch-size", "0"], ["--batch-size"]),
        (["--workers", "100000"], ["--workers", "between 0 and"]),
        (["--workers", "-1"], ["--workers"]),
        (["--kid-subsets", "0"], ["--kid-subsets"]),
        (["--train-size", "0"], ["--train-size"]),
        (["--min-images", "1"], ["--min-images"]),
    ],
    ids=[
        "seed-negative",
        "seed-2**40",
        "batch-huge",
        "batch-zero",
        "workers-100000",
        "workers-negative",
        "kid-subsets-zero",
        "train-size-zero",
        "min-images-1",
    ],
)
def test_out_of_range_settings_exit_2_quickly(untouched, env, args, words):
    r = cli([*q(untouched), "--no-cache", *args], env)
    clean(r, 2, *words)


@pytest.mark.parametrize(
    "args",
    [["--seed", "-1"], ["--workers", "100000"], ["--batch-size", "99999999999999999999"]],
    ids=["seed", "workers", "batch"],
)
def test_reference_build_bounds_its_settings(untouched, env, tmp_path, args):
    clean(
        cli(["reference", "build", untouched, "--name", "x", "-o", tmp_path / "x.safetensors", *args], env), 2, args[0]
    )
    assert not (tmp_path / "x.safetensors").exists()


def test_check_bounds_the_seed(untouched, env):
    clean(cli(["check", untouched, "--min-images", "2", "--expect", "vpt", "--seed", "-1"], env), 2, "--seed")


def test_seed_in_a_config_file_is_bounded_too(untouched, env, tmp_path):
    cfg = tmp_path / "vptadvisor.yaml"
    cfg.write_text("seed: -5\n")
    clean(cli([*q(untouched), "--config", cfg], env), 2, "seed")


# --- 5. reference contents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,words",
    [
        ("nan", ["non-finite"]),
        ("inf", ["non-finite"]),
        ("dims", ["shape", "2048"]),
        ("one-row", ["1 row"]),
        ("empty", ["0 row"]),
        ("mu-nan", ["'mu'", "non-finite"]),
        ("sigma-shape", ["'sigma'", "shape"]),
    ],
)
def test_bad_reference_contents_exit_2(untouched, env, tmp_path, kind, words):
    ref = make_reference(tmp_path / f"{kind}.safetensors", kind)
    clean(cli([*q(untouched), "--reference", ref], env), 2, "reference build", *words)


def test_reference_that_is_not_safetensors_exits_2(untouched, env, tmp_path):
    ref = tmp_path / "junk.safetensors"
    ref.write_bytes(b"\x80\x04\x95 not a safetensors file")
    clean(cli([*q(untouched), "--reference", ref], env), 2, "not a vptadvisor reference")


# --- 6. crashes, kills, concurrency -------------------------------------------------------------------------

CRASH = (
    "import importlib, sys; m = importlib.import_module('vptadvisor.analyze'); "
    "m.analyze = lambda *a, **k: [][1]; from vptadvisor.cli import main; main(sys.argv[1:])"
)


def test_internal_error_exits_3_with_a_log_not_a_traceback(untouched, env):
    p = subprocess.run(
        [sys.executable, "-c", CRASH, *map(str, q(untouched)), "--expect", "vpt"],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    r = Result(p.returncode, p.stdout, p.stderr)
    clean(r, 3, "internal error", "IndexError", "details in")
    log = Path(r.err.split("details in ")[1].split(")")[0])
    assert log.is_file() and "Traceback" in log.read_text() and "IndexError" in log.read_text()


def test_internal_error_with_debug_prints_the_traceback_and_still_exits_3(untouched, env):
    p = subprocess.run(
        [sys.executable, "-c", CRASH, *map(str, q(untouched))],
        env=dict(env, VPTADVISOR_DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert p.returncode == 3 and "Traceback" in p.stderr and "internal error" in p.stderr


def test_unwritable_cache_parent_for_the_crash_log_falls_back_to_tmp(untouched, env, ro_dir):
    p = subprocess.run(
        [sys.executable, "-c", CRASH, *map(str, q(untouched))],
        env=dict(env, VPTADVISOR_CACHE_DIR=str(ro_dir / "cache")),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    r = Result(p.returncode, p.stdout, p.stderr)
    clean(r, 3, "internal error", "details in")
    assert not r.err.split("details in ")[1].startswith(str(ro_dir))


@pytest.mark.slow
def test_kill_9_during_reference_build_then_a_rerun(env, tmp_path):
    data = copy_dtd(tmp_path / "imgs", classes=6, per_class=6)
    before = tree_digest(data)
    out = tmp_path / "refs" / "mine.safetensors"
    fresh_env = dict(env, VPTADVISOR_CACHE_DIR=str(tmp_path / "cache"))
    args = ["reference", "build", data, "--name", "mine", "--min-images", "2", "-o", out, "-q"]
    r = interrupt(args, fresh_env, sig=signal.SIGKILL, cpu=4.0)
    assert r.code == -signal.SIGKILL and not out.exists()
    r = cli(args, fresh_env)
    clean(r, 0)
    assert "36 images" in r.out and out.is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["mine.safetensors"] or all(
        p.name.endswith(".tmp") for p in out.parent.iterdir() if p != out
    )  # a killed write leaves only a hidden temp
    clean(cli([*q(data), "--reference", out], fresh_env), 0)
    assert tree_digest(data) == before


@pytest.mark.slow
def test_two_checks_at_once_on_one_cache_agree(env, tmp_path):
    data = copy_dtd(tmp_path / "d", classes=4, per_class=5)
    e = dict(env, VPTADVISOR_CACHE_DIR=str(tmp_path / "shared-cache"))
    args = [sys.executable, "-m", "vptadvisor", "check", str(data), "--min-images", "2", "--expect", "ft", "-f", "json"]
    procs = [subprocess.Popen(args, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [Result(p.wait(timeout=TIMEOUT), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    for r in results:
        clean(r, 1, "gate failed")
    a, b = (json.loads(r.out) for r in results)
    assert a["distance"] == b["distance"] and a["verdict"] == b["verdict"]
    clean(cli(["check", data, "--min-images", "2", "--expect", "ft", "-q"], e), 1, "gate failed")  # cache intact


# --- 7. the pilot and the config file: the behaviour the issue asks for ----------------------


def test_yaml_alias_bomb_in_backbone_kwargs_is_refused_quickly(env, tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ["pilot:", "  backbone_kwargs:", "    a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"    {cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    bomb.write_text("\n".join(lines) + "\n")
    r = cli(["config", "show", "--config", bomb], env, timeout=30)
    clean(r, 2, "alias")


@pytest.fixture(scope="module")
def pilot_kit(tmp_path_factory):
    return pilot_assets(tmp_path_factory.mktemp("pilot"))


@pytest.mark.slow
def test_pilot_default_run_dir_is_outside_the_dataset(env, pilot_kit):
    data, weights = pilot_kit
    before = tree_digest(data)
    r = cli(["pilot", *pilot_cli_args(".", weights, None)], env, cwd=data, timeout=600)
    clean(r, 0)
    assert tree_digest(data) == before


@pytest.mark.slow
def test_pilot_out_inside_the_dataset_is_refused(env, pilot_kit):
    data, weights = pilot_kit
    before = tree_digest(data)
    clean(cli(["pilot", *pilot_cli_args(data, weights, data / "runs" / "x")], env, timeout=600), 2, "inside")
    assert tree_digest(data) == before


@pytest.fixture()
def interrupted_pilot(env, pilot_kit, tmp_path):
    _, weights = pilot_kit
    data, _ = pilot_assets(tmp_path / "own")
    return data, pilot_interrupted_run(data, weights, tmp_path / "run", env)


@pytest.mark.slow
def test_pilot_resume_after_the_dataset_changed_says_what_changed(env, interrupted_pilot):
    data, run = interrupted_pilot
    shutil.rmtree(data / "class_2")
    clean(cli(["pilot", "--resume", run, "--format", "json", "--quiet"], env, timeout=600), 2, "changed")


@pytest.mark.slow
def test_pilot_resume_on_a_pickled_checkpoint_exits_2(env, interrupted_pilot):
    import torch

    _, run = interrupted_pilot
    for f in (run / "checkpoint").glob("*.pt"):
        torch.save({"x": Fraction(1, 3)}, f)  # a pickle that weights_only=True refuses
    r = cli(["pilot", "--resume", run, "--format", "json", "--quiet"], env, timeout=600)
    clean(r, 2, "checkpoint")
    assert "weights_only=False" not in r.err


@pytest.mark.slow
def test_pilot_resume_on_a_tampered_config_exits_2(env, interrupted_pilot):
    _, run = interrupted_pilot
    cfg = json.loads((run / "config.json").read_text())
    cfg["options"]["batch_size"] = "lots"
    (run / "config.json").write_text(json.dumps(cfg))
    clean(cli(["pilot", "--resume", run, "--format", "json", "--quiet"], env, timeout=600), 2, "config.json")
