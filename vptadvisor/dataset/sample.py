"""A seeded, class-stratified sample of a dataset's listing: what analyze decodes when it is large.

Each (split, class) group gets a share of `n` proportional to its size (largest remainders break
ties, every group gets at least one image when `n` allows), drawn without replacement with a
generator seeded by `seed`. Only the listing is read: the files outside the sample are never opened.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from vptadvisor.dataset.layout import Sample


def _quotas(sizes: dict[tuple[str, str], int], n: int) -> dict[tuple[str, str], int]:
    total = sum(sizes.values())
    exact = {g: n * s / total for g, s in sizes.items()}
    floor_one = n >= len(sizes)
    quota = {g: min(sizes[g], max(math.floor(exact[g]), 1 if floor_one else 0)) for g in sizes}
    over = sum(quota.values()) - n
    for g in sorted(sizes, key=lambda g: (-quota[g], g)):  # the minimum of one pushed us over: trim the largest
        if over <= 0:
            break
        if quota[g] > 1:
            quota[g] -= 1
            over -= 1
    short = n - sum(quota.values())
    ranked = sorted(sizes, key=lambda g: (-(exact[g] - math.floor(exact[g])), g))
    while short > 0:
        moved = False
        for g in ranked:
            if short == 0:
                break
            if quota[g] < sizes[g]:
                quota[g] += 1
                short -= 1
                moved = True
        if not moved:
            break
    return quota


def stratified_sample(samples: list[Sample], n: int, seed: int = 0) -> list[int]:
    """Indices (ascending) of at most `n` samples, stratified by (split, label), seeded."""
    if n >= len(samples):
        return list(range(len(samples)))
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        groups[(s.split or "", s.label or "")].append(i)
    quota = _quotas({g: len(v) for g, v in groups.items()}, n)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for g in sorted(groups):
        if quota[g]:
            chosen += [groups[g][j] for j in rng.choice(len(groups[g]), quota[g], replace=False)]
    return sorted(chosen)
