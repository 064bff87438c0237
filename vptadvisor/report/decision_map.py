"""The decision map and the size curve: where a dataset sits among the published tasks (PNG bytes).

Decision map: FID (x) against task-objective disparity (y, P(high disparity)) at the user's
training-set size. The shading and lines are the loaded rule's P(VPT better):

    P(fid, p) = (1 - p) Phi(mu_low(fid, n) / s_low(fid, n)) + p Phi(mu_high(fid, n) / s_high(fid, n))

(the mixture of `vptadvisor.rule.predict`), with its 0.5 contour (solid) and the verdict thresholds
(dashed, 0.3 and 0.7 in the shipped rule). The study's disparity is binary, so its tasks are drawn in
two strips outside [0, 1]: low disparity below, high above, where the shading continues with p = 0
and p = 1. VTAB-1k tasks only have their group's mean FID (data/study/README.md), so each group is
stacked in a column at that FID and labelled as a group mean; FGVC tasks have their own FID.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vptadvisor.report.figure import png, subplots
from vptadvisor.results import CHOICE_NAME, AnalyzeResult
from vptadvisor.rule import Rule

VPT_COLOUR, FT_COLOUR, TIE_COLOUR, USER_COLOUR = "#1a9850", "#d7301f", "#707070", "#3f007d"
ZONE_COLOURS = ("#fbd3c4", "#f2f2f2", "#f2f2f2", "#cfeccf")  # FT zone, close call (two bands), VPT zone
STRIP = 0.055  # height of one stacked study task in the strips, in units of P(high disparity)
WINNER_STYLE = {"vpt": ("^", VPT_COLOUR, "VPT won"), "ft": ("v", FT_COLOUR, "FT won"), "tie": ("D", TIE_COLOUR, "tie")}


def p_vpt_grid(rule: Rule, n_train: float, fids: np.ndarray, ps: np.ndarray, fid_sd: float = 0.0) -> np.ndarray:
    """P(VPT better) on a grid: rows are values of P(high disparity) `ps`, columns FIDs."""
    ps = np.clip(np.asarray(ps, dtype=np.float64), 0.0, 1.0)[:, None]
    return rule.p_vpt(np.asarray(fids, dtype=np.float64)[None, :], ps, n_train, fid_sd)


def p_vpt_by_size(rule: Rule, fid: float, p_high: float, sizes: np.ndarray, fid_sd: float = 0.0) -> np.ndarray:
    return rule.p_vpt(fid, p_high, np.asarray(sizes), fid_sd)


def user_point(result: AnalyzeResult) -> tuple[float, float, float, int]:
    """The dataset's rule inputs from its verdict: (FID, FID sd, P(high disparity), training images)."""
    inputs = result.require_verdict().inputs
    return (
        float(inputs["fid"]),
        float(inputs.get("fid_sd") or 0.0),
        float(inputs["p_high_disparity"]),
        int(inputs["n_train"]),
    )


def crossings(
    rule: Rule, fid: float, p_high: float, fid_sd: float = 0.0, levels: tuple[float, ...] = (0.7, 0.5, 0.3)
) -> dict[float, int | None]:
    """Training-set sizes (100 to 1,000,000) where P(VPT better) crosses each level (None: no crossing)."""
    sizes = np.geomspace(100, 1_000_000, 400)
    p = p_vpt_by_size(rule, fid, p_high, sizes, fid_sd)
    out: dict[float, int | None] = {}
    for level in levels:
        idx = np.nonzero(np.diff(np.sign(p - level)) != 0)[0]
        if len(idx) == 0:
            out[level] = None
            continue
        i = int(idx[0])
        t = (level - p[i]) / (p[i + 1] - p[i])
        out[level] = int(round(float(np.exp(np.log(sizes[i]) + t * (np.log(sizes[i + 1]) - np.log(sizes[i]))))))
    return out


def study_rows_near(rule: Rule, n_train: int) -> tuple[list[dict[str, Any]], int]:
    """The rule's evidence rows to draw: VTAB-1k at the study size closest to `n_train` (in log
    scale), and every FGVC task (one size each). Returns (rows, VTAB size)."""
    rows = rule.doc["evidence_rows"]
    vtab_sizes = sorted({r["n_train"] for r in rows if r["group"] != "FGVC"})
    size = min(vtab_sizes, key=lambda s: (abs(math.log2(s) - math.log2(max(n_train, 1))), s))
    return [r for r in rows if r["group"] == "FGVC" or r["n_train"] == size], size


def _short(task: str) -> str:
    return task.replace("Stanford", "").replace("Oxford", "").split("-")[0]


