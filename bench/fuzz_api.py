"""A long schemathesis run against the live daemon (CI runs the same test, bounded).

Runs tests/daemon/test_fuzz_api.py with many examples per operation (positive and
negative generation) and prints one JSON line: requests by status class, failures
(5xx, schema violations, rejected requests that touched the desktop, a dead daemon)
and the time taken. Not a test: it reports, it asserts nothing itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=500, help="examples per operation and mode (default 500)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.jsonl"
        env = dict(os.environ, DRIVERSEAT_FUZZ_EXAMPLES=str(args.examples),
                   DRIVERSEAT_FUZZ_SEQUENCES=str(args.examples), DRIVERSEAT_FUZZ_REPORT=str(report))
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/daemon/test_fuzz_api.py"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.monotonic() - t0
        rows = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    if proc.returncode != 0:
        print(proc.stdout[-4000:], file=sys.stderr)
    totals: dict[str, int] = {}
    for row in rows:
        for k, v in row["responses"].items():
            totals[k] = totals.get(k, 0) + v
    print(json.dumps({
        "bench": "fuzz_api",
        "examples_per_operation": args.examples,
        "operations": max((r["operations"] for r in rows), default=0),
        "requests": sum(totals.values()),
        "responses": totals,
        "failed": proc.returncode != 0,
        "seconds": round(seconds, 1),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
