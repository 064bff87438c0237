"""The task objective the rule sees: measured by the probe, or declared by the user.

- ``--objective`` given: the declared value decides (classification 0.05; counting, distance,
  orientation, location 0.95; other 0.5); the probe still runs, when it can, and its reading is
  recorded beside it (``probe``), unused.
- not given: the probe measures P(high task-objective disparity) from the images' pool3 features
  and labels (docs/probe.md). When it cannot (no labels, a single class, too few images per class),
  the default, classification, is used and the note says why.

``source`` is "probe", "declared" or "default"; ``note`` says it in words.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vptadvisor.errors import MeasureError
from vptadvisor.rule import objective_prior


def decide_objective(objective: str | None, features: dict[str, np.ndarray], labels: Sequence[str | None],
                     seed: int = 0) -> dict:
    """The `objective` block of analyze's result (validated `objective` first: raises UsageError)."""
    from vptadvisor.probe import probe_objective

    declared = objective_prior(objective) if objective is not None else None
    probe, probe_error = None, None
    try:
        if any(label is None for label in labels):
            raise MeasureError("the dataset has no labels (a flat folder), so the probe cannot read its objective")
        probe = probe_objective(features, list(labels), seed=seed)
    except MeasureError as exc:
        probe_error = exc.message.rstrip(".")
    block: dict = {}
    if declared is not None:
        block = {"p_high_disparity": declared.p_high_disparity, "source": "declared",
                 "declared": objective.strip().lower(), "note": declared.source}
    elif probe is not None:
        block = {"p_high_disparity": probe.p_high_disparity, "source": "probe", "declared": None,
                 "note": f"measured by the probe: {probe.evidence}"}
    else:
        default = objective_prior(None)
        block = {"p_high_disparity": default.p_high_disparity, "source": "default", "declared": None,
                 "note": f"default: classification, because the probe could not measure ({probe_error}); "
                         "declare it with --objective"}
    block["probe"] = probe.to_dict() if probe is not None else {"error": probe_error}
    return block
