"""`vptadvisor study`: the published evidence, the fitted rule, and its leave-one-task-out record.

    vptadvisor study [show]   the study table (default backbone; --backbone all for every row)
    vptadvisor study fit      refit the rule from the table and write data/rule/vpt_ft_rule.json
    vptadvisor study validate leave-one-task-out scores of the rule vs the baselines
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from vptadvisor.cli import app
from vptadvisor.errors import GateFailed, UsageError

study_app = typer.Typer(
    help="The published FT-vs-VPT results behind the verdict, the fitted rule and its evidence.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(study_app, name="study")

TABLE_OPT = typer.Option(None, "--table", help="Study table CSV (default: the shipped data/study/study_table.csv).")
SIGN_TARGET = 0.85
ECE_TARGET = 0.10


def _fmt(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"--format must be one of {', '.join(allowed)}, got {value!r}.")
    return value


def _out() -> Console:
    """Results console on stdout; wide when redirected so tables are not truncated."""
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)


def _acc(x: float) -> str:
    return f"{x:.2f}" if round(x, 1) != x else f"{x:.1f}"


@study_app.callback()
def study(ctx: typer.Context) -> None:
    """With no subcommand: print the study table (same as `study show`)."""
    if ctx.invoked_subcommand is None:
        show(backbone="default", fmt="table", table=None)


@study_app.command("show")
def show(
    backbone: str = typer.Option("default", "--backbone", help="default, all, or a backbone key (e.g. vit-b16-mae)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    table: Optional[Path] = TABLE_OPT,
) -> None:
    """Print the study table: one row per (task, training images, backbone), with sources."""
    from vptadvisor.rule.fit import CAVEATS
    from vptadvisor.study.table import BACKBONE_LABELS, DEFAULT_BACKBONE, load_table, rows_to_csv

    _fmt(fmt, ("table", "json", "csv"))
    rows = load_table(table)
    if backbone == "default":
        backbone = DEFAULT_BACKBONE
    if backbone != "all":
        if backbone not in BACKBONE_LABELS:
            raise UsageError(f"unknown backbone {backbone!r}: use default, all, or one of {', '.join(BACKBONE_LABELS)}.")
        rows = [r for r in rows if r.backbone == backbone]
    if fmt == "csv":
        typer.echo(rows_to_csv(rows), nl=False)
        return
    if fmt == "json":
        typer.echo(json.dumps({"rows": [vars(r) for r in rows], "n_rows": len(rows), "caveats": CAVEATS}, indent=2))
        return
    out = _out()
    keys = sorted({r.backbone for r in rows}, key=list(BACKBONE_LABELS).index)
    title = BACKBONE_LABELS[keys[0]] if len(keys) == 1 else "all backbones"
    t = Table(title=f"Published FT vs VPT test accuracy, {title} ({len(rows)} rows)")
    cols = [("task", "left"), ("group", "left"), ("disparity", "left")] + ([("backbone", "left")] if len(keys) > 1 else [])
    cols += [("n_train", "right"), ("FT", "right"), ("VPT", "right"), ("VPT-FT", "right"), ("winner", "left"),
             ("FID", "right"), ("FID source", "left")]
    for col, just in cols:
        t.add_column(col, justify=just, no_wrap=True)
    for r in rows:
        style = "green" if r.winner == "vpt" else "red" if r.winner == "ft" else "yellow"
        cells = [r.task, r.group, r.disparity] + ([r.backbone] if len(keys) > 1 else [])
        cells += [f"{r.n_train:,}", _acc(r.ft_acc), _acc(r.vpt_acc), f"[{style}]{r.margin:+.2f}[/]", r.winner,
                  f"{r.fid:.2f}", r.fid_source]
        t.add_row(*cells)
    out.print(t)
    by_size: dict[tuple[int, int], list[str]] = {}
    for r in rows:
        size = r.n_train if r.benchmark == "VTAB-1k" else 10**9
        by_size.setdefault((keys.index(r.backbone), size), []).append(r.winner)
    for (k, n), winners in sorted(by_size.items()):
        where = f"VTAB-1k at {n:,} training images" if n < 10**9 else "FGVC (full training sets, 1,020-21,536)"
        out.print(f"{keys[k]}, {where}: VPT wins {winners.count('vpt')}, FT wins {winners.count('ft')}, "
                  f"ties {winners.count('tie')}")
    out.print("Sources: see the `source` column (`--format csv`) and data/study/README.md.")
    out.print("Caveats:")
    for c in CAVEATS:
        out.print(f"  - {c}")


@study_app.command("fit")
def fit(
    table: Optional[Path] = TABLE_OPT,
    out_path: Optional[Path] = typer.Option(None, "--out", help="Rule file to write (default: data/rule/vpt_ft_rule.json)."),
    check: bool = typer.Option(False, "--check", help="Do not write: exit 1 if the rule file differs from a fresh fit."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the path (table format)."),
) -> None:
    """Refit the rule from the study table; the file is reproducible bit for bit from the table."""
    from vptadvisor.atomic import write_text
    from vptadvisor.rule.fit import build_rule, coef_summary, default_rule_path, rule_json, table_label
    from vptadvisor.study.table import load_table

    _fmt(fmt, ("table", "json"))
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
    for col in ("term", "mean", "sd", "90% interval"):
        t.add_column(col, justify="left" if col == "term" else "right")
    for term, mean, sd, lo, hi in coef_summary(doc):
        t.add_row(term, f"{mean:+.2f}", f"{sd:.2f}", f"[{lo:+.2f}, {hi:+.2f}]")
    out.print(t)
    n = doc["noise"]
    out.print(f"task effect sd {n['task_sd']:.2f}, residual sd {n['residual_sd']:.2f} points; "
              f"features: {doc['features']['fid']}, {doc['features']['log2_n']}")
    s = Table(title="Interaction search (leave-one-task-out log loss)")
    for col in ("terms", "LOTO log loss", "gain vs main", "1 SE", "chosen"):
        s.add_column(col)
    for c in doc["selection"]["candidates"]:
        gain = c.get("gain_vs_main")
        s.add_row(" + ".join(c["terms"][1:]), f"{c['loto_log_loss']:.4f}",
                  "" if gain is None else f"{gain:+.4f}", "" if gain is None else f"{c['se_gain']:.4f}",
                  "yes" if c["chosen"] else "")
    out.print(s)


@study_app.command("validate")
def validate_cmd(
    table: Optional[Path] = TABLE_OPT,
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    rows: bool = typer.Option(False, "--rows", help="Also print the per-row leave-one-task-out forecasts."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
) -> None:
    """Leave-one-task-out scores of the rule vs always-VPT, always-FT, size-only and the paper's rule."""
    from vptadvisor.rule.validate import validate
    from vptadvisor.study.table import load_table

    _fmt(fmt, ("table", "json"))
    data = load_table(table)
    err = Console(stderr=True)
    status = err.status("leave-one-task-out: refitting per held-out task...") if (err.is_terminal and not quiet) else nullcontext()
    with status:
        report = validate(data)
    if fmt == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    out = _out()
    t = Table(title=f"Leave-one-task-out ({report.n_rows} rows, {report.n_tasks} tasks; all rows of a task held out together)")
    for col in ("method", "sign accuracy", "Brier", "log loss", "margin MAE", "ECE"):
        t.add_column(col, justify="left" if col == "method" else "right")
    for name, s in [("rule", report.rule)] + list(report.baselines.items()):
        t.add_row(name, f"{s.sign_accuracy:.1%}", f"{s.brier:.3f}", f"{s.log_loss:.3f}", f"{s.margin_mae:.2f}",
                  f"{s.ece:.3f}", style="bold" if name == "rule" else None)
    out.print(t)
    out.print(report.statement())
    acc, ece = report.rule.sign_accuracy, report.rule.ece
    out.print(f"Targets: sign accuracy >= {SIGN_TARGET:.0%}: {'met' if acc >= SIGN_TARGET else 'NOT met'} ({acc:.1%}); "
              f"ECE <= {ECE_TARGET:.2f}: {'met' if ece <= ECE_TARGET else 'NOT met'} ({ece:.3f}).")
    out.print(f"Ceiling: no rule that sees only (disparity, FID, training images) can exceed "
              f"{report.ceiling_sign_accuracy:.1%} sign accuracy on these rows, even in-sample "
              f"(rows with identical inputs have different winners; {report.n_ties} ties count half).")
    d = report.decisive
    out.print(f"Decisive verdicts (P(VPT) >= 0.7 or <= 0.3): {d['n_decisive']} of {report.n_rows} rows "
              f"({d['share_decisive']:.0%}), right {d['accuracy_when_decisive']:.1%} of the time; the rest are "
              f"'too close to call'.")
    out.print("Interactions chosen across folds: " + "; ".join(f"{k or 'none'} x{v}" for k, v in report.selected_terms.items()))
    r = Table(title="Reliability of the rule's P(VPT better) (10 equal-width bins)")
    for col in ("P(VPT) bin", "rows", "mean forecast", "observed VPT wins"):
        r.add_column(col, justify="right")
    for b in report.reliability["rule"]:
        r.add_row(f"{b.lo:.1f}-{b.hi:.1f}", str(b.n), f"{b.mean_p:.2f}", f"{b.observed:.2f}")
    out.print(r)
    if rows:
        pr = Table(title="Per-row leave-one-task-out forecasts of the rule")
        for col in ("task", "n_train", "margin", "predicted", "sd", "P(VPT)"):
            pr.add_column(col, justify="left" if col == "task" else "right")
        for x in report.rows:
            pr.add_row(x["task"], f"{x['n_train']:,}", f"{x['margin']:+.2f}", f"{x['pred_margin']:+.2f}",
                       f"{x['pred_sd']:.2f}", f"{x['p_vpt']:.2f}")
        out.print(pr)
