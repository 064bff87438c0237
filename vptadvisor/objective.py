"""The task objective the rule sees: measured by the probe, or declared by the user.

- ``--objective`` given: the declared value decides (classification 0.05; counting, distance,
  orientation, location 0.95; other 0.5); the probe still runs, when it can, and its reading is
  recorded beside it (``probe``), unused.
- not given: the probe measures P(high task-objective disparity) from the images' pool3 features,
  labels and (given the files and the extractor) two edits of a small sample of the images
  (docs/probe.md); the probability is a posterior under the probe's stated prior, recorded as
  ``prior_high``. When it cannot (no labels, a single class, too few images per class),
  the default, classification, is used and the note says why.

``source`` is "probe", "declared" or "default"; ``note`` says it in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from vptadvisor.errors import MeasureError
from vptadvisor.rule import objective_prior


def decide_objective(
    objective: str | None,
    features: dict[str, np.ndarray],
    labels: Sequence[str | None],
    seed: int = 0,
    images: Sequence[Path] | None = None,
    extractor: Any = None,
) -> dict:
    """The `objective` block of analyze's result (validated `objective` first: raises UsageError).

    With `images` (the files behind the feature rows) and `extractor` (analyze's InceptionExtractor),
    the probe also measures its augmentation signals (at most 32 extra forward passes, no cache entries)."""
    from vptadvisor.probe import load_model, probe_objective
    from vptadvisor.probe.augment import pool3_function

    declared = objective_prior(objective) if objective is not None else None
    probe, probe_error = None, None
    try:
        if any(label is None for label in labels):
            raise MeasureError("the dataset has no labels (a flat folder), so the probe cannot read its objective")
        extract = pool3_function(extractor) if images is not None and extractor is not None else None
        probe = probe_objective(
            features, cast("list[str]", list(labels)), seed=seed, images=images if extract else None, extract=extract
        )
    except MeasureError as exc:
        probe_error = exc.message.rstrip(".")
    block: dict = {}
    if declared is not None:
        block = {
            "p_high_disparity": declared.p_high_disparity,
            "source": "declared",
            "declared": cast(str, objective).strip().lower(),
            "note": declared.source,
        }
    elif probe is not None:
        block = {
            "p_high_disparity": probe.p_high_disparity,
            "source": "probe",
            "declared": None,
            "note": f"measured by the probe: {probe.evidence}",
        }
    else:
        default = objective_prior(None)
        block = {
            "p_high_disparity": default.p_high_disparity,
            "source": "default",
            "declared": None,
            "note": f"default: classification, because the probe could not measure ({probe_error}); "
            "declare it with --objective",
        }
    block["prior_high"] = probe.prior_high if probe is not None else load_model().prior_high
    block["probe"] = probe.to_dict() if probe is not None else {"error": probe_error}
    return block
