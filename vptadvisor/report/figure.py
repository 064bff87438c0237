"""Figures as PNG bytes, drawn on matplotlib's Agg canvas through matplotlib.figure.Figure: no
pyplot, no backend switch (`matplotlib.use`), nothing that outlives the call (a notebook keeps its
backend)."""

from __future__ import annotations

import io
from typing import Any


def subplots(figsize: tuple[float, float], ncols: int = 1) -> tuple[Any, Any]:
    """A new figure and its axes (one, or a tuple of `ncols`)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    axes = fig.subplots(1, ncols)
    return fig, axes


def png(fig: Any) -> bytes:
    """The figure as PNG bytes (Agg, 110 dpi)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)  # a Figure without pyplot draws on the Agg canvas
    return buf.getvalue()
