"""A takeover during ``serve`` as a short demonstration, attached to the action it interrupted.

The person takes over (control leaves ``agent``): a demonstration opens, and every action
the recording stores until the resume joins it. The first agent action that comes back
``interrupted`` meanwhile (the one in flight, or else the first refused) is the action it
interrupted. At the resume (control back to ``agent``) the recording ends whatever is
pending at once (a typing burst would otherwise wait for its pause) and the
demonstration is stored (``shadow_demonstrations``); the first outcome after it, the one
that carries ``human_activity`` (the summary), carries it too as ``demonstration``: the
person's actions, in the agent's space, each with the path of its frame.

A password typed during the takeover (the recorder masked its burst: the focus was in a
password field) is masked in the intervention's summary too: in the control event's
``human_activity`` before the daemon stores and publishes it (this listener is installed
before the daemon's own), and in the resumed outcome's ``human_activity`` and ``detail``.

Stored rows hold the ids of the person's recorded actions, so exports read the actions
and frames from the recording itself (:mod:`daemon.shadow.preference` pairs a rejection
with the demonstration that followed it).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from daemon.commentary import MASK
from daemon.outcomes import DemonstratedAction, Demonstration, Outcome
from daemon.store import Store

__all__ = ["FRAME_PATH", "Demonstrations", "demonstrations", "recorded_action", "to_agent_action"]

FRAME_PATH = "/v1/shadow/frames/"
CLOSE_WAIT_S = 3.0  # the longest an outcome waits for the resume's flush to end


def _ensure(db: sqlite3.Connection) -> None:
    # created here, not by a schema version: see daemon/commentary.py
    db.execute(
        """CREATE TABLE IF NOT EXISTS shadow_demonstrations (
            takeover_id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES shadow_sessions (id),
            action_id TEXT,
            resumed_action_id TEXT,
            started REAL NOT NULL,
            ended REAL NOT NULL,
            actions_json TEXT NOT NULL
        )"""
    )


def to_agent_action(action: dict[str, Any], to_agent: Callable[[int, int], tuple[int, int]]) -> dict[str, Any]:
    """A recorded (screen-space) canonical action in the agent's space."""
    out = {k: v for k, v in action.items() if not (k == "steps" and not v)}
    if "x" in out and "y" in out:
        out["x"], out["y"] = to_agent(int(out["x"]), int(out["y"]))
    if "path" in out:
        out["path"] = [list(to_agent(int(p[0]), int(p[1]))) for p in out["path"]]
    out["space"] = "agent"
    return out


@dataclass
class _Open:
    takeover_id: str
    started: float
    action_id: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
    ended: float = 0.0

    @property
    def masked(self) -> bool:
        return any(r["action"].get("action") == "type" and r["action"].get("text") == MASK for r in self.rows)


class Demonstrations:
    """Wires a recording to the control events and to the daemon's outcomes."""

    def __init__(
        self,
        store: Store,
        session_id: str,
        session: str,
        flush: Callable[[], bool],
        to_agent: Callable[[int, int], tuple[int, int]],
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.session = session
        self._flush = flush
        self._to_agent = to_agent
        self._lock = threading.Lock()
        self._open: _Open | None = None
        self._ready: list[_Open] = []  # closed, not yet on an outcome
        with store.locked() as db:
            _ensure(db)

    # -- the recording's side (its worker thread) --------------------------------------------
    def on_action(self, row: dict[str, Any]) -> None:
        with self._lock:
            if self._open is not None:
                self._open.rows.append(row)

    # -- the intervention's side (observer, resume or API threads) ----------------------------
    def on_control(self, kind: str, payload: dict[str, Any]) -> None:
        if kind != "control":
            return
        if payload.get("from") == "agent":
            with self._lock:
                self._open = _Open(str(payload.get("takeover_id")), time.time())
        elif payload.get("to") == "agent":
            with self._lock:
                demo = self._open
            if demo is None:
                return
            self._flush()  # the person's last burst joins it before it closes
            with self._lock:
                self._open = None
                demo.ended = time.time()
                self._ready.append(demo)
            activity = payload.get("human_activity")
            if demo.masked and isinstance(activity, dict) and activity.get("text"):
                activity["text"] = MASK  # the daemon's listener stores this dict after us
            self._store(demo)
            demo.closed.set()

    def _store(self, demo: _Open) -> None:
        with self.store.locked() as db:
            db.execute(
                """INSERT OR REPLACE INTO shadow_demonstrations (takeover_id, session_id, action_id,
                       resumed_action_id, started, ended, actions_json) VALUES (?, ?, ?, NULL, ?, ?, ?)""",
                (demo.takeover_id, self.session_id, demo.action_id, demo.started, demo.ended,
                 json.dumps([r["id"] for r in demo.rows])),
            )  # fmt: skip

    # -- the daemon's side (Daemon.decorate, a worker thread) ----------------------------------
    def decorate(self, action_id: str, outcome: Outcome) -> Outcome:
        """The outcome, with the demonstration it follows (if it is the first after one)."""
        with self._lock:
            demo = self._open
            if demo is not None and outcome.status == "interrupted" and demo.action_id is None:
                demo.action_id = action_id
        if outcome.human_activity is None:
            return outcome
        if demo is not None:
            demo.closed.wait(CLOSE_WAIT_S)  # the resume is flushing the person's last actions
        with self._lock:
            if not self._ready:
                return outcome
            done = self._ready.pop(0)
            self._ready.clear()  # older ones were never delivered: too late for them now
        with self.store.locked() as db:
            db.execute(
                "UPDATE shadow_demonstrations SET resumed_action_id = ? WHERE takeover_id = ?",
                (action_id, done.takeover_id),
            )
        actions = tuple(
            DemonstratedAction(
                action=to_agent_action(r["action"], self._to_agent),
                frame=None if r["frame"] is None else FRAME_PATH + str(r["frame"]),
                window=r["window"],
                element=r["element"],
            )
            for r in done.rows
        )
        demo_out = Demonstration(
            takeover_id=done.takeover_id, interrupted=done.action_id, session=self.session, actions=actions
        )
        update: dict[str, Any] = {"demonstration": demo_out}
        act = outcome.human_activity
        if done.masked and act.text:
            hidden = act.model_copy(update={"text": MASK})
            update["human_activity"] = hidden
            # the sentence HumanActivity.summary() made of it (in screen space: not rebuilt)
            shown = act.text if len(act.text) <= 200 else act.text[:200] + "..."
            update["detail"] = outcome.detail.replace(f"typed {shown!r}", f"typed {MASK!r}")
        return outcome.model_copy(update=update)


def demonstrations(store: Store) -> list[dict[str, Any]]:
    """Every stored demonstration, oldest first: the takeover, the action it interrupted,
    and the ids of the person's recorded actions."""
    with store.locked() as db:
        _ensure(db)
        rows = db.execute("SELECT * FROM shadow_demonstrations ORDER BY started").fetchall()
    return [
        {"takeover_id": r["takeover_id"], "session_id": r["session_id"], "action_id": r["action_id"],
         "resumed_action_id": r["resumed_action_id"], "started": r["started"], "ended": r["ended"],
         "actions": json.loads(r["actions_json"])}
        for r in rows
    ]  # fmt: skip


def recorded_action(store: Store, action_id: str) -> dict[str, Any] | None:
    """One recorded action of the person's (canonical, screen space), by its id."""
    with store.locked() as db:
        row = db.execute("SELECT action_json FROM shadow_actions WHERE id = ?", (action_id,)).fetchone()
    return None if row is None else dict(json.loads(row["action_json"]))
