"""What the reference tool's screenshot after an action costs an agent on the Anthropic route.

Posts ``left_click`` inputs (two alternating points) to ``POST /v1/anthropic/computer`` of a
real ``driverseat serve --virtual-display 1920x1080 --policy off`` in three setups:
``--no-screenshot-after``, ``--settle-ms 0`` (the screenshot alone) and the default settle
(500 ms: the screenshot after the screen had time to change). Prints the median and p95 of
the whole call per setup, and ``shot_ms`` (the screenshot's own cost: settle 0 minus off).
One JSON line. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx

from bench._serve import served
from daemon.auth import read_token

SETUPS = {"off": ["--no-screenshot-after"], "settle_0": ["--settle-ms", "0"], "default": []}


def _calls(url: str, data: Path, runs: int) -> list[float]:
    headers = {"Authorization": f"Bearer {read_token(data)}"}
    took = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        for i in range(runs + 2):
            point = [300 + 200 * (i % 2), 400]
            t0 = time.perf_counter()
            r = http.post("/v1/anthropic/computer", json={"action": "left_click", "coordinate": point})
            ms = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            if i >= 2:  # the first calls warm the connection and the grabber
                took.append(ms)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    out: dict[str, object] = {"bench": "dialect_answer", "runs": args.runs, "screen": "1920x1080"}
    medians = {}
    for name, extra in SETUPS.items():
        with tempfile.TemporaryDirectory() as tmp, served(Path(tmp), extra=extra) as url:
            took = _calls(url, Path(tmp), args.runs)
        medians[name] = statistics.median(took)
        out[name] = {"median_ms": round(medians[name], 2),
                     "p95_ms": round(statistics.quantiles(took, n=20)[-1], 2)}  # fmt: skip
    out["shot_ms"] = round(medians["settle_0"] - medians["off"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
