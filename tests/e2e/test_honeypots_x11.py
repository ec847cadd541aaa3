"""Test reviews on the real overlay: `driverseat serve` with its overlay child on Xvfb, an
agent over HTTP, the simulated person at the keyboard, the target window's XI2 log.

With ``honeypot_rate = 1`` every real review answered arms a test, placed at the agent's
next proposal; ``honeypot_kinds = ["displaced"]`` makes it the agent's own click moved
onto another spot, so each test knows what it gets. The event stream is read as the
overlay reads it, and what it received for a real and a test review is compared field by
field.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.e2e.live_daemon import Daemon, agent_events, barrier, near, screen_xy, settled
from tests.e2e.test_review_loop_x11 import overlay_ready, window_named
from tests.x11.human import SimulatedHuman
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

POLICY = """
[defaults]
tier = "auto"
rationale_required = []
honeypot_rate = 1.0
honeypot_kinds = ["displaced"]

[[rule]]
name = "careful-clicks"
tier = "approve"
kinds = ["click"]
confidence_below = 0.9
"""
HEX32 = re.compile(r"^[0-9a-f]{32}$")


class Stream:
    """Every message of /v1/events, on a thread."""

    def __init__(self, url: str) -> None:
        self.url, self.seen = url, []  # type: ignore[var-annotated]
        self.ws: Any = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _read(self) -> None:
        with connect(self.url, proxy=None, max_size=2**24) as ws:
            self.ws = ws
            self._ready.set()
            try:
                for raw in ws:
                    self.seen.append(json.loads(raw))
            except ConnectionClosed:
                return

    def of(self, kind: str, review_id: str | None = None) -> list[dict[str, Any]]:
        def rid(e: dict[str, Any]) -> Any:
            return e.get("review", {}).get("id") if "review" in e else e.get("review_id", e.get("id"))

        return [e for e in list(self.seen) if e.get("type") == kind and (review_id is None or rid(e) == review_id)]

    def about(self, review_id: str) -> list[str]:
        """The types of the messages about one review, in order."""
        out = []
        for e in list(self.seen):
            r = e.get("review", {}).get("id") if "review" in e else e.get("review_id", e.get("id"))
            if r == review_id:
                out.append(str(e["type"]))
        return out

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def served(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Stream]]:
    data = tmp_path_factory.mktemp("honeypots-e2e")
    policy = data / "policy.toml"
    policy.write_text(POLICY)
    d = Daemon(xserver, data, policy, overlay=True)
    d.out.wait_line(r"overlay: +started", 30)
    stream = Stream(d.ws_url)
    try:
        yield d, stream
    finally:
        stream.close()
        d.close()


def _normalised(review: dict[str, Any]) -> dict[str, Any]:
    """A review as the overlay gets it, with what must differ between two reviews (ids,
    times, the action's own values) replaced by their shape."""
    out = dict(review)
    for k in ("id", "action_id"):
        assert HEX32.match(out[k]), (k, out[k])
        out[k] = "<hex32>"
    for k in ("created", "expires", "confidence"):
        out[k] = type(out[k]).__name__
    for k in ("action", "screen_action"):
        out[k] = {f: type(v).__name__ for f, v in out[k].items() if f not in ("x", "y")}
    out["decisions"] = [sorted(d) for d in out["decisions"]]
    # when the overlay reported showing it depends on when the listing was read, for any
    # review: the moments' names are the same, their values not
    if isinstance(out.get("timing"), dict):
        out["timing"] = sorted(out["timing"])
    return out


def _presented(review: dict[str, Any]) -> dict[str, Any]:
    """What the overlay's presenter shows of a review, points and numbers aside."""
    from daemon.outcomes import Review
    from overlay.presenter import ReviewPresenter, rule_text

    p = ReviewPresenter("me@desk")
    p.add(Review.model_validate(review))
    digits = re.compile(r"\d+")
    return {
        "status": p.status(), "rule": rule_text(p.current) if p.current else None,
        "summary": digits.sub("N", p.summary()), "expiry": p.expiry(), "rationale": p.needs_rationale,
        "min_length": p.rationale_min_length, "editable": p.editable_field, "points": p.points_needed,
        "shapes": [type(s).__name__ for s in p.shapes()],
    }  # fmt: skip


def _real_review_then_test(d: Daemon, stream: Stream, human: SimulatedHuman, xserver: str, n: int,
                           ) -> tuple[dict[str, Any], dict[str, Any], Any, tuple[int, int]]:  # fmt: skip
    """A real review approved on the overlay (which arms a test), then the agent's sure
    click that places it: (the real review, the test review, the click's request, its point)."""
    reason = f"press the Save button of the form, step {n}"
    real_fut = d.post_later("/v1/actions", {"action": "click", "x": 300 + n, "y": 300, "confidence": 0.5,
                                            "reason": reason})  # fmt: skip
    real = settled(lambda: d.pending(), what="the real review")[0]
    settled(lambda: overlay_ready(xserver), what="the overlay, with the keyboard focus")
    human.tap("Return")
    assert real_fut.result(timeout=30).json()["status"] == "executed"
    point = (700 + 10 * n, 400)
    later = d.post_later("/v1/actions", {"action": "click", "x": point[0], "y": point[1], "confidence": 0.95,
                                         "reason": reason})  # fmt: skip
    test = settled(lambda: [r for r in d.pending() if r["id"] != real["id"]], what="the test review")[0]
    settled(lambda: overlay_ready(xserver), what="the overlay showing the test, with the keyboard focus")
    return real, test, later, point


def test_an_approved_test_is_a_miss_nothing_reaches_the_desktop_and_the_alert_is_out(
    served: tuple[Daemon, Stream], human: SimulatedHuman, xserver: str, target: TargetWindow
) -> None:
    d, stream = served
    real, test, later, point = _real_review_then_test(d, stream, human, xserver, 0)
    # to the overlay the two are the same review, field by field (ids, times, points apart)
    real_event, test_event = stream.of("review", real["id"])[0]["review"], stream.of("review", test["id"])[0]["review"]
    assert _normalised(real_event) == _normalised(test_event)
    assert _normalised(real) == _normalised(test)  # and over HTTP (GET /v1/reviews)
    assert test_event["reason"] == real_event["reason"] and test_event["rule"] == "careful-clicks"
    assert test_event["confidence"] < 0.9  # a confidence the rule that holds it would hold
    png = {r: d.http.get(f"/v1/reviews/{r}/screenshot") for r in (real["id"], test["id"])}
    assert all(p.status_code == 200 and p.headers["content-type"] == "image/png" for p in png.values())
    assert png[real["id"]].content[16:24] == png[test["id"]].content[16:24]  # the same frame size
    assert stream.about(test["id"]) == ["review"]  # nothing else said about it before a decision
    # and what the overlay's presenter makes of each: the same lines, the same kind of drawing
    assert _presented(real_event) == _presented(test_event)
    human.tap("Return")  # the person approves the wrong click
    missed = settled(lambda: stream.of("honeypot_missed", test["id"]), what="the alert")[0]
    assert missed["reviewer"] and missed["kind"] == "displaced" and "never ran" in missed["summary"]
    settled(lambda: window_named(xserver, "driverseat notice"), what="the overlay's notice")
    assert d.http.get(f"/v1/reviews/{test['id']}").json()["status"] == "approved"
    out = later.result(timeout=30).json()
    assert out["status"] == "executed" and out.get("review_id") is None, out  # its own click, unreviewed
    # the desktop got the real review's click and the agent's own click, never the test's
    presses = [e for e in barrier(d, target) if e["type"] == "button_press"]
    wrong = (test["screen_action"]["x"], test["screen_action"]["y"])
    assert not [e for e in agent_events(target) if e["type"] == "button_press" and near(e, wrong)]
    assert [near(e, screen_xy(*point)) for e in presses][-1:] == [True]
    assert not stream.of("outcome", test["id"])
    assert not [e for e in stream.seen if e.get("type") == "outcome" and e.get("review_id") == test["id"]]


def test_a_corrected_test_is_a_catch(
    served: tuple[Daemon, Stream], human: SimulatedHuman, xserver: str, target: TargetWindow
) -> None:
    d, stream = served
    _, test, later, point = _real_review_then_test(d, stream, human, xserver, 1)
    # the person clicks where the agent meant (screen pixels: the overlay is 1:1), then Enter
    x, y = screen_xy(*point)
    human.click(round(x), round(y))
    human.tap("Return")
    caught = settled(lambda: stream.of("honeypot_caught", test["id"]), what="the catch")[0]
    assert caught["verdict"] == "correct" and "Well caught" in caught["summary"]
    assert d.http.get(f"/v1/reviews/{test['id']}").json()["status"] == "corrected"
    assert later.result(timeout=30).json()["status"] == "executed"
    wrong = (test["screen_action"]["x"], test["screen_action"]["y"])
    barrier(d, target)
    assert not [e for e in agent_events(target) if e["type"] == "button_press" and near(e, wrong)]
    score = d.http.get("/v1/reviewers/me/attention", params={"name": caught["reviewer"]}).json()
    assert score["honeypots"]["shown"] >= 1 and score["honeypots"]["caught"] >= 1


def test_the_scripted_attention_figures_come_from_the_cli(served: tuple[Daemon, Stream], tmp_path: Path) -> None:
    import subprocess
    import sys

    d, _ = served
    args = [str(a) for a in d.proc.args]  # type: ignore[union-attr]
    data = Path(args[args.index("--data-dir") + 1])
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "reviewer", "score", "--json", "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows and all("score" in r and "honeypots" in r for r in rows)
    assert sum(r["honeypots"]["shown"] for r in rows) >= 2
