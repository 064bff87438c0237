"""Rich rendering of an analyze result (stdout) and progress bars (stderr, terminals only)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the result models (pydantic, numpy) are not needed for a progress bar
    from vptadvisor.results import AnalyzeResult

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
    if result.verdict is None:  # with a verdict, its notes say how the FID was put on the study's scale
        console.print(f"[dim]{dist.note}[/dim]", highlight=False)
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
    from vptadvisor.results import CHOICE_TEXT

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
    table.add_row("objective", objective_sentence(obj))
    table.add_row("why", why_sentence(v.reference_margin, v.contributions, inputs.get("n_train")))
    nearest = "; ".join(
        f"{t['task']} ({t['n_train']} imgs: {t['winner']}, {t['margin']:+.1f})" for t in v.nearest_tasks
    )
    table.add_row("closest published", nearest)
    table.add_row("advice", v.advice)
    console.print(table)
    for note in v.notes:
        console.print(f"[dim]• {note}[/dim]", highlight=False)


# The inputs of the rule, in words (the JSON and the report keep the keys and exact values).
_INPUT_WORDS = {
    "objective": "what your labels ask",
    "fid": "how far your images are from ImageNet",
    "n_train": "your number of training images",
    "backbone": "your backbone",
}


def why_sentence(reference_margin: float, contributions: dict[str, float], n_train: object = None) -> str:
    """The rule's Shapley split in plain words: the typical task's margin, then what each input adds."""

    def effect(key: str, value: float) -> str:
        what = _INPUT_WORDS.get(key, key.replace("_", " "))
        if key == "n_train" and isinstance(n_train, (int, float)):
            what = f"your {int(n_train):,} training images"
        verb = "add" if key == "n_train" and isinstance(n_train, (int, float)) else "adds"
        if value < 0:
            verb = "take" if verb == "add" else "takes"
            return f"{what} {verb} {abs(value):.1f} away"
        return f"{what} {verb} {value:.1f}"

    ahead = "VPT is ahead" if reference_margin >= 0 else "FT is ahead"
    parts = ", ".join(effect(k, val) for k, val in contributions.items())
    return f"{ahead} by {abs(reference_margin):.1f} accuracy points on a typical published task; on yours, {parts}."


def objective_sentence(obj: object) -> str:
    """What the labels ask, in one sentence with one conclusion (the probe's signals and its own
    wording stay in the JSON and the report)."""
    from vptadvisor.rule.predict import DISPARITY_CLEAR

    p = float(obj.p_high_disparity)  # type: ignore[attr-defined]
    source = getattr(obj, "source", "")
    if source != "probe":
        return str(getattr(obj, "note", "") or source)
    if p <= DISPARITY_CLEAR:
        reading = "like ImageNet's labels, they name what is shown (object, texture, scene): low disparity"
    elif p >= 1 - DISPARITY_CLEAR:
        reading = "unlike ImageNet's labels, they ask how many, where or which way round: high disparity"
    else:  # in the uncertain band: one conclusion, "mixed", not the two signals' readings side by side
        return (
            f"measured by the probe: mixed evidence (P(high) {p:.2f}), so the verdict weighs both cases; "
            "declare --objective if you know what the labels ask"
        )
    return f"measured by the probe: {reading} (P(high) {p:.2f})"


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
