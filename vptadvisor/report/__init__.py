"""Rendering results for people: Rich tables on the console (`console`), and Markdown / self-contained
HTML reports with the decision map and the pilot's learning curves (`document`, `render`).

    from vptadvisor.report import write_report
    write_report("report.html", result, gate=outcome)
"""

from __future__ import annotations

from typing import Any


def write_report(path, result, **kwargs: Any):
    """See `vptadvisor.report.document.write_report` (imported lazily: matplotlib is loaded only here)."""
    from vptadvisor.report.document import write_report as _write

    return _write(path, result, **kwargs)


__all__ = ["write_report"]
