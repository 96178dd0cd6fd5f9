"""The one machine-readable line a benchmark prints last: `RESULT {json}` (read by bench/run)."""

from __future__ import annotations

import json
import os


def emit(figures: dict) -> None:
    """Print the figures as the final `RESULT` line, with the load average at the end of the run."""
    figures = {**figures, "load_average_end": [round(x, 2) for x in os.getloadavg()]}
    print("RESULT " + json.dumps(figures, ensure_ascii=False, default=str), flush=True)
