"""From an agent's question (POST /v1/questions) to the question on the overlay, in ms.

Starts its own Xvfb and `driverseat serve` with its overlay child, then for each trial
posts a question with three options (a point, a box, text only) and polls the X server
until the question window is viewable; the question is then answered over the API and
the window goes away before the next trial. Prints one JSON line (goal: < 150 ms, as
for reviews). Not a test.
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

from capture.xvfb import VirtualDisplay
from tests.e2e.test_review_loop_x11 import POLICY, Daemon, poll, window_named

OPTIONS = [{"text": "economy, $500", "point": [200, 200]},
           {"text": "business, $1,500", "box": [100, 400, 400, 500]}, {"text": "neither"}]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=30)
    args = ap.parse_args(argv)
    times: list[float] = []
    with VirtualDisplay(1920, 1080) as vd, tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.toml"
        policy.write_text(POLICY)
        d = Daemon(vd.name, Path(tmp), policy)
        shown = lambda: window_named(vd.name, "driverseat question")
        try:
            poll(lambda: d.http.get("/v1/state").status_code == 200)
            for i in range(args.trials + 2):
                t0 = time.perf_counter()
                r = d.http.post("/v1/questions", json={"question": f"Which flight? ({i})", "options": OPTIONS})
                q = r.json()
                while shown() is None:
                    if time.perf_counter() - t0 > 10:
                        raise SystemExit("the question never showed up")
                ms = (time.perf_counter() - t0) * 1000
                if i >= 2:  # the first questions also pay for Qt's first paint
                    times.append(ms)
                d.http.post(f"/v1/questions/{q['id']}/answer", json={"kind": "option", "option": 1, "reviewer": "bench"})
                poll(lambda: shown() is None)
                print(f"trial {i}: {ms:.1f} ms", file=sys.stderr)
        finally:
            d.close()
    s = sorted(times)
    print(json.dumps({
        "bench": "question_latency",
        "trials": len(times),
        "question_to_overlay_ms": {
            "p50": round(statistics.median(s), 1),
            "p95": round(s[min(len(s) - 1, int(0.95 * (len(s) - 1) + 0.5))], 1),
            "max": round(s[-1], 1),
        },
        "goal_ms": 150,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
