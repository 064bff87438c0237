"""Rich rendering of an analyze result (stdout) and progress bars (stderr, terminals only)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table

from vptadvisor.results import CHOICE_TEXT, AnalyzeResult

MAX_SKIPPED_SHOWN = 20


@contextmanager
def progress_bar(description: str, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on stderr when it is a terminal and enabled; else no callback."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def render_analyze(result: AnalyzeResult, console: Console) -> None:
    ds, dist, timing = result.dataset, result.distance, result.timing
    table = Table(title=f"vptadvisor analyze — {ds.path}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("layout", ds.layout)
    table.add_row(
        "images",
        f"{ds.n_images} readable of {ds.n_files} listed ({len(ds.skipped)} skipped, {ds.n_ignored} other files ignored)",
    )
    per_class = ds.per_class
    if per_class:
        counts = sorted(per_class.values())
        table.add_row("classes", f"{ds.n_classes} ({counts[0]}–{counts[-1]} images per class)")
    for split, classes in ds.per_split.items():
        if split != "all":
            table.add_row(f"split {split}", f"{sum(classes.values())} images, {len(classes)} classes")
    table.add_row("training images", str(ds.n_train))
    if ds.sizes:
        s = ds.sizes
        table.add_row(
            "sizes (w×h)",
            f"{s['min_width']}–{s['max_width']} × {s['min_height']}–{s['max_height']} "
            f"(median {s['median_width']:g}×{s['median_height']:g})",
        )
    table.add_row("modes", _fmt_counts(ds.modes))
    if ds.conversions:
        table.add_row("converted", _fmt_counts(ds.conversions))
    table.add_row("FID", f"[bold]{dist.fid:.2f}[/bold]")
    table.add_row("KID", f"{dist.kid:.5f} ± {dist.kid_std:.5f} ({dist.kid_subsets} subsets of {dist.kid_subset_size})")
    table.add_row("reference", f"{dist.reference} ({dist.n_reference} images)")
    table.add_row("features", f"{dist.network}, resize {dist.preprocessing}, weights from {dist.weights_source}")
    table.add_row(
        "time",
        f"{timing.seconds:.1f} s ({timing.n_computed} images computed, {timing.n_cached} from cache, {timing.device})",
    )
    console.print(table)
    console.print(f"[dim]{dist.note}[/dim]")
    if ds.skipped:
        skipped = Table(title=f"Skipped files ({len(ds.skipped)})", title_justify="left")
        skipped.add_column("path")
        skipped.add_column("reason")
        for item in ds.skipped[:MAX_SKIPPED_SHOWN]:
            skipped.add_row(item.path, item.reason)
        if len(ds.skipped) > MAX_SKIPPED_SHOWN:
            skipped.add_row(f"… {len(ds.skipped) - MAX_SKIPPED_SHOWN} more (see --format json)", "")
        console.print(skipped)
    render_verdict(result, console)


def render_verdict(result: AnalyzeResult, console: Console) -> None:
    v, obj = result.verdict, result.objective
    if v is None or obj is None:
        return
    lo, hi = v.margin_interval
    table = Table(title="Verdict", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    color = {"vpt": "green", "ft": "blue", "uncertain": "yellow"}[v.choice]
    table.add_row("choice", f"[bold {color}]{CHOICE_TEXT[v.choice]}[/bold {color}]")
    table.add_row("P(VPT better)", f"{v.p_vpt:.2f}")
    table.add_row("margin VPT − FT", f"{v.margin:+.1f} points ({v.interval_level:.0%} interval {lo:+.1f} to {hi:+.1f})")
    inputs = v.inputs
    table.add_row(
        "inputs",
        f"FID {inputs['fid']:.1f}; P(high objective disparity) {obj.p_high_disparity:.2f} "
        f"({obj.source}); {inputs['n_train']} training images ({v.n_train_source})",
    )
    if obj.note:
        table.add_row("objective", obj.note)
    pushes = ", ".join(f"{k} {val:+.1f}" for k, val in v.contributions.items())
    table.add_row("why", f"margin {v.reference_margin:+.1f} for a typical task, then {pushes} points")
    nearest = "; ".join(
        f"{t['task']} ({t['n_train']} imgs: {t['winner']}, {t['margin']:+.1f})" for t in v.nearest_tasks
    )
    table.add_row("closest published", nearest)
    table.add_row("advice", v.advice)
    console.print(table)
    for note in v.notes:
        console.print(f"[dim]• {note}[/dim]")


def one_line(result: AnalyzeResult) -> str:
    d = result.distance
    line = (
        f"FID {d.fid:.2f}  KID {d.kid:.5f}±{d.kid_std:.5f}  n={d.n_images} vs {d.reference} (n={d.n_reference})"
        f"  skipped={len(result.dataset.skipped)}"
    )
    if result.verdict is not None:
        v = result.verdict
        line += f"  verdict={v.choice} P(VPT)={v.p_vpt:.2f} margin={v.margin:+.1f}"
    return line
