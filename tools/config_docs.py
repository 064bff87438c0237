"""Write docs/config.schema.json and print the settings table of docs/ci.md, both from the settings
models (vptadvisor/settings/models.py).

    python tools/config_docs.py            # rewrite docs/config.schema.json, print the table
    python tools/config_docs.py --check    # exit 1 when docs/config.schema.json is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vptadvisor.config import all_settings
from vptadvisor.settings import CheckSettings

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "config.schema.json"


def schema_text() -> str:
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", **CheckSettings.model_json_schema()}
    return json.dumps(doc, indent=2) + "\n"


def table() -> str:
    rows = ["| key | type | default | option | meaning |", "|---|---|---|---|---|"]
    for s in all_settings():
        default = (
            "—"
            if s.default in (None, {})
            else f"`{json.dumps(s.default) if not isinstance(s.default, str) else s.default}`"
        )
        rows.append(
            f"| `{s.key}` | {s.describe().replace(' (or null)', '')} | {default} | "
            f"{'`' + s.cli.split('/')[0] + '`' if s.cli else ''} | {s.help.replace('|', '/')} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if SCHEMA.read_text() == schema_text() else 1)
    SCHEMA.write_text(schema_text())
    print(table())
