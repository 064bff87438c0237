"""Do the arms make different mistakes? (The unified PETL study's finding, on the user's data.)

All on the shared val split, from each arm's best evaluation:

- ``disagreement``: pair -> fraction of images where the two arms predict different classes;
  ``error_overlap``: pair -> |errors of both| / |errors of either| (Jaccard of the error sets).
- ``ensemble``: every 2- and 3-arm ensemble averages the arms' class probabilities; the best one
  is reported with its accuracy, its Wilson 95 % interval (scipy binomtest), and a paired
  comparison with the best single arm (bootstrap interval, exact McNemar p). ``beats_best_arm`` is
  true only when that McNemar p is below 0.05 divided by the number of ensembles tried
  (Bonferroni: the best of many ensembles is chosen on the same images, so it is optimistic)
  and the bootstrap interval is above zero. Only then does the advice name the ensemble.
- ``wise_ft``: the weight-space ensemble of full fine-tuning with the pretrained model (WiSE-FT,
  Wortsman et al. 2022): backbone theta_a = (1 - a) theta_0 + a theta_ft, a in {0, .25, .5, .75, 1};
  the head is interpolated the same way between the linear probe's head (when the linear arm ran;
  it is the head that fits theta_0) and the fine-tuned head, else the fine-tuned head is kept.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np
import torch

from vptadvisor.pilot.state import ArmState
from vptadvisor.pilot.stats import paired_difference, wilson_interval

WISE_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
ALPHA = 0.05


def _pair(a: str, b: str) -> str:
    return f"{a}+{b}"


def complementarity(arms: dict[str, ArmState], val_y: np.ndarray, seed: int) -> dict[str, Any] | None:
    scored = {n: a.best for n, a in arms.items() if a.best is not None}
    if len(scored) < 2:
        return None
    names = list(scored)
    preds = {n: np.asarray(b.preds) for n, b in scored.items() if b is not None}
    probs = {n: np.asarray(b.probs, dtype=np.float64) for n, b in scored.items() if b is not None}
    wrong = {n: p != val_y for n, p in preds.items()}
    n_val = len(val_y)
    disagreement, overlap = {}, {}
    for a, b in itertools.combinations(names, 2):
        disagreement[_pair(a, b)] = float(np.mean(preds[a] != preds[b]))
        either = int(np.sum(wrong[a] | wrong[b]))
        overlap[_pair(a, b)] = float(np.sum(wrong[a] & wrong[b]) / either) if either else 1.0
    best_arm = max(names, key=lambda n: (float(np.mean(~wrong[n])), -names.index(n)))
    tried: list[tuple[float, tuple[str, ...], np.ndarray]] = []
    for k in (2, 3):
        for members in itertools.combinations(names, k):
            p = np.mean([probs[m] for m in members], axis=0).argmax(axis=1)
            tried.append((float(np.mean(p == val_y)), members, p))
    acc, members, pred = max(tried, key=lambda t: (t[0], -len(t[1])))
    d = paired_difference(pred == val_y, ~wrong[best_arm], seed=seed)
    beats = d["interval"][0] > 0 and d["mcnemar_p"] < ALPHA / len(tried)
    correct = round(acc * n_val)
    return {
        "disagreement": disagreement,
        "error_overlap": overlap,
        "ensemble": {
            "members": list(members),
            "val_accuracy": acc,
            "ci": list(wilson_interval(correct, n_val)),
            "best_arm": best_arm,
            "best_arm_accuracy": float(np.mean(~wrong[best_arm])),
            "vs_best_arm": {"margin": d["margin"], "interval": d["interval"], "mcnemar_p": d["mcnemar_p"]},
            "ensembles_tried": len(tried),
            "beats_best_arm": bool(beats),
        },
        "advice": (
            f"ensemble {' + '.join(members)} (averaged probabilities) beats the best arm {best_arm} beyond "
            f"noise: {d['margin']:+.3f} [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}]"
        )
        if beats
        else (
            f"no ensemble beats the best arm {best_arm} beyond noise (best: {' + '.join(members)}, "
            f"{d['margin']:+.3f} [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}], McNemar p = "
            f"{d['mcnemar_p']:.3g}, {len(tried)} ensembles tried)"
        ),
        "wise_ft": None,
    }


@torch.no_grad()
def wise_ft(
    ctx: Any,
    ft_model_state: dict[str, torch.Tensor],
    linear_head: dict[str, torch.Tensor] | None,
    val_y: np.ndarray,
    known: dict[float, float],
    time_left: Any = None,
) -> list[dict[str, Any]]:
    """Accuracy (with Wilson interval) of the WiSE-FT interpolation at each alpha (module docstring).
    `known` holds accuracies already measured (alpha 1: ft's final evaluation; alpha 0: the linear
    arm's best evaluation when its head is used); `time_left()` (seconds, or None) lets a budgeted
    run skip the alphas an evaluation no longer fits in (reported with accuracy None)."""
    from vptadvisor.pilot.engine import predict_model
    from vptadvisor.pilot.vpt import PromptedViT

    assert ctx.pristine is not None
    theta0 = ctx.pristine
    theta1 = {k[len("backbone.") :]: v for k, v in ft_model_state.items() if k.startswith("backbone.")}
    head1 = {k[len("head.") :]: v for k, v in ft_model_state.items() if k.startswith("head.")}
    head0 = linear_head or head1
    model = PromptedViT(ctx.backbone, ctx.num_classes, seed=ctx.seed).to(ctx.device)
    model.readout_scale.fill_(ctx.readout_scale)
    n = len(val_y)
    acc: dict[float, float | None] = dict(known)
    t_eval = 0.0
    for a in sorted((a for a in WISE_ALPHAS if a not in known), key=lambda a: abs(a - 0.5)):
        left = time_left() if time_left is not None else None
        if left is not None and left < t_eval:
            acc[a] = None
            continue
        t = time.perf_counter()
        mixed = {
            k: ((1 - a) * theta0[k].float() + a * theta1[k].float()).to(theta0[k].dtype) if k in theta1 else theta0[k]
            for k in theta0
        }
        ctx.backbone.load_state_dict(mixed)
        model.head.load_state_dict({k: (1 - a) * head0[k] + a * head1[k] for k in head1})
        preds, _ = predict_model(ctx, model, _no_autocast)
        acc[a] = float(np.mean(preds == val_y))
        t_eval = max(t_eval, time.perf_counter() - t)
    ctx.backbone.load_state_dict(theta0)
    ctx.backbone_dirty = False
    return [
        {
            "alpha": a,
            "val_accuracy": acc.get(a),
            "ci": None if (v := acc.get(a)) is None else list(wilson_interval(round(v * n), n)),
            "measured": "reused" if a in known else ("skipped: no time left" if acc.get(a) is None else "evaluated"),
        }
        for a in WISE_ALPHAS
    ]


class _no_autocast:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def ranking(arms: dict[str, Any], val_y: np.ndarray, preds: dict[str, list[int]], seed: int) -> dict[str, Any] | None:
    """Arms ranked by accuracy per stored byte; the 'best per byte' is the smallest-storage arm that
    is not clearly worse than the most accurate arm (paired bootstrap interval of the difference
    includes zero or McNemar p >= 0.05)."""
    ok = {n: a for n, a in arms.items() if a.val_accuracy is not None and n in preds}
    if not ok:
        return None
    top = max(ok, key=lambda n: ok[n].val_accuracy)
    top_ok = np.asarray(preds[top]) == val_y
    rows = []
    for n, a in ok.items():
        row = {
            "arm": n,
            "val_accuracy": a.val_accuracy,
            "bytes_per_task": a.bytes_per_task,
            "accuracy_per_mb": a.val_accuracy / max(1e-9, a.bytes_per_task / 2**20),
        }
        if n != top:
            d = paired_difference(top_ok, np.asarray(preds[n]) == val_y, seed=seed)
            row["vs_most_accurate"] = {"margin": d["margin"], "interval": d["interval"], "mcnemar_p": d["mcnemar_p"]}
            row["clearly_worse"] = bool(d["interval"][0] > 0 and d["mcnemar_p"] < ALPHA)
        else:
            row["vs_most_accurate"], row["clearly_worse"] = None, False
        rows.append(row)
    rows.sort(key=lambda r: -r["accuracy_per_mb"])
    fine = [r for r in rows if not r["clearly_worse"]]
    best = min(fine, key=lambda r: (r["bytes_per_task"], -r["val_accuracy"]))
    return {
        "most_accurate": top,
        "best_per_byte": best["arm"],
        "arms": rows,
        "rule": "smallest bytes_per_task among the arms not clearly worse than the most accurate "
        "(paired bootstrap 95 % interval above 0 and McNemar p < 0.05 = clearly worse)",
    }
