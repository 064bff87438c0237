"""The table of issue 10's cases: exit code, last stderr line, traceback yes/no, for the code on PYTHONPATH.

    PYTHONPATH=/path/to/checkout python tools/fault_table.py [--skip-pilot]

Runs every case as a user would (a subprocess of `python -m vptadvisor`) on 12 real DTD images
copied from ../shared into a temporary directory, and prints one Markdown row per case.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from faultkit import (
    copy_dtd,
    default_signals,
    make_reference,
    pilot_assets,
    pilot_cli_args,
    pilot_interrupted_run,
    tree_digest,
    wait_cpu,
)

T = 120


def run(args, env, cwd=None, timeout=T, stdout=subprocess.PIPE):
    try:
        p = subprocess.run(
            check=False,
            args=[sys.executable, "-m", "vptadvisor", *map(str, args)],
            env=env,
            cwd=cwd,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "timeout", f"still running after {timeout}s", False, ""
    return p.returncode, last_line(p.stderr), "Traceback" in p.stderr, p.stdout or ""


def last_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    return lines[-1][:110] if lines else ""


def interrupted(args, env, sig, cpu=3.0):
    proc = subprocess.Popen(
        [sys.executable, "-m", "vptadvisor", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )
    wait_cpu(proc, cpu)
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=T)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return "hang", f"still running {T}s after the signal (killed)", False, ""
    return proc.returncode, last_line(err), "Traceback" in err, out


def count(r) -> object:
    try:
        return json.loads(r[3])["dataset"]["n_images"]
    except (ValueError, KeyError, TypeError):
        return "-"


def main() -> None:
    skip_pilot = "--skip-pilot" in sys.argv
    tmp = Path(tempfile.mkdtemp(prefix="fault-table-"))
    env = dict(os.environ, VPTADVISOR_CACHE_DIR=str(tmp / "cache"), VPTADVISOR_OFFLINE="1", TORCH_HOME=str(tmp / "th"))
    ds = copy_dtd(tmp / "ds", classes=3, per_class=4)
    base = [ds, "--min-images", "2", "-q"]
    run(["analyze", *base], env)  # warm the cache
    rows = []

    def row(case, result, note=""):
        rc, msg, tb, _ = result
        rows.append(f"| {case} | {rc} | {msg.replace('|', '/')} | {'yes' if tb else 'no'} | {note} |")
        print(rows[-1], flush=True)

    fresh = dict(env, VPTADVISOR_CACHE_DIR=str(tmp / "cache-int"))
    row("Ctrl-C (SIGINT) during analyze", interrupted(["analyze", *base, "--no-cache"], fresh, signal.SIGINT))
    row(
        "SIGINT during check (gate that fails)",
        interrupted(["check", *base, "--expect", "ft", "--cache-dir", tmp / "c2"], env, signal.SIGINT),
    )
    row("SIGTERM during analyze", interrupted(["analyze", *base, "--no-cache"], fresh, signal.SIGTERM))
    row("SIGINT during study validate", interrupted(["study", "validate"], env, signal.SIGINT, cpu=2.0))
    out = tmp / "out"
    out.mkdir()
    real = out / "real.json"
    real.write_text("old")
    link = out / "link.json"
    link.symlink_to(real)
    r = run(["analyze", *base, "-o", link], env)
    row("-o through a symlink", r, f"link kept: {link.is_symlink()}, target written: {real.read_text() != 'old'}")
    fifo = out / "fifo"
    os.mkfifo(fifo)
    r = run(["analyze", *base, "-o", fifo], env, timeout=60)
    row("-o onto a FIFO", r, f"FIFO kept: {fifo.exists() and not fifo.is_file()}")
    full = out / "full"  # a private /dev/full: the old code replaced the node it wrote to
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    r = run(["analyze", *base, "-o", full], env)
    row("-o onto a character device (/dev/full's twin)", r, f"device kept: {full.is_char_device()}")
    r = run(["analyze", *base, "-o", "-"], env, cwd=out)
    row("-o - (stdout)", r, f"stdout holds JSON: {'schema' in r[3]}; file '-' made: {(out / '-').exists()}")
    ro = out / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes into a 0555 directory: use a read-only tmpfs
        mounted = (
            subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], check=False).returncode == 0
        )
        note = "read-only tmpfs" if mounted else "as root a 0555 directory is writable"
    else:
        ro.chmod(0o555)
        note = "mode 0555"
    row("-o into a read-only directory", run(["analyze", *base, "-o", ro / "x.json"], env), note)
    row("-o onto a directory", run(["analyze", *base, "-o", out], env))
    row("--report into a read-only directory", run(["analyze", *base, "--report", ro / "r.md"], env), note)
    if os.geteuid() == 0:
        subprocess.run(["umount", str(ro)], check=False)
    loop = copy_dtd(tmp / "loop1", classes=2, per_class=2)
    (loop / sorted(os.listdir(loop))[1] / "self").symlink_to(".")
    r = run(["analyze", loop, "--min-images", "2", "--format", "json"], env)
    n = count(r)
    row("loop `ln -s . class_1/self` (4 images)", r, f"images counted: {n}")
    (loop / min(os.listdir(loop)) / "loop").symlink_to("..")
    row("second loop `ln -s .. class_0/loop`", run(["analyze", loop, "--min-images", "2", "-q"], env, timeout=60))
    outside = copy_dtd(tmp / "outside", classes=1, per_class=3)
    esc = copy_dtd(tmp / "esc", classes=2, per_class=2)
    (esc / "stolen").symlink_to(outside / min(os.listdir(outside)))
    r = run(["analyze", esc, "--min-images", "2", "--format", "json"], env)
    n = count(r)
    row("link leaving the root (folder layout)", r, f"images counted: {n} (4 inside)")
    odd = copy_dtd(tmp / "odd", classes=2, per_class=3)
    src = next((odd / min(os.listdir(odd))).iterdir())
    os.rename(src, os.fsencode(src.parent) + b"/caf\xe9.jpg")
    row("file name not valid UTF-8", run(["analyze", odd, "--min-images", "2", "-q"], env))
    row("--seed -1", run(["analyze", *base, "--seed", "-1"], env))
    row("--batch-size 99999999999999999999", run(["analyze", *base, "--batch-size", "99999999999999999999"], env))
    row("--workers 100000", run(["analyze", *base, "--no-cache", "--workers", "100000"], env, timeout=90))
    mdir = tmp / "man"
    mdir.mkdir()
    for i, f in enumerate(sorted(p for p in ds.rglob("*.jpg"))[:10]):
        (mdir / f"{i}.jpg").write_bytes(f.read_bytes())
    man = mdir / "manifest.csv"
    man.write_text("path,label\n" + "".join(f"{i}.jpg,{'ab'[i % 2]}\n" for i in range(10)) + "0.jpg,a\n0.jpg,b\n")
    r = run(["analyze", man, "--min-images", "2", "--format", "json"], env)
    n = count(r)
    row("duplicate manifest rows (0.jpg thrice, 2 labels)", r, f"images counted: {n} (10 files)")
    man.write_bytes(b"path,label\n0.jpg,a\x00b\n1.jpg,b\n")
    row("manifest with a NUL byte", run(["analyze", man, "--min-images", "2", "-q"], env))
    man.write_text("path,label\n0.jpg," + "x" * (200 * 1024) + "\n1.jpg,b\n")
    row("manifest field over 128 KiB", run(["analyze", man, "--min-images", "2", "-q"], env))
    for kind in ("nan", "dims", "one-row"):
        ref = make_reference(tmp / f"ref-{kind}.safetensors", kind)
        row(f"reference with {kind}", run(["analyze", *base, "--reference", ref], env))
    bomb = tmp / "bomb.yaml"
    bomb.write_text(
        "pilot:\n  backbone_kwargs:\n    a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"    {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(8)
        )
    )
    row("YAML alias bomb: config show", run(["config", "show", "--config", bomb], env, timeout=30))
    p = subprocess.run(
        check=False,
        args=f"{sys.executable} -m vptadvisor analyze {ds} --min-images 2 -q >&-",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=T,
    )
    row("stdout closed (>&-)", (p.returncode, last_line(p.stderr), "Traceback" in p.stderr, ""))
    p = subprocess.run(
        check=False,
        args=f"{sys.executable} -m vptadvisor analyze {ds} --min-images 2 -q >/dev/full",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=T,
    )
    row("stdout full (>/dev/full)", (p.returncode, last_line(p.stderr), "Traceback" in p.stderr, ""))
    if not skip_pilot:
        data, weights = pilot_assets(tmp / "pilot")
        before = tree_digest(data)
        r = run(["pilot", ".", *pilot_cli_args(".", weights, None)[1:]], env, cwd=data, timeout=300)
        row("pilot from inside the dataset, default --out", r, f"dataset changed: {tree_digest(data) != before}")
        r = run(["pilot", data, *pilot_cli_args(data, weights, data / "runs" / "x")[1:]], env, timeout=300)
        row("pilot --out inside the dataset", r, f"dataset changed: {tree_digest(data) != before}")
        for case in ("changed", "pickle", "config"):
            data2, _ = pilot_assets(tmp / f"pilot-{case}")
            rd = pilot_interrupted_run(data2, weights, tmp / f"run-{case}", env)
            if case == "changed":
                victim = sorted((data2 / "class_2").iterdir())
                for f in victim:
                    f.unlink()
                (data2 / "class_2").rmdir()
            elif case == "pickle":
                import torch

                for f in (rd / "checkpoint").glob("*.pt"):
                    torch.save({"x": Fraction()}, f)
            else:
                cfg = json.loads((rd / "config.json").read_text())
                cfg["options"]["batch_size"] = "lots"
                (rd / "config.json").write_text(json.dumps(cfg))
            r = run(["pilot", "--resume", rd, "--format", "json", "--quiet"], env, timeout=300)
            row(f"pilot --resume: {case}", r)
    print("\n| case | exit | message (last stderr line) | traceback | note |\n|---|---|---|---|---|")
    print("\n".join(rows))


class Fraction:  # a picklable object that is not a tensor: torch.load(weights_only=True) must refuse it
    pass


if __name__ == "__main__":
    main()
