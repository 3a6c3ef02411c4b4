"""The figures a benchmark hands to ``make bench`` (bench/bench_all.py): one JSON list of rows.

A row: ``{"case", "unit", "raw", "rosweb", "higher"}``: the physical limit measured in the same
run (``raw``, None when there is none), rosweb's figure, and whether higher is better.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def row(
    case: str, unit: str, raw: float | None, rosweb: float | None, higher: bool
) -> dict[str, Any]:
    return {"case": case, "unit": unit, "raw": raw, "rosweb": rosweb, "higher": higher}


def dump(path: Path | str | None, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path`` (nothing when None: the script was run on its own)."""
    if path:
        Path(path).write_text(json.dumps(rows, indent=1))
