"""From a review opened to its notification sent, in ms (desktop and webhook).

Starts its own Xvfb, a private session bus with a small notification server on it
(tests/notify/bus.py), a webhook receiver on loopback and `driverseat serve` (no overlay:
this measures the notifications alone) with a policy that holds typed text. Each trial
posts a type action, then reads when the server got Notify and the receiver got the
webhook, against the review's ``created`` (one machine, one clock); the review is then
rejected over the API and the time to CloseNotification is read too. Prints one JSON
line (goal: p95 < 100 ms from review opened to notification sent). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from capture.xvfb import VirtualDisplay
from tests.e2e.live_daemon import Daemon, policy_with, settled
from tests.notify.bus import NotificationServer, SessionBus
from tests.notify.receiver import receiving

RULES = """
[[rule]]
name = "bench-hold"
tier = "approve"
kinds = ["type"]
text = "BENCH-"
"""


def pct(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)
    return {"p50": round(statistics.median(s), 1), "p95": round(s[min(len(s) - 1, int(0.95 * (len(s) - 1) + 0.5))], 1),
            "max": round(s[-1], 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=40)
    args = ap.parse_args(argv)
    desk: list[float] = []
    hook_ms: list[float] = []
    proposal: list[float] = []
    closed: list[float] = []
    bus = SessionBus()
    server = NotificationServer(bus.address)
    with VirtualDisplay(1920, 1080) as vd, tempfile.TemporaryDirectory() as tmp, receiving() as hook:
        policy = Path(tmp) / "policy.toml"
        policy.write_text(policy_with(RULES))
        env = {**bus.env(), "DRIVERSEAT_WEBHOOK_SECRET": "bench"}
        d = Daemon(vd.name, Path(tmp), policy, args=["--webhook", hook.url], env=env)
        # the agent: one kept connection on a thread of its own (its call waits for the person)
        agent, pool = d.fresh(), ThreadPoolExecutor(1)
        try:
            for i in range(args.trials + 2):
                n = len(server.of("Notify"))
                t0 = time.time()
                call = pool.submit(agent.post, "/v1/actions", json={"action": "type", "text": f"BENCH-{i}"})
                review = settled(lambda: d.pending(), 10, "the review")[0]
                note = settled(lambda n=n: server.of("Notify")[n:], 10, "the notification")[0]
                sent = settled(lambda r=review: [x for x in hook.deliveries if x.json["id"] == r["id"]], 10,
                               "the webhook")[0]  # fmt: skip
                t1 = time.time()
                d.decide(review["id"], "reject")
                call.result(timeout=10)
                shut = settled(lambda m=note: [c for c in server.of("CloseNotification") if c.body[0] == m.nid], 10,
                               "CloseNotification")[0]  # fmt: skip
                if i >= 2:  # the first ones also pay for the bus connection and the first imports
                    desk.append((note.at - review["created"]) * 1000)
                    hook_ms.append((sent.at - review["created"]) * 1000)
                    proposal.append((note.at - t0) * 1000)
                    closed.append((shut.at - t1) * 1000)
                print(f"trial {i}: desktop {(note.at - review['created']) * 1000:.1f} ms", file=sys.stderr)
        finally:
            pool.shutdown()
            agent.close()
            d.close()
            server.close()
            bus.close()
    print(json.dumps({
        "bench": "notify_latency", "trials": len(desk),
        "review_opened_to_desktop_notify_ms": pct(desk),
        "review_opened_to_webhook_received_ms": pct(hook_ms),
        "proposal_to_desktop_notify_ms": pct(proposal),
        "decision_request_to_close_notification_ms": pct(closed),
        "goal_p95_ms": 100,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
