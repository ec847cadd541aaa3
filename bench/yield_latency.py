"""How fast driverseat yields to a person, and whether anything of the agent's leaks past.

Starts its own Xvfb, a simulated human (a second master device with its own XTEST
slave, see docs/x11-input.md) and a raw-event witness that sees every input event
in the server's order. Each trial streams agent primitives at the executor's pace
(default 500/s, alternating long typing and long drags), lets the human click at a
random moment, and measures:

- latency: from just before the human's event is sent to the X server, to the
  executor being halted (its yield noticed, before releasing what it held);
- leaked: agent presses and motions that reach the server after the human's event;
- false takeovers: takeovers during agent-only streams.

Prints one JSON line. Not a test: no assertions, no thresholds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from Xlib import X
from Xlib.ext import xtest

from bench._x11 import Witness
from capture.input._xi2 import RAW_BUTTON_RELEASE, RAW_KEY_RELEASE
from capture.xvfb import VirtualDisplay
from daemon.actions import parse_action
from daemon.control.runtime import Runtime
from tests.x11.human import SimulatedHuman


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=500, help="takeover trials (default 500)")
    ap.add_argument("--rate", type=float, default=500.0, help="agent primitives per second (default 500)")
    ap.add_argument("--agent-only", type=int, default=10_000, help="primitives in the agent-only stream")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--guard", action="store_true", help="with the hold guard watching, as serve runs")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)

    with VirtualDisplay(1920, 1080) as vd:
        human = SimulatedHuman(vd.name)
        witness = Witness(vd.name)
        rt = Runtime(display=vd.name, resume_after=0.05, step_interval=1.0 / args.rate)
        guard = None
        if args.guard:
            from capture.input.guard import GuardLink

            guard = GuardLink.spawn(vd.name)
            guard.wait_ready()
            rt.backend.watch = guard
        ours = set(rt.backend._ours)  # type: ignore[attr-defined]
        try:
            latencies: list[float] = []
            leaked_total = 0
            leaked_trials = 0
            not_interrupted = 0
            rates: list[float] = []
            for trial in range(args.trials):
                if trial % 2 == 0:
                    action = parse_action({"action": "type", "text": "streaming agent keystrokes " * 20})
                else:
                    action = parse_action(
                        {"action": "drag", "path": [[100, 100], [1800, 1000]], "duration": 2.0}
                    )
                witness.take()
                sent0 = rt.executor.primitives_sent
                t_start = time.perf_counter()
                fut = rt.executor.submit(action)
                # let the stream run for a random while, then the person acts
                time.sleep(rng.uniform(0.01, 0.05))
                x, y = rng.randrange(1920), rng.randrange(1080)
                xtest.fake_input(human.d, X.MotionNotify, x=x, y=y)
                t_human = time.perf_counter()
                human.d.sync()
                human.press()
                human.release()
                out = fut.result(timeout=10)
                if out.status != "interrupted":
                    not_interrupted += 1
                    continue
                latencies.append((rt.executor.last_halt - t_human) * 1000)
                streamed = rt.executor.primitives_sent - sent0
                rates.append(streamed / max(1e-6, rt.executor.last_halt - t_start))
                # wait for control to come back (and the witness to see everything)
                deadline = time.monotonic() + 5
                while rt.intervention.state != "agent" and time.monotonic() < deadline:
                    time.sleep(0.005)
                rt.backend.barrier()
                time.sleep(0.005)
                events = witness.take()
                first = next((i for i, e in enumerate(events) if e.sourceid in human.xtest_ids), None)
                if first is None:
                    continue
                leaks = [
                    e for e in events[first:]
                    if e.sourceid in ours and e.evtype not in (RAW_KEY_RELEASE, RAW_BUTTON_RELEASE)
                ]  # fmt: skip
                leaked_total += len(leaks)
                leaked_trials += bool(leaks)
                if (trial + 1) % 50 == 0:
                    log(f"trial {trial + 1}/{args.trials}: p50 {statistics.median(latencies):.2f} ms, leaked {leaked_total}")

            # agent-only: a long mixed stream must not trip the switch once
            log(f"agent-only stream of {args.agent_only} primitives ...")
            takeovers0 = rt.intervention.takeovers
            sent0 = rt.executor.primitives_sent
            t0 = time.perf_counter()
            pattern = [
                {"action": "type", "text": "agent only: no false takeovers ✓ 你好 "},
                {"action": "drag", "path": [[200, 200], [900, 700], [300, 800]], "duration": 0.3},
                {"action": "click", "x": 640, "y": 360, "count": 2, "modifiers": ["ctrl"]},
                {"action": "scroll", "x": 800, "y": 500, "dy": 5},
                {"action": "key", "keys": "ctrl+a shift+Tab Escape"},
            ]
            i = 0
            while rt.executor.primitives_sent - sent0 < args.agent_only:
                out = rt.run(parse_action(pattern[i % len(pattern)]))
                i += 1
                if out.status != "executed":
                    break
            agent_only_s = time.perf_counter() - t0
            false_takeovers = rt.intervention.takeovers - takeovers0
            agent_only_sent = rt.executor.primitives_sent - sent0
        finally:
            rt.close()
            if guard is not None:
                guard.close()
            witness.close()
            human.close()

    result = {
        "bench": "yield_latency",
        "guard": args.guard,
        "trials": len(latencies),
        "not_interrupted": not_interrupted,
        "stream_rate_per_s": round(statistics.median(rates), 1) if rates else None,
        "latency_ms": {
            "p50": round(statistics.median(latencies), 3),
            "p99": round(pct(latencies, 0.99), 3),
            "max": round(max(latencies), 3),
        }
        if latencies
        else None,
        "leaked_primitives": leaked_total,
        "trials_with_leaks": leaked_trials,
        "agent_only_primitives": agent_only_sent,
        "agent_only_rate_per_s": round(agent_only_sent / agent_only_s, 1),
        "false_takeovers": false_takeovers,
        "goal": {"p99_ms": 5, "leaked": 0, "false_takeovers": 0},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
