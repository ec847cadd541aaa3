"""`kill -9` at every point of a review's life loses no review and no decision, and an
approved action never runs twice (issue 12, "Durable decisions").

A real `driverseat serve --no-overlay` holds a typed text for approval; the target
window counts what arrived. The daemon is killed with SIGKILL after the review is
created, after it is shown (GET /v1/reviews/{id}), right after the decision (the
approved action still queued behind another), and while the approved action types;
a second daemon on the same --data-dir must show the review and its decision, and the
text must have arrived exactly once (never twice) across both daemons. Killed
mid-execution, the action is recorded ``interrupted`` and not run again: typing it
again would type a second copy of what already arrived.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.live_daemon import Daemon, barrier, policy_with, settled, typed
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

RULE = """
[[rule]]
name = "test-durable"
tier = "approve"
kinds = ["type"]
text = "DURABLE"
"""
SHORT = "DURABLE once"
# long enough to be killed in the middle of (about 4 ms a character on these machines)
LONG = "DURABLE " + "abcdefghij" * 80


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    p = tmp_path / "policy.toml"
    p.write_text(policy_with(RULE))
    return p


class Restart:
    """The first daemon, its kill -9, and the second daemon on the same data dir."""

    def __init__(self, xserver: str, tmp_path: Path, policy: Path) -> None:
        self.xserver, self.data, self.policy = xserver, tmp_path / "data", policy
        self.first: Daemon | None = Daemon(xserver, self.data, policy)
        self.second: Daemon | None = None

    def kill9(self) -> Daemon:
        assert self.first is not None
        self.first.kill(signal.SIGKILL)
        self.first.close()
        self.second = Daemon(self.xserver, self.data, self.policy)
        return self.second

    def close(self) -> None:
        for d in (self.first, self.second):
            if d is not None:
                d.close()


@pytest.fixture
def restart(xserver: str, tmp_path: Path, policy: Path) -> Iterator[Restart]:
    r = Restart(xserver, tmp_path, policy)
    yield r
    r.close()


def propose(d: Daemon, text: str) -> dict[str, Any]:
    """Post a held text (the answer never comes: the daemon is killed); its review."""
    d.post_later("/v1/actions", {"action": "type", "text": text})
    reviews: list[dict[str, Any]] = settled(d.pending, 15, "the review")
    return reviews[0]


def row(d: Daemon, action_id: str) -> dict[str, Any]:
    r = d.http.get(f"/v1/actions/{action_id}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def finished(d: Daemon, action_id: str) -> dict[str, Any]:
    """The action's record once it has an outcome."""
    got: dict[str, Any] = settled(
        lambda: (a := row(d, action_id))["outcome"] is not None and a, 30, "the action's outcome"
    )
    return got


def arrived(d: Daemon, target: TargetWindow) -> str:
    """Everything the agent typed into the target before a barrier click sent now: with
    no sleep, nothing an earlier action sent can still be on its way."""
    barrier(d, target)
    return typed(target)


def approve(d: Daemon, review_id: str) -> dict[str, Any]:
    r = d.decide(review_id, "approve")
    assert r.status_code == 200, r.text
    decided: dict[str, Any] = r.json()
    return decided


def the_decision_survived(d: Daemon, review_id: str) -> dict[str, Any]:
    review: dict[str, Any] = d.http.get(f"/v1/reviews/{review_id}").json()
    assert review["status"] == "approved", review
    assert [(x["verdict"], x["reviewer"]) for x in review["decisions"]] == [
        ("approve", "tester@desk")
    ]
    return review


@pytest.mark.parametrize("shown", [False, True], ids=["created", "shown"])
def test_kill9_before_the_decision_loses_no_review(
    restart: Restart, target: TargetWindow, shown: bool
) -> None:
    assert restart.first is not None
    review = propose(restart.first, SHORT)
    if shown:  # the reviewer's client has fetched it, and its frame
        assert restart.first.http.get(f"/v1/reviews/{review['id']}").status_code == 200
        assert restart.first.http.get(f"/v1/reviews/{review['id']}/screenshot").status_code == 200
    second = restart.kill9()
    again = second.http.get(f"/v1/reviews/{review['id']}").json()
    assert again["status"] == "pending" and again["action_id"] == review["action_id"]
    assert [r["id"] for r in second.pending()] == [review["id"]]
    assert typed(target) == ""  # nothing ran before the decision
    approve(second, review["id"])
    done = finished(second, review["action_id"])
    assert done["status"] == "executed" and done["outcome"]["review_id"] == review["id"]
    the_decision_survived(second, review["id"])
    assert arrived(second, target) == SHORT


