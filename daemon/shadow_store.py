"""The shadowing tables: recorded sessions, the person's actions, their frames (SQLite).

Schema version 3 of :mod:`daemon.store` (``migrate_v3``); the queries live here so the
store module stays one concept. Each action is its own transaction, written as soon as
the merger completes it: a recorder killed mid-session keeps every action it emitted.
Frames are files beside the database named by the SHA-256 of their bytes; a row of
``frames`` is written after its file (so a row never names a missing file), once.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = ["SessionInfo", "ShadowStore", "migrate_v3"]


def migrate_v3(db: sqlite3.Connection) -> None:
    """Shadowing (issue 8). Earlier databases keep their rows and gain these tables."""
    for sql in (
        """CREATE TABLE shadow_sessions (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created REAL NOT NULL,
            display TEXT NOT NULL,
            screen_w INTEGER NOT NULL,
            screen_h INTEGER NOT NULL,
            seconds REAL NOT NULL DEFAULT 0
        )""",
        # started/ended: epoch seconds of the action's first and last input event
        """CREATE TABLE shadow_actions (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES shadow_sessions (id),
            seq INTEGER NOT NULL,
            started REAL NOT NULL,
            ended REAL NOT NULL,
            kind TEXT NOT NULL,
            action_json TEXT NOT NULL,
            origin TEXT NOT NULL,
            window TEXT,
            element_json TEXT,
            frame_before TEXT REFERENCES frames (hash),
            frame_after TEXT REFERENCES frames (hash),
            UNIQUE (session_id, seq)
        )""",
        """CREATE TABLE frames (
            hash TEXT PRIMARY KEY,
            file TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            created REAL NOT NULL
        )""",
    ):
        db.execute(sql)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    name: str
    display: str
    screen_w: int
    screen_h: int
    seconds: float
    actions: int


class ShadowStore:
    """Shadowing rows in a :class:`~daemon.store.Store` (its connection and lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- writing ---------------------------------------------------------------------------
    def open_session(self, name: str, display: str, screen: tuple[int, int]) -> SessionInfo:
        """The session called ``name``, created if new (recording again appends to it)."""
        with self.store.locked() as db:
            db.execute(
                """INSERT INTO shadow_sessions (id, name, created, display, screen_w, screen_h)
                   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING""",
                (uuid.uuid4().hex, name, time.time(), display, screen[0], screen[1]),
            )
        info = self.session(name)
        assert info is not None
        return info

    def next_seq(self, session_id: str) -> int:
        with self.store.locked() as db:
            row = db.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM shadow_actions WHERE session_id = ?",
                (session_id,),
            ).fetchone()
        return int(row[0])

    def add_frame(self, digest: str, file: str, size: tuple[int, int], nbytes: int) -> bool:
        """Record a frame file; False if that content was stored before."""
        with self.store.locked() as db:
            cur = db.execute(
                """INSERT INTO frames (hash, file, width, height, bytes, created)
                   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING""",
                (digest, file, size[0], size[1], nbytes, time.time()),
            )
            return cur.rowcount == 1

    def has_frame(self, digest: str) -> bool:
        with self.store.locked() as db:
            return db.execute("SELECT 1 FROM frames WHERE hash = ?", (digest,)).fetchone() is not None

    def add_action(
        self,
        session_id: str,
        seq: int,
        span: tuple[float, float],
        action: dict[str, Any],
        *,
        origin: str,
        window: str | None,
        frame_before: str | None,
        element: dict[str, Any] | None = None,
    ) -> str:
        """One recorded action (its own transaction); returns its id."""
        action_id = uuid.uuid4().hex
        with self.store.locked() as db:
            db.execute(
                """INSERT INTO shadow_actions (id, session_id, seq, started, ended, kind,
                       action_json, origin, window, element_json, frame_before, frame_after)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)""",
                (
                    action_id, session_id, seq, span[0], span[1], str(action["action"]),
                    json.dumps(action, ensure_ascii=False), origin, window,
                    None if element is None else json.dumps(element, ensure_ascii=False),
                    frame_before,
                ),
            )  # fmt: skip
        return action_id

    def set_frame_after(self, action_id: str, digest: str) -> None:
        with self.store.locked() as db:
            db.execute("UPDATE shadow_actions SET frame_after = ? WHERE id = ?", (digest, action_id))

    def add_seconds(self, session_id: str, seconds: float) -> None:
        with self.store.locked() as db:
            db.execute(
                "UPDATE shadow_sessions SET seconds = seconds + ? WHERE id = ?",
                (seconds, session_id),
            )

    # -- reading ---------------------------------------------------------------------------
    def session(self, name: str) -> SessionInfo | None:
        rows = self._sessions("WHERE s.name = ?", (name,))
        return rows[0] if rows else None

    def sessions(self) -> list[SessionInfo]:
        """Every session, oldest first."""
        return self._sessions("", ())

    def _sessions(self, where: str, args: tuple[Any, ...]) -> list[SessionInfo]:
        with self.store.locked() as db:
            rows = db.execute(
                f"""SELECT s.*, (SELECT COUNT(*) FROM shadow_actions a WHERE a.session_id = s.id)
                       AS n FROM shadow_sessions s {where} ORDER BY s.created, s.rowid""",
                args,
            ).fetchall()
        return [
            SessionInfo(r["id"], r["name"], r["display"], r["screen_w"], r["screen_h"],
                        r["seconds"], r["n"])
            for r in rows
        ]  # fmt: skip

    def actions(self, session_id: str) -> list[dict[str, Any]]:
        """A session's actions in order, each with its frames' files (or None)."""
        with self.store.locked() as db:
            rows = db.execute(
                """SELECT a.*, fb.file AS before_file, fa.file AS after_file
                   FROM shadow_actions a
                   LEFT JOIN frames fb ON fb.hash = a.frame_before
                   LEFT JOIN frames fa ON fa.hash = a.frame_after
                   WHERE a.session_id = ? ORDER BY a.seq""",
                (session_id,),
            ).fetchall()
        return [
            {
                "id": r["id"],
                "seq": r["seq"],
                "started": r["started"],
                "ended": r["ended"],
                "action": json.loads(r["action_json"]),
                "origin": r["origin"],
                "window": r["window"],
                "element": json.loads(r["element_json"]) if r["element_json"] else None,
                "frame_before": r["before_file"],
                "frame_after": r["after_file"],
            }
            for r in rows
        ]

    def frame_bytes(self) -> int:
        with self.store.locked() as db:
            return int(db.execute("SELECT COALESCE(SUM(bytes), 0) FROM frames").fetchone()[0])
