"""`vptadvisor study`: the published evidence, the fitted rule, and its leave-one-task-out record.

vptadvisor study [show]   the study table (default backbone; --backbone all for every row)
vptadvisor study fit      refit the rule from the table and write data/rule/vpt_ft_rule.json
vptadvisor study validate leave-one-task-out scores of the rule vs the baselines, per backbone, external tests
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Optional, cast

import typer
from rich.console import Console, JustifyMethod
from rich.table import Table

from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example
from vptadvisor.errors import GateFailed, UsageError

study_app = typer.Typer(
    help="The published FT-vs-VPT results behind the verdict, the fitted rule and its evidence.",
    short_help="The published evidence behind the rule, its fit and validation.",
    epilog=example("vptadvisor study", "vptadvisor study validate"),
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(study_app, name="study")

TABLE_OPT = typer.Option(None, "--table", help="Study table CSV (default: the shipped data/study/study_table.csv).")
WIDE_OPT = typer.Option(
    False, "--wide", help="Every column (group, evidence, FT and VPT accuracy, FID source); needs about 130 columns."
)


def _fmt(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"--format must be one of {', '.join(allowed)}, got {value!r}.")
    return value


def _out(width: int = 160) -> Console:
    """Results console on stdout: the terminal's width, or `width` when redirected."""
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else width)


def _acc(x: float) -> str:
    return f"{x:.2f}" if round(x, 1) != x else f"{x:.1f}"


@study_app.callback()
def study(ctx: typer.Context, wide: bool = WIDE_OPT) -> None:
    """With no subcommand: print the study table (same as `study show`)."""
    if ctx.invoked_subcommand is None:
        show(backbone="default", fmt="table", evidence="all", table=None, wide=wide)


@study_app.command(
    "show",
    short_help="Print the study table (one row per task, size, backbone).",
    epilog=example("vptadvisor study show --backbone all --wide", "vptadvisor study show --format csv > study.csv"),
)
def show(
    backbone: str = typer.Option("default", "--backbone", help="default, all, or a backbone key (e.g. vit-b16-mae)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    evidence: str = typer.Option(
        "all", "--evidence", help="all, fit, one-shot or external (the VPT paper's runs, never fitted)."
    ),
    table: Optional[Path] = TABLE_OPT,
    wide: bool = WIDE_OPT,
) -> None:
    """Print the study table: one row per (task, training images, backbone, evidence), with sources.

    The default table fits 80 columns (task, disparity, training images, VPT - FT, winner, FID);
    --wide adds the rest, --format csv gives every field."""
    _fmt(fmt, ("table", "json", "csv"))  # usage errors before the imports
    from vptadvisor.rule.fit import CAVEATS
    from vptadvisor.study.table import BACKBONE_LABELS, DEFAULT_BACKBONE, EVIDENCE, load_table, rows_to_csv

    if evidence != "all" and evidence not in EVIDENCE:
        raise UsageError(f"--evidence must be all or one of {', '.join(EVIDENCE)}, got {evidence!r}.")
    rows = load_table(table)
    if evidence != "all":
        rows = [r for r in rows if r.evidence == evidence]
    if backbone == "default":
        backbone = DEFAULT_BACKBONE
    if backbone != "all":
        if backbone not in BACKBONE_LABELS:
            raise UsageError(
                f"unknown backbone {backbone!r}: use default, all, or one of {', '.join(BACKBONE_LABELS)}."
            )
        rows = [r for r in rows if r.backbone == backbone]
    if fmt == "csv":
        typer.echo(rows_to_csv(rows), nl=False)
        return
    if fmt == "json":
        typer.echo(json.dumps({"rows": [vars(r) for r in rows], "n_rows": len(rows), "caveats": CAVEATS}, indent=2))
        return
    out = _out(160 if wide else 80)
    keys = sorted({r.backbone for r in rows}, key=list(BACKBONE_LABELS).index)
    title = BACKBONE_LABELS[keys[0]] if len(keys) == 1 else "all backbones"
    t = Table(title=f"Published FT vs VPT test accuracy, {title} ({len(rows)} rows)")
    many = len(keys) > 1
    cols = [("task", "left")] + ([("group", "left")] if wide else []) + [("disparity", "left")]
    cols += ([("backbone", "left")] if many else []) + ([("evidence", "left")] if wide else [])
    cols += [("images", "right")] + ([("FT", "right"), ("VPT", "right")] if wide else [])
    cols += [("VPT-FT", "right"), ("winner", "left"), ("FID", "right")] + ([("FID source", "left")] if wide else [])
    for col, just in cols:
        t.add_column(col, justify=cast(JustifyMethod, just), no_wrap=wide)
    for r in rows:
        style = "green" if r.winner == "vpt" else "red" if r.winner == "ft" else "yellow"
        task = r.task if wide or r.evidence == "fit" else f"{r.task} ({r.evidence})"
        cells = [task] + ([r.group] if wide else []) + [r.disparity] + ([r.backbone] if many else [])
        cells += (
            ([r.evidence] if wide else []) + [f"{r.n_train:,}"] + ([_acc(r.ft_acc), _acc(r.vpt_acc)] if wide else [])
        )
        fid = f"{r.fid:.1f}" if wide or r.fid_source == "per-task" else f"{r.fid:.1f}*"
        cells += [f"[{style}]{r.margin:+.2f}[/]", r.winner, fid] + ([r.fid_source] if wide else [])
        t.add_row(*cells)
    out.print(t)
    if not wide and any(r.fid_source == "group-mean" for r in rows):
        out.print(
            "* FID: the mean of the task's VTAB group (group-mean); per-task FIDs are "
            "published only for FGVC. --wide shows every column."
        )
    by_size: dict[tuple[int, int, int], list[str]] = {}
    for r in rows:
        size = r.n_train if r.benchmark == "VTAB-1k" and r.evidence == "fit" else 10**9
        by_size.setdefault((keys.index(r.backbone), EVIDENCE.index(r.evidence), size), []).append(r.winner)
    for (k, e, n), winners in sorted(by_size.items()):
        where = {
            "one-shot": "VTAB-1k one-shot (one image per class)",
            "external": "VTAB-1k at 800 images, the VPT paper's own runs (external test, not fitted)",
        }.get(
            EVIDENCE[e], f"VTAB-1k at {n:,} training images" if n < 10**9 else "FGVC (full training sets, 1,020-21,536)"
        )
        out.print(
            f"{keys[k]}, {where}: VPT wins {winners.count('vpt')}, FT wins {winners.count('ft')}, "
            f"ties {winners.count('tie')}"
        )
    out.print("Sources: see the `source` column (`--format csv`) and data/study/README.md.")
    out.print("Caveats:")
    for c in CAVEATS:
        out.print(f"  - {c}")


