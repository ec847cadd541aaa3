"""The SQLite store: round trips, pending -> outcome updates, versioning, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from daemon.actions import Click, Type
from daemon.outcomes import Image, Outcome, Progress
from daemon.store import SCHEMA_VERSION, Store


def _outcome(aid: str, status: str = "executed", **kw: object) -> Outcome:
    return Outcome(id=aid, action="click", status=status, elapsed_ms=4.5, **kw)  # type: ignore[arg-type]


def test_action_round_trip_and_pending_update(tmp_path: Path) -> None:
    with Store(tmp_path / "d.db") as store:
        action = Click(x=10, y=20, reason="open the menu")
        store.record_action("a1", "canonical", action)
        pending = store.get_action("a1")
        assert pending is not None
        assert pending["status"] == "pending" and pending["outcome"] is None
        assert pending["action"] == {
            "action": "click",
            "x": 10,
            "y": 20,
            "button": "left",
            "count": 1,
            "modifiers": [],
            "reason": "open the menu",
            "space": "agent",
            "steps": [],
        }
        created = pending["created"]

        store.record_action(
            "a1",
            "canonical",
            action,
            _outcome("a1", progress=Progress(done=1, total=1, unit="clicks")),
        )
        done = store.get_action("a1")
        assert done is not None
        assert done["status"] == "executed"
        assert done["created"] == created  # the update keeps the first record's time
        assert done["outcome"]["progress"] == {"done": 1, "total": 1, "unit": "clicks"}
        assert done["elapsed_ms"] == 4.5
        assert done["kind"] == "click" and done["dialect"] == "canonical"
        assert store.get_action("nope") is None


def test_screenshot_pixels_are_not_stored(tmp_path: Path) -> None:
    shot = Image(media_type="image/png", data="A" * 100_000, width=1920, height=1080)
    with Store(tmp_path / "d.db") as store:
        store.record_action(
            "s1", "anthropic", {"action": "screenshot"}, _outcome("s1", screenshot=shot)
        )
        row = store.get_action("s1")
    assert row is not None
    assert row["outcome"]["screenshot"] == {
        "media_type": "image/png",
        "width": 1920,
        "height": 1080,
        "space": "screen",
        "data_omitted": True,
    }
    with Store(tmp_path / "empty.db"):
        pass  # the schema's own pages grow with every migration: measure them, not guess them
    grown = (tmp_path / "d.db").stat().st_size - (tmp_path / "empty.db").stat().st_size
    assert grown < 50_000


def test_recent_actions_newest_first_with_limit(tmp_path: Path) -> None:
    with Store(tmp_path / "d.db") as store:
        for i in range(5):
            store.record_action(f"a{i}", "canonical", Type(text=f"t{i}"), _outcome(f"a{i}"))
        recent = store.recent_actions(3)
    assert [r["id"] for r in recent] == ["a4", "a3", "a2"]


def test_events_recorded_with_stable_ids(tmp_path: Path) -> None:
    with Store(tmp_path / "d.db") as store:
        given = store.record_event("control", {"event_id": "e1", "from": "agent", "to": "human"})
        fresh = store.record_event("control", {"from": "human", "to": "agent"})
        events = store.recent_events(10)
    assert given == "e1"
    assert len(fresh) == 32
    assert [e["id"] for e in events] == [fresh, "e1"]
    assert events[1]["payload"]["to"] == "human"


def test_persists_across_reopen_and_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    with Store(path) as store:
        store.record_action("keep", "canonical", Click(x=1, y=1), _outcome("keep"))
        assert store.schema_version == SCHEMA_VERSION >= 1
    with Store(path) as again:
        assert again.get_action("keep") is not None
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer driverseat"):
        Store(path)


def test_writes_from_many_threads(tmp_path: Path) -> None:
    errors: list[sqlite3.Error] = []
    with Store(tmp_path / "d.db") as store:

        def work(n: int) -> None:
            try:
                for i in range(25):
                    store.record_action(
                        f"{n}-{i}", "canonical", Click(x=i, y=n), _outcome(f"{n}-{i}")
                    )
                    store.record_event("control", {"n": n, "i": i})
            except sqlite3.Error as exc:  # handed back to the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(store.recent_actions(1000)) == 200
        assert len(store.recent_events(1000)) == 200


def test_start_action_marks_a_pending_action_running_once(tmp_path: Path) -> None:
    with Store(tmp_path / "d.db") as store:
        store.record_action("a1", "canonical", Type(text="hi"))
        assert store.start_action("a1") is True
        found = store.get_action("a1")
        assert found is not None and found["status"] == "running"
        assert store.start_action("a1") is False  # a second start: it must not run twice
    with Store(tmp_path / "d.db") as again:  # nor after a restart
        assert again.start_action("a1") is False
        assert again.start_action("never-recorded") is True  # nothing on record says it started
        again.record_action("a1", "canonical", Type(text="hi"), _outcome("a1", "interrupted"))
        assert again.start_action("a1") is False
