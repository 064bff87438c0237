"""Reading a JSON document a user points at (a pilot result, an analysis, a rule file).

Every failure is a `UsageError` whose one sentence names the file and says what to pass instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vptadvisor.errors import UsageError


def read_json(path: str | os.PathLike, *, what: str, hint: str) -> Any:
    """The parsed JSON at `path`; `what` names the document ("pilot result"), `hint` says what to pass."""
    p = Path(path).expanduser()
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"No {what} at {p} (the file does not exist): {hint}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"Cannot read the {what} {p} ({exc}): {hint}.") from None
