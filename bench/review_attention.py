"""A scripted review run with test reviews on: a reviewer who rubber-stamps, one who reads.

Starts its own ``driverseat serve --virtual-display 1920x1080 --no-overlay`` with a policy
that holds unsure actions for a person and ``honeypot_rate`` (default 0.25) on. A scripted
agent alternates an unsure action (a review) and a sure one (where an armed test review
is placed); each reviewer, with its own token (``driverseat reviewer add``), answers every
pending review through ``GET /v1/reviews`` and ``POST /v1/reviews/{id}/decision``:

- ``stamper`` approves whatever it sees at once;
- ``reader`` takes the time the review's words need at twice a fast reader's pace (the
  attention score's own threshold) and checks the action against the agent's reason
  (the point it names, the amount, the key), rejecting what does not match.

One after the other, ``--reviews`` real reviews each. Prints one JSON line: per reviewer
the figures of ``GET /v1/reviewers/me/attention`` (score, catch rate, unread approvals,
median decision time) and the decision times measured here. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx

from bench._serve import ROOT, served
from daemon.attention import needed_ms, words
from daemon.auth import read_token

POLICY = """
[defaults]
tier = "auto"
rationale_required = []
honeypot_rate = {rate}

[[rule]]
name = "unsure"
tier = "approve"
kinds = ["click", "type", "key"]
confidence_below = 0.9
"""
_AT = re.compile(r"at \((\d+), (\d+)\)")
_AMOUNT = re.compile(r"amount (\d+)")
_PRESS = re.compile(r"press (\S+) to")


def proposals(n: int) -> list[dict[str, Any]]:
    """The agent's script: an unsure action, then a sure one, with reasons that name the target."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        x, y = 200 + 37 * (i % 20), 150 + 23 * (i % 15)
        amount = 100 + 7 * i
        unsure = [
            {"action": "click", "x": x, "y": y, "confidence": 0.5,
             "reason": f"click the Continue button at ({x}, {y}) to go to the next page of the order form"},
            {"action": "type", "text": f"{amount} EUR", "confidence": 0.6,
             "reason": f"type the amount {amount} into the payment field, as the invoice on screen says"},
        ][i % 2]  # fmt: skip
        sx, sy = 900 - 11 * (i % 30), 500 + 9 * (i % 20)
        sure = [
            {"action": "click", "x": sx, "y": sy, "confidence": 0.95,
             "reason": f"click the Save button at ({sx}, {sy}) to keep the draft"},
            {"action": "type", "text": f"{amount + 1}", "confidence": 0.95,
             "reason": f"type the amount {amount + 1} into the quantity field"},
            {"action": "key", "keys": "Tab", "confidence": 0.95, "reason": "press Tab to move to the next field"},
        ][i % 3]  # fmt: skip
        out += [unsure, sure]
    return out


def matches(review: dict[str, Any]) -> bool:
    """What a reader checks: the action does what the agent's reason says."""
    action, reason = review["action"], review.get("reason") or ""
    if (m := _AT.search(reason)) is not None:
        return bool(action["action"] == "click" and (action.get("x"), action.get("y")) == (int(m[1]), int(m[2])))
    if (m := _AMOUNT.search(reason)) is not None:
        found = re.search(r"\d+", str(action.get("text", "")))
        return bool(action["action"] == "type" and found is not None and found[0] == m[1])
    if (m := _PRESS.search(reason)) is not None:
        return bool(action["action"] == "key" and action.get("keys") == m[1])
    return True


def agent(url: str, token: str, script: list[dict[str, Any]], stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as c:
        for body in script:
            if stop.is_set():
                return
            c.post("/v1/actions", json=body)


def review(url: str, token: str, style: str, n: int) -> dict[str, Any]:
    """Answer ``n`` reviews (tests included: the reviewer cannot tell), then read its figures."""
    times: list[float] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        while len(times) < n:
            pending = c.get("/v1/reviews").json()
            if not pending:
                time.sleep(0.02)  # a poll of the API, as a reviewer's client would
                continue
            r, shown = pending[0], time.time()
            if style == "reader":
                time.sleep(needed_ms(words(r)) / 2000 + 0.1)  # just past half of the reading time
            verdict = "approve" if style == "stamper" or matches(r) else "reject"
            answer = c.post(f"/v1/reviews/{r['id']}/decision",
                            json={"verdict": verdict, "reviewer": style, "shown_at": shown})  # fmt: skip
            if answer.status_code == 200:
                times.append((time.time() - shown) * 1000)
        mine: dict[str, Any] = c.get("/v1/reviewers/me/attention").json()
    mine["client_decision_ms"] = {"median": round(statistics.median(times), 1), "n": len(times)}
    return mine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviews", type=int, default=30, help="reviews each reviewer answers (tests included)")
    parser.add_argument("--rate", type=float, default=0.25, help="the policy's honeypot_rate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ds-attention-") as tmp:
        data = Path(tmp)
        policy = data / "policy.toml"
        policy.write_text(POLICY.format(rate=args.rate))
        tokens = {
            name: subprocess.run(
                [sys.executable, "-m", "daemon.cli", "reviewer", "add", name, "--data-dir", str(data)],
                capture_output=True, text=True, check=True, cwd=ROOT,
            ).stdout.strip()
            for name in ("stamper", "reader")
        }  # fmt: skip
        out: dict[str, Any] = {"bench": "review_attention", "honeypot_rate": args.rate,
                               "reviews_each": args.reviews}  # fmt: skip
        with served(data, extra=["--policy", str(policy)]) as url:  # the last --policy wins
            token = read_token(data)
            for style in ("stamper", "reader"):
                stop = threading.Event()
                thread = threading.Thread(target=agent, args=(url, token, proposals(10 * args.reviews), stop), daemon=True)
                thread.start()
                figures = review(url, tokens[style], style, args.reviews)
                stop.set()
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
                    while thread.is_alive():  # what the agent left, answered by nobody measured
                        for r in c.get("/v1/reviews").json():
                            c.post(f"/v1/reviews/{r['id']}/decision", json={"verdict": "reject", "reviewer": "cleanup"})
                        thread.join(timeout=0.1)
                out[style] = {
                    "score": figures["score"], "signals": figures["signals"], "honeypots": figures["honeypots"],
                    "catch_rate": (round(figures["honeypots"]["caught"] / figures["honeypots"]["shown"], 3)
                                   if figures["honeypots"]["shown"] else None),
                    "unread_approvals": figures["unread_approvals"], "approvals_timed": figures["approvals_timed"],
                    "median_decision_ms": figures["median_decision_ms"], "decisions": figures["decisions"],
                    "client_decision_ms": figures["client_decision_ms"],
                }  # fmt: skip
    out["note"] = "2 loaded cores: decision times are pessimistic"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
