"""The learning-curves figure of a pilot run (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from pathlib import Path

from vptadvisor.atomic import atomic_path
from vptadvisor.pilot.result import PilotResult

COLOURS = {"vpt-deep": "#1f77b4", "vpt-shallow": "#2ca02c", "ft": "#d62728"}


def _smooth(values: list[float], width: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= width:
            acc -= values[i - width]
        out.append(acc / min(i + 1, width))
    return out


def plot_curves(result: PilotResult, path: str | Path) -> Path:
    """Training loss per step (winning candidate, smoothed) and val accuracy against the arm's
    seconds, one colour per arm, chance level dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_classes = len(result.split.get("classes", [])) or 1
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for name, arm in result.arms.items():
        colour = COLOURS.get(name, None)
        for cand in arm.candidates:  # the learning-rate search: losers thin and dashed
            if cand.status != "winner" and cand.losses:
                ax_loss.plot(range(len(cand.losses)), cand.losses, color=colour, ls="--", lw=0.8, alpha=0.5)
        train = arm.curve["train"]
        if train:
            steps = [s for s, _ in train]
            losses = [v for _, v in train]
            width = max(1, len(losses) // 20)
            ax_loss.plot(steps, losses, color=colour, alpha=0.25, lw=0.8)
            ax_loss.plot(steps, _smooth(losses, width), color=colour, lw=1.8,
                         label=f"{name} (lr {arm.lr:.3g})" if arm.lr is not None else name)
        val = arm.curve["val"]
        if val:
            secs = [s for _, s, _ in val]
            accs = [a for _, _, a in val]
            label = f"{name}: best {arm.val_accuracy:.3f}" if arm.val_accuracy is not None else name
            ax_acc.plot(secs, accs, "o-", color=colour, lw=1.8, label=label)
            if arm.val_accuracy_interval:
                lo, hi = arm.val_accuracy_interval
                best_s = next((s for st, s, a in val if st == arm.best_step), secs[-1])
                ax_acc.errorbar([best_s], [arm.val_accuracy], yerr=[[max(0.0, arm.val_accuracy - lo)], [max(0.0, hi - arm.val_accuracy)]],
                                color=colour, capsize=4, lw=1.2)
            if arm.share_seconds:
                ax_acc.axvline(arm.share_seconds, color=colour, ls=":", lw=1)
    ax_acc.axhline(1.0 / n_classes, color="grey", ls="--", lw=1, label=f"chance ({1.0 / n_classes:.2f})")
    shares = [a.share_seconds for a in result.arms.values() if a.share_seconds]
    ax_acc.set_xlim(0, 1.03 * max(shares + [a.seconds for a in result.arms.values()] + [1.0]))
    ax_loss.set_xlabel("training step (dashed: learning rates the search dropped)")
    ax_loss.set_ylabel("training loss (before the update)")
    lo, hi = ax_loss.get_ylim()
    if lo > 0 and hi / lo > 20:  # a dropped learning rate's huge losses: log scale keeps the rest readable
        ax_loss.set_yscale("log")
    ax_loss.set_title("Training loss")
    ax_loss.legend(fontsize=8)
    ax_loss.grid(alpha=0.3)
    ax_acc.set_xlabel("seconds into the arm (dotted: the arm's share)")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_ylim(0, 1)
    ax_acc.set_title("Validation accuracy (bar: 95% interval of the best)")
    ax_acc.legend(fontsize=8, loc="lower right")
    ax_acc.grid(alpha=0.3)
    title = f"Pilot on {Path(result.dataset).name} with {result.backbone}"
    if result.difference is not None:
        d = result.difference
        title += (f" - {d.vpt_arm} minus ft: {d.margin:+.3f} [{d.interval[0]:+.3f}, {d.interval[1]:+.3f}],"
                  f" McNemar p={d.mcnemar_p:.2g}")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
