"""A long schemathesis run against the live daemon (CI runs the same test, bounded).

Runs tests/daemon/test_fuzz_api.py with many examples per operation (positive and
negative generation) and prints one JSON line: requests by status class, failures
(5xx, schema violations, rejected requests that touched the desktop, a dead daemon)
and the time taken. Not a test: it reports, it asserts nothing itself.

A long run is not a failed one: each test may take :data:`SECONDS_PER_EXAMPLE` per
example (pytest-timeout's limit, 120 s in pyproject, is for the bounded CI run), and the
whole run as long as its tests together. A hang is still caught at once: the test gives
every call 20 s. When the run failed, ``failure`` says why: the first failing test, the
first line of its error, and its ``kind`` (``5xx``, ``hang``, ``schema``, ``time limit``...).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODULE = "tests/daemon/test_fuzz_api.py"
TESTS = 4  # positive, negative, coverage, stateful
SECONDS_PER_EXAMPLE = 3.0  # a mode over every operation: 0.75 s an example when quiet
MIN_TEST_SECONDS = 120.0  # pyproject's timeout: the coverage phase does not scale
STARTUP_SECONDS = 60.0  # Xvfb, the target window, the daemon
# what a failure's text says -> its kind, the first that matches (a FlakyFailure from
# hypothesis often wraps the real one: pytest-timeout's, raised inside an example and
# not raised again when hypothesis replays it). A call over the test's 20 s is a hang.
KINDS = [
    ("hang", re.compile(r"ReadTimeout|WriteTimeout|ConnectTimeout|PoolTimeout|TimeoutException")),
    ("time limit", re.compile(r"from pytest-timeout")),
    ("5xx", re.compile(r"assert 5\d\d < 500|Server error")),
    ("daemon died", re.compile(r"the daemon stopped answering|ConnectError")),
    ("touched the desktop", re.compile(r"a rejected request (sent input|reached the window)")),
    ("schema", re.compile(r"violates schema|Undocumented|does not conform|Unsupported method")),
]


def limit_per_test(examples: int) -> float:
    """How long one test of the module may take at ``examples`` per operation."""
    return max(MIN_TEST_SECONDS, SECONDS_PER_EXAMPLE * examples)


def _line_at(text: str, i: int) -> str:
    """The line of ``text`` holding position ``i``, without a traceback's margin."""
    end = text.find("\n", i)
    return text[text.rfind("\n", 0, i) + 1 : end if end >= 0 else len(text)].strip(" |E\t")


def first_failure(junit: Path) -> dict[str, str] | None:
    """The first failed or erroring test in a JUnit XML report: its id, the first line of
    its error, its kind and, when the first line is a wrapper's, the line that decided it."""
    if not junit.exists():
        return None
    try:
        root = ET.parse(junit).getroot()
    except ET.ParseError:
        return None
    for case in root.iter("testcase"):
        found = next((e for e in (case.find("failure"), case.find("error")) if e is not None), None)
        if found is None:
            continue
        text = found.text or ""
        first = ((found.get("message") or text).strip().splitlines() or [""])[0][:240]
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        out = {"test": test, "error": first, "kind": "error"}
        for kind, pattern in KINDS:
            if hit := pattern.search(text):
                out["kind"] = kind
                if (line := _line_at(text, hit.start())[:240]) != first:
                    out["cause"] = line
                break
        return out
    return None


def run(examples: int, report: Path, junit: Path, log: Path) -> tuple[int | None, float]:
    """pytest over the module; its exit status (None: killed at the overall limit) and
    the seconds it took."""
    env = dict(os.environ, DRIVERSEAT_FUZZ_EXAMPLES=str(examples),
               DRIVERSEAT_FUZZ_SEQUENCES=str(examples), DRIVERSEAT_FUZZ_REPORT=str(report))  # fmt: skip
    per_test = limit_per_test(examples)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--timeout={per_test:g}",
           f"--junitxml={junit}", MODULE]  # fmt: skip
    t0 = time.monotonic()
    with log.open("w") as out:
        # its own process group: at the limit, Xvfb and the target window go with it
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            code: int | None = proc.wait(timeout=TESTS * per_test + STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    return code, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--examples", type=int, default=500, help="examples per operation and mode (default 500)"
    )
    args = ap.parse_args(argv)
    failure: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        names = ("report.jsonl", "junit.xml", "pytest.log")
        report, junit, log = (Path(tmp) / name for name in names)
        code, seconds = run(args.examples, report, junit, log)
        lines = report.read_text().splitlines() if report.exists() else []
        if code is None:
            said = f"the whole run passed {seconds:.0f} s: killed"
            failure = {"kind": "time limit", "error": said}
        elif code != 0:
            failure = first_failure(junit) or {"kind": "error", "error": f"pytest exited {code}"}
        if failure is not None:
            print(log.read_text()[-4000:], file=sys.stderr)
    rows = [json.loads(line) for line in lines]
    totals: dict[str, int] = {}
    for row in rows:
        for k, v in row["responses"].items():
            totals[k] = totals.get(k, 0) + v
    out: dict[str, Any] = {
        "bench": "fuzz_api",
        "examples_per_operation": args.examples,
        "operations": max((r["operations"] for r in rows), default=0),
        "requests": sum(totals.values()),
        "responses": totals,
        "failed": failure is not None,
        "seconds": round(seconds, 1),
        "test_limit_seconds": limit_per_test(args.examples),
    }
    if failure is not None:
        out["failure"] = failure
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