def busy_executor(d: Daemon) -> Callable[[], None]:
    """Keep the executor busy (a 30 s hold of Shift, which the typed count leaves out);
    returns once the hold is on, so an action approved now waits behind it unstarted."""
    from Xlib import XK, display

    d.post_later("/v1/actions", {"action": "hold_key", "keys": "shift", "duration": 30})
    core = display.Display()
    shift = core.keysym_to_keycode(XK.XK_Shift_L)

    def held() -> bool:
        return bool(core.query_keymap()[shift // 8] & (1 << (shift % 8)))

    settled(held, 10, "the executor's hold of shift")

    def done() -> None:
        core.close()

    return done


def test_kill9_right_after_the_decision_runs_it_once_after_the_restart(
    restart: Restart, target: TargetWindow
) -> None:
    first = restart.first
    assert first is not None
    review = propose(first, SHORT)
    done_waiting = busy_executor(first)
    try:
        after = approve(first, review["id"])  # on disk before this answer (queue.decide)
        assert after["status"] == "approved"
        second = restart.kill9()  # the approved action was still queued, never started
    finally:
        done_waiting()
    done = finished(second, review["action_id"])
    assert done["status"] == "executed", done
    assert done["outcome"]["review_id"] == review["id"]
    the_decision_survived(second, review["id"])
    assert arrived(second, target) == SHORT  # once, across both daemons
    assert second.pending() == []


def test_kill9_the_instant_the_decision_answers_never_runs_it_twice(
    restart: Restart, target: TargetWindow
) -> None:
    """With the executor idle the kill lands wherever it lands (before the start, mid-way,
    after the end): whichever, the decision survives, the action settles, and the text
    arrives at most once in all."""
    first = restart.first
    assert first is not None
    review = propose(first, SHORT)
    approve(first, review["id"])
    second = restart.kill9()
    done = finished(second, review["action_id"])
    assert done["status"] in ("executed", "interrupted"), done
    the_decision_survived(second, review["id"])
    got = arrived(second, target)
    assert SHORT.startswith(got), f"typed twice: {got!r}"
    if done["status"] == "executed":
        assert got == SHORT


def test_kill9_mid_execution_records_it_interrupted_and_never_runs_it_again(
    restart: Restart, target: TargetWindow
) -> None:
    first = restart.first
    assert first is not None
    review = propose(first, LONG)
    approve(first, review["id"])
    settled(lambda: len(typed(target)) >= 20, 30, "the approved text to start arriving")
    second = restart.kill9()
    before = typed(target)
    assert 20 <= len(before) < len(LONG), "the kill did not land mid-execution"
    done = finished(second, review["action_id"])
    assert done["status"] == "interrupted", done
    assert "not run again" in done["outcome"]["detail"], done["outcome"]["detail"]
    assert done["outcome"]["review_id"] == review["id"]
    the_decision_survived(second, review["id"])
    got = arrived(second, target)
    assert LONG.startswith(got) and got == before, f"typed again after the restart: {got!r}"
    # and a third start still does not run it
    second.kill(signal.SIGKILL)
    third = Daemon(restart.xserver, restart.data, restart.policy)
    try:
        assert row(third, review["action_id"])["status"] == "interrupted"
        assert arrived(third, target) == before
    finally:
        third.close()


def test_the_agent_reattaches_by_id_after_the_restart(
    restart: Restart, target: TargetWindow
) -> None:
    """What the agent that was waiting sees: its connection drops at the kill; by id, the
    second daemon answers with the outcome of the action the person approved."""
    first = restart.first
    assert first is not None
    fut = first.post_later("/v1/actions", {"action": "type", "text": SHORT})
    review = settled(first.pending, 15, "the review")[0]
    second = restart.kill9()
    with pytest.raises(httpx.HTTPError):
        fut.result(timeout=30)
    approve(second, review["id"])
    assert finished(second, review["action_id"])["status"] == "executed"
    assert arrived(second, target) == SHORT
