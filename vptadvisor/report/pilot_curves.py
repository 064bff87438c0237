"""Learning curves of a pilot run, drawn from its typed result (vptadvisor.results.pilot, read from
result.json without torch): the run directory's curves.png and the report's figure are both this
picture (PNG bytes).
"""

from __future__ import annotations

from pathlib import Path

from vptadvisor.report.figure import png, subplots
from vptadvisor.results.pilot import PilotResult

COLOURS = {"vpt-deep": "#1a9850", "vpt-shallow": "#7570b3", "ft": "#d7301f"}


def _smooth(values: list[float], width: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= width:
            acc -= values[i - width]
        out.append(acc / min(i + 1, width))
    return out


def pilot_curves_png(pilot: PilotResult) -> bytes:
    """Training loss per step and validation accuracy against the arm's seconds, one colour per arm."""
    n_classes = len(pilot.split.get("classes") or []) or None
    fig, (ax_loss, ax_acc) = subplots((11, 4.2), ncols=2)
    for name, arm in pilot.arms.items():
        colour = COLOURS.get(name)
        for cand in arm.candidates:  # the learning-rate search: dropped rates thin and dashed
            if cand.status != "winner" and cand.losses:
                ax_loss.plot(range(len(cand.losses)), cand.losses, color=colour, ls="--", lw=0.8, alpha=0.5)
        curve = arm.curve
        train = curve.get("train") or []
        if train:
            steps = [s for s, _ in train]
            losses = [v for _, v in train]
            ax_loss.plot(steps, losses, color=colour, alpha=0.25, lw=0.8)
            lr = arm.lr
            ax_loss.plot(
                steps,
                _smooth(losses, max(1, len(losses) // 20)),
                color=colour,
                lw=1.8,
                label=f"{name} (lr {lr:.3g})" if lr is not None else name,
            )
        val = curve.get("val") or []
        if val:
            secs = [row[1] for row in val]
            accs = [row[2] for row in val]
            best = arm.val_accuracy
            ax_acc.plot(
                secs, accs, "o-", color=colour, lw=1.8, label=f"{name}: best {best:.3f}" if best is not None else name
            )
            interval = arm.val_accuracy_interval
            if best is not None and interval:
                at = next((row[1] for row in val if row[0] == arm.best_step), secs[-1])
                ax_acc.errorbar(
                    [at],
                    [best],
                    yerr=[[max(0.0, best - interval[0])], [max(0.0, interval[1] - best)]],
                    color=colour,
                    capsize=4,
                    lw=1.2,
                )
        if arm.share_seconds:
            ax_acc.axvline(arm.share_seconds, color=colour, ls=":", lw=1)
    if n_classes:
        ax_acc.axhline(1.0 / n_classes, color="grey", ls="--", lw=1, label=f"chance ({1.0 / n_classes:.2f})")
    ax_loss.set_xlabel("training step (dashed: learning rates the search dropped)")
    ax_loss.set_ylabel("training loss (before the update)")
    every = [v for arm in pilot.arms.values() for c in arm.candidates for v in c.losses if v > 0]
    if every and max(every) / min(every) > 20:  # a dropped rate's huge losses: log scale keeps the rest readable
        ax_loss.set_yscale("log")
    ax_loss.set_title("Training loss (light: per step, dark: smoothed)", fontsize=10)
    ax_acc.set_xlabel("seconds into the arm (dotted: the arm's share of the budget)")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_ylim(0, 1)
    ax_acc.set_title("Validation accuracy (bar: 95% interval of the best)", fontsize=10)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    title = f"Pilot on {Path(pilot.dataset).name} with {pilot.backbone}"
    d = pilot.difference
    if d is not None:
        lo, hi = d.interval
        title += (
            f": {d.vpt_arm} - ft = {100 * d.margin:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}], "
            f"McNemar p = {d.mcnemar_p:.2g}"
        )
    fig.suptitle(title, fontsize=10.5)
    fig.tight_layout()
    return png(fig)