def _k(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def _thresholds(rule: Rule) -> tuple[float, float]:
    d = rule.decision
    return float(d["ft_if_p_at_most"]), float(d["vpt_if_p_at_least"])


def decision_map_png(result: AnalyzeResult, rule: Rule) -> bytes:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    v = result.require_verdict()
    fid, fid_sd, p_user, n = user_point(result)
    lo_t, hi_t = _thresholds(rule)
    rows, vtab_size = study_rows_near(rule, n)
    xs_all = [r["fid"] for r in rows] + [fid - 2 * fid_sd, fid + 2 * fid_sd]
    x0, x1 = min(xs_all) - 18, max(xs_all) + 18
    low_stack = max(
        sum(1 for r in rows if r["group"] == g) for g in {r["group"] for r in rows if r["disparity"] == "low"}
    )
    high_stack = max([sum(1 for r in rows if r["disparity"] == "high")] + [1])
    y0, y1 = -STRIP * (low_stack + 2.0), 1 + STRIP * (high_stack + 2.0)

    fids = np.linspace(x0, x1, 240)
    ys = np.linspace(y0, y1, 200)
    grid = p_vpt_grid(rule, n, fids, ys)
    fig, ax = subplots(figsize=(10, 7.2))
    ax.contourf(fids, ys, grid, levels=[0, lo_t, 0.5, hi_t, 1.0], colors=ZONE_COLOURS, alpha=0.9)
    ax.contour(fids, ys, grid, levels=[0.5], colors="black", linewidths=1.8)
    ax.contour(fids, ys, grid, levels=[lo_t, hi_t], colors="black", linewidths=1.0, linestyles="--")
    for y in (0.0, 1.0):
        ax.axhline(y, color="#555555", lw=0.8)

    # study tasks: stacked per FID column (VTAB groups share their group-mean FID)
    columns: dict[tuple[float, str], list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: r["task"]):
        columns.setdefault((r["fid"], r["disparity"]), []).append(r)
    fid_per_inch = (x1 - x0) / 6.6
    box = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8}
    placed: list[tuple[float, float, int, str]] = []  # (left, right, row, disparity) of single-task labels
    for (x, disparity), members in sorted(columns.items()):
        sign, base = (-1, 0.0) if disparity == "low" else (1, 1.0)
        for i, r in enumerate(members):
            marker, colour, _ = WINNER_STYLE[r["winner"]]
            ax.scatter(
                [x],
                [base + sign * STRIP * (i + 1)],
                marker=marker,
                s=70,
                c=colour,
                edgecolors="black",
                linewidths=0.6,
                zorder=4,
            )
        first = members[0]
        if first["fid_source"] == "group-mean":  # a label under (over) the column, kept inside the axes
            half = 45 * 7.5 * 0.55 / 72 * fid_per_inch / 2
            ax.text(
                min(max(x, x0 + half), x1 - half),
                base + sign * STRIP * (len(members) + 1.2),
                f"{first['group']}: {len(members)} tasks at the group-mean FID {x:.1f}",
                ha="center",
                va="center",
                fontsize=7.5,
                color="#222222",
                bbox=box,
                zorder=3,
            )
            continue
        label = f"{_short(first['task'])} ({_k(first['n_train'])})"
        half = len(label) * 7 * 0.6 / 72 * fid_per_inch / 2 + 0.5
        row = 0
        while any(d == disparity and k == row and lft < x + half and x - half < rgt for lft, rgt, k, d in placed):
            row += 1
        placed.append((x - half, x + half, row, disparity))
        y_text = base + sign * STRIP * (1.8 + 0.9 * row)
        ax.text(x, y_text, label, ha="center", va="center", fontsize=7, color="#222222", bbox=box, zorder=3)
        if row:
            ax.plot([x, x], [base + sign * STRIP * 1.3, y_text - sign * STRIP * 0.3], color="#777777", lw=0.6, zorder=2)

    # the user's dataset
    if fid_sd > 0:
        ax.errorbar([fid], [p_user], xerr=[[2 * fid_sd], [2 * fid_sd]], color=USER_COLOUR, capsize=4, lw=1.4, zorder=5)
    ax.scatter([fid], [p_user], marker="*", s=420, c="#ffd92f", edgecolors=USER_COLOUR, linewidths=1.6, zorder=6)
    name = result.dataset.path.rstrip("/").split("/")[-1] or "your dataset"
    choice = CHOICE_NAME.get(v.choice, v.choice)
    ax.annotate(
        f"{name}: {choice}\nFID {fid:.1f}, P(high) {p_user:.2f}\nP(VPT better) {v.p_vpt:.2f}",
        (fid, p_user),
        xytext=(fid + (0.07 if fid < (x0 + x1) / 2 else -0.25) * (x1 - x0), p_user + (0.28 if p_user < 0.5 else -0.28)),
        fontsize=9,
        fontweight="bold",
        color=USER_COLOUR,
        arrowprops={"arrowstyle": "->", "color": USER_COLOUR},
        bbox={"boxstyle": "round", "fc": "white", "ec": USER_COLOUR, "alpha": 0.9},
        zorder=7,
    )

    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_yticks(
        [y0 / 2, 0, 0.25, 0.5, 0.75, 1.0, (1 + y1) / 2],
        ["study tasks:\nlow disparity", "0 (low)", "0.25", "0.5", "0.75", "1 (high)", "study tasks:\nhigh disparity"],
    )
    ax.set_xlabel("FID to the pretraining data (study scale, 1,000 images)")
    ax.set_ylabel("task-objective disparity: P(high)")
    handles: list[Any] = [
        Line2D([], [], marker=m, ls="", color=c, markeredgecolor="black", markersize=8, label=lab)
        for m, c, lab in WINNER_STYLE.values()
    ]
    handles += [
        Line2D(
            [],
            [],
            marker="*",
            ls="",
            color="#ffd92f",
            markeredgecolor=USER_COLOUR,
            markersize=15,
            label="your dataset (±2 sd of FID)" if fid_sd > 0 else "your dataset",
        ),
        Line2D([], [], color="black", lw=1.8, label="boundary: P(VPT better) = 0.5"),
        Line2D([], [], color="black", lw=1.0, ls="--", label=f"verdict thresholds {lo_t:g} / {hi_t:g}"),
        Patch(color=ZONE_COLOURS[3], label=f"VPT (P >= {hi_t:g})"),
        Patch(color=ZONE_COLOURS[1], label="too close to call"),
        Patch(color=ZONE_COLOURS[0], label=f"FT (P <= {lo_t:g})"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5, frameon=False)
    ax.set_title(f"Decision map at {n:,} training images (rule {rule.rule_version})", fontsize=11)
    fig.text(
        0.01,
        0.01,
        f"Study tasks: VTAB-1k at {vtab_size:,} training images (the study size closest to yours), "
        "FGVC at their full size. VTAB tasks only have their group's mean FID, so each group is stacked at it.\n"
        "Shading and lines: the rule at your training-set size; in the strips it continues with disparity 0 and 1.",
        fontsize=7.5,
        color="#333333",
        va="bottom",
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return png(fig)


def size_curve_png(result: AnalyzeResult, rule: Rule) -> bytes:
    """P(VPT better) against the number of training images, for the dataset's FID and objective."""
    v = result.require_verdict()
    fid, fid_sd, p_user, n = user_point(result)
    lo_t, hi_t = _thresholds(rule)
    sizes = np.unique(np.round(np.geomspace(100, 100_000, 160)).astype(int))
    curve = p_vpt_by_size(rule, fid, p_user, sizes, fid_sd)
    fig, ax = subplots(figsize=(8, 3.8))
    ax.axhspan(hi_t, 1, color=ZONE_COLOURS[3])
    ax.axhspan(lo_t, hi_t, color=ZONE_COLOURS[1])
    ax.axhspan(0, lo_t, color=ZONE_COLOURS[0])
    ax.plot(sizes, curve, color="black", lw=2, label="P(VPT better), your FID and objective")
    nlo, nhi = rule.doc["study_range"]["n_train"]
    ax.axvspan(sizes[0], nlo, color="white", alpha=0.55, hatch="//", ec="#bbbbbb", lw=0)
    ax.axvspan(
        nhi, sizes[-1], color="white", alpha=0.55, hatch="//", ec="#999999", lw=0, label="outside the study's sizes"
    )
    ax.axvline(n, color=USER_COLOUR, ls=":", lw=1.5)
    ax.scatter(
        [n],
        [v.p_vpt],
        marker="*",
        s=300,
        c="#ffd92f",
        edgecolors=USER_COLOUR,
        linewidths=1.5,
        zorder=5,
        label=f"your dataset: {n:,} images, P {v.p_vpt:.2f}",
    )
    for t in (lo_t, 0.5, hi_t):
        ax.axhline(t, color="black", lw=0.8, ls="-" if t == 0.5 else "--")
    ax.text(sizes[0] * 1.1, (hi_t + 1) / 2, "VPT", fontsize=9, va="center", color=VPT_COLOUR, fontweight="bold")
    ax.text(sizes[0] * 1.1, 0.5 + (hi_t - 0.5) / 2, "too close to call", fontsize=8, va="center", color="#444444")
    ax.text(sizes[0] * 1.1, lo_t / 2, "FT", fontsize=9, va="center", color=FT_COLOUR, fontweight="bold")
    ax.set_xscale("log")
    ax.set_xlim(sizes[0], sizes[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("training images (log scale)")
    ax.set_ylabel("P(VPT better)")
    ax.set_title("How the verdict changes with the training-set size", fontsize=11)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return png(fig)
