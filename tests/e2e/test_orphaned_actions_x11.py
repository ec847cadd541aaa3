"""An action a ``kill -9`` cut short, with no review to adopt it, is settled as
``interrupted`` by the next daemon, and an agent asking by id is told why (issue 12).

A real ``driverseat serve`` types a long text that the policy lets through (auto tier);
it is killed with SIGKILL while the text arrives in the target window. The second
daemon on the same --data-dir answers ``GET /v1/actions/{id}`` with ``interrupted`` and
a sentence saying the daemon stopped before the outcome was recorded, and does not type
the rest. A pending review of the same first daemon stays pending (the queue adopts it).
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.orphans import DETAIL
from tests.e2e.live_daemon import Daemon, barrier, policy_with, settled, typed
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

RULE = """
[[rule]]
name = "test-orphans-held"
tier = "approve"
kinds = ["type"]
text = "HELD"
"""
LONG = "abcdefghij" * 80  # ~4 ms a character: seconds to be killed in the middle of


@pytest.fixture
def first(xserver: str, tmp_path: Path) -> Iterator[tuple[Daemon, Path, Path]]:
    policy = tmp_path / "policy.toml"
    policy.write_text(policy_with(RULE))
    data = tmp_path / "data"
    d = Daemon(xserver, data, policy)
    yield d, data, policy
    d.close()


def rows(data: Path, status: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(f"file:{data / 'driverseat.db'}?mode=ro", uri=True)
    try:
        found = db.execute("SELECT id, kind FROM actions WHERE status = ?", (status,)).fetchall()
    finally:
        db.close()
    return [(str(i), str(k)) for i, k in found]


def test_kill9_mid_action_is_recorded_interrupted_after_the_restart(
    first: tuple[Daemon, Path, Path], xserver: str, target: TargetWindow
) -> None:
    daemon, data, policy = first
    held = daemon.post_later("/v1/actions", {"action": "type", "text": "HELD text"})
    review = settled(daemon.pending, 15, "the review")[0]
    daemon.post_later("/v1/actions", {"action": "type", "text": LONG})
    settled(lambda: len(typed(target)) >= 20, 30, "the text to start arriving")
    cut: list[tuple[str, str]] = [r for r in rows(data, "pending") if r[0] != review["action_id"]]
    assert [k for _, k in cut] == ["type"], cut
    daemon.kill(signal.SIGKILL)
    before = typed(target)
    assert 20 <= len(before) < len(LONG), "the kill did not land mid-action"
    with pytest.raises(Exception):  # noqa: B017 - the connection dropped, whichever error says so
        held.result(timeout=30)

    second = Daemon(xserver, data, policy)
    try:
        found: dict[str, Any] = second.http.get(f"/v1/actions/{cut[0][0]}").json()
        assert found["status"] == "interrupted", found
        assert found["outcome"]["status"] == "interrupted"
        assert found["outcome"]["detail"] == DETAIL and "killed" in DETAIL
        # the held one is still the person's to decide, not settled behind their back
        assert [r["id"] for r in second.pending()] == [review["id"]]
        assert second.http.get(f"/v1/actions/{review['action_id']}").json()["status"] == "pending"
        barrier(second, target)
        assert typed(target) == before  # the rest was not typed by the second daemon
        assert rows(data, "pending") == [(review["action_id"], "type")]
        second.reject_all_pending()
    finally:
        second.close()