@study_app.command(
    "fit",
    short_help="Refit the rule from the study table (bit for bit).",
    epilog=example("vptadvisor study fit --check"),
)
def fit(
    table: Optional[Path] = TABLE_OPT,
    out_path: Optional[Path] = typer.Option(
        None, "--out", help="Rule file to write (default: data/rule/vpt_ft_rule.json)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Do not write: exit 1 if the rule file differs from a fresh fit."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the path (table format)."),
) -> None:
    """Refit the rule from the study table; the file is reproducible bit for bit from the table."""
    _fmt(fmt, ("table", "json"))
    from vptadvisor.atomic import write_text
    from vptadvisor.rule.fit import build_rule, coef_summary, default_rule_path, rule_json, table_label
    from vptadvisor.study.table import load_table

    doc = build_rule(load_table(table), table_label(table))
    text = rule_json(doc)
    path = Path(out_path) if out_path is not None else default_rule_path()
    if check:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            raise GateFailed(f"rule file {path} is not what the table gives: run `vptadvisor study fit` and commit it.")
    else:
        write_text(path, text)
    if fmt == "json":
        typer.echo(text, nl=False)
        return
    out = _out()
    verb = "is up to date" if check else "written"
    if quiet:
        out.print(str(path))
        return
    out.print(f"rule {doc['rule_version']} {verb}: {path}")
    t = Table(title="Margin model (VPT - FT, points): posterior of the coefficients")
    for col in ("family", "term", "mean", "sd", "90% interval"):
        t.add_column(col, justify="left" if col in ("family", "term") else "right")
    for fam, term, mean, sd, lo, hi in coef_summary(doc):
        t.add_row(fam, term, f"{mean:+.2f}", f"{sd:.2f}", f"[{lo:+.2f}, {hi:+.2f}]")
    out.print(t)
    n = doc["noise"]
    sig = ", ".join(f"{k} {v['mean']:.2f}" for k, v in n["residual_sd"].items())
    out.print(
        f"task effect sd {n['task_sd']['mean']:.2f}; residual sd (Student-t scale) {sig}; "
        f"nu {n['nu']['mean']:.1f}; size scale exp({n['kappa']['mean']:+.3f} log2(n/800)); "
        f"VTAB task FID sd around its group mean {doc['fid']['within_group_sd']:g}"
    )
    s = doc["sampler"]
    out.print(
        f"Gibbs sampler: {s['n_iter']} iterations, {s['n_burn']} burn-in, thinned by {s['thin']} "
        f"({s['n_draws']} draws), seed {s['seed']}."
    )


def _ci(ci: list[float], pct: bool = False) -> str:
    return f"[{ci[0]:.1%}, {ci[1]:.1%}]" if pct else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


@study_app.command(
    "validate",
    short_help="Leave-one-task-out scores of the rule against baselines.",
    epilog=example("vptadvisor study validate", "vptadvisor study validate --format json > validate.json"),
)
def validate_cmd(
    table: Optional[Path] = TABLE_OPT,
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    rows: bool = typer.Option(False, "--rows", help="Also print the per-row leave-one-task-out forecasts."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Leave-one-task-out scores of the rule vs five baselines, per backbone, and on two external tests."""
    _fmt(fmt, ("table", "json"))
    from vptadvisor.rule.validate import validate
    from vptadvisor.study.table import load_table

    data = load_table(table)
    err = Console(stderr=True)
    status = (
        err.status("leave-one-task-out: refitting per held-out task...")
        if (err.is_terminal and not quiet)
        else nullcontext()
    )
    with status:
        report = validate(data)
    if fmt == "json":
        typer.echo(json.dumps(report, indent=2))
        return
    out = _out()
    t = Table(
        title=f"Leave-one-task-out, ViT-B/16 ImageNet-21k ({report['n_rows']} rows, {report['n_tasks']} tasks; "
        "90% task-bootstrap intervals)"
    )
    for col in ("method", "log loss", "sign accuracy", "Brier", "ECE", "margin MAE"):
        t.add_column(col, justify="left" if col == "method" else "right")
    for name, s in [("rule", report["rule"])] + list(report["baselines"].items()):
        ci = s["ci"]
        t.add_row(
            name,
            f"{s['log_loss']:.3f} {_ci(ci['log_loss'])}",
            f"{s['sign_accuracy']:.1%} {_ci(ci['sign_accuracy'], True)}",
            f"{s['brier']:.3f} {_ci(ci['brier'])}",
            f"{s['ece']:.3f} {_ci(ci['ece'])}",
            f"{s['margin_mae']:.2f}",
            style="bold" if name == "rule" else None,
        )
    out.print(t)
    out.print(report["statement"])
    d = Table(title="Rule minus baseline (paired task bootstrap, 90% interval)")
    for col in ("baseline", "log loss", "sign accuracy", "Brier"):
        d.add_column(col, justify="left" if col == "baseline" else "right")
    for name, diff in report["differences"].items():
        d.add_row(
            name,
            f"{diff['log_loss']['value']:+.3f} {_ci(diff['log_loss']['ci'])}",
            f"{diff['sign_accuracy']['value']:+.1%} {_ci(diff['sign_accuracy']['ci'], True)}",
            f"{diff['brier']['value']:+.3f} {_ci(diff['brier']['ci'])}",
        )
    out.print(d)
    b = Table(title="Per backbone family (leave-one-task-out on its rows)")
    for col in ("family", "rows", "log loss", "sign accuracy", "80% interval coverage"):
        b.add_column(col, justify="left" if col == "family" else "right")
    for fam, s in report["backbones"].items():
        b.add_row(
            fam,
            str(s["n_rows"]),
            f"{s['log_loss']:.3f}",
            f"{s['sign_accuracy']:.1%} {_ci(s['ci']['sign_accuracy'], True)}",
            f"{s['coverage80']:.0%}",
        )
    out.print(b)
    for name, e in report["external"].items():
        extra = f"; constant in-fold base rate {e['constant_log_loss']:.3f}" if "constant_log_loss" in e else ""
        if "task_held_out" in e:
            extra += f"; by the fold without the task: log loss {e['task_held_out']['log_loss']:.3f}"
        out.print(
            f"External test {name} ({e['n_rows']} rows, {e['scored']}): log loss {e['log_loss']:.3f}, "
            f"sign accuracy {e['sign_accuracy']:.1%}{extra}"
        )
    c = Table(
        title=f"Coverage of the {report['coverage']['level']:.0%} predictive interval by training-set size "
        f"({report['coverage']['rows']})"
    )
    for col in ("training images", "rows", "coverage", "90% interval"):
        c.add_column(col, justify="right")
    for band in report["coverage"]["bands"]:
        c.add_row(band["band"], str(band["n_rows"]), f"{band['coverage']:.0%}", _ci(band["ci"], True))
    out.print(c)
    cal = report["calibration"]
    r = Table(
        title=f"Reliability of the rule's P(VPT better) (equal-count bins; ECE {report['rule']['ece']:.3f}, "
        f"a perfectly calibrated forecaster would average {cal['ece_if_calibrated']:.3f} here)"
    )
    for col in ("forecasts", "rows", "mean forecast", "observed VPT wins"):
        r.add_column(col, justify="right")
    for x in cal["bins"]:
        r.add_row(f"{x['lo']:.2f}-{x['hi']:.2f}", str(x["n"]), f"{x['mean_p']:.2f}", f"{x['observed']:.2f}")
    out.print(r)
    dd = report["decisive"]
    out.print(
        f"Decisive forecasts (P(VPT) >= 0.7 or <= 0.3): {dd['n_decisive']} of {report['n_rows']} rows "
        f"({dd['share_decisive']:.0%}), right {dd['accuracy_when_decisive']:.1%} of the time."
    )
    if rows:
        pr = Table(title="Per-row leave-one-task-out forecasts")
        for col in ("task", "family", "evidence", "n_train", "margin", "predicted", "80% interval", "P(VPT)"):
            pr.add_column(col, justify="left" if col in ("task", "family", "evidence") else "right")
        for x in report["rows"]:
            lo, hi = x["interval80"]
            pr.add_row(
                x["task"],
                x["family"],
                x["evidence"],
                f"{x['n_train']:,}",
                f"{x['margin']:+.2f}",
                f"{x['pred_margin']:+.2f}",
                f"[{lo:+.1f}, {hi:+.1f}]",
                f"{x['p_vpt']:.2f}",
            )
        out.print(pr)
