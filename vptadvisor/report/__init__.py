"""Rendering results for people: Rich tables on the console (`console`), and Markdown / self-contained
HTML reports with the decision map and the pilot's learning curves (`document`, `render`).

    from vptadvisor.report import write_report
    write_report("report.html", result, gate=outcome)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vptadvisor.results import AnalyzeResult


def write_report(path: str | os.PathLike[str], result: AnalyzeResult, **kwargs: Any) -> Path:
    """See `vptadvisor.report.document.write_report` (imported lazily: matplotlib is loaded only here)."""
    from vptadvisor.report.document import write_report as _write

    return _write(path, result, **kwargs)


__all__ = ["write_report"]
