"""The daemon's memory: actions and outcomes, control events, reviews, decisions (SQLite, WAL).

One connection guarded by a lock serves every thread: the writes are small and few
(one or two per action), so a connection pool would buy nothing but more ways to
hold a write lock. The schema carries ``PRAGMA user_version`` so later versions
migrate a database in place: add a function to ``_MIGRATIONS``, never edit one.

Screenshots are not stored inline: the outcome's image is reduced to its size and
type, and a review's frozen frame is a PNG file beside the database whose name the
review row holds (written by :mod:`daemon.review.queue` before the row, so a row never
names a missing file).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from capture.closing import Closing
from daemon.honeypot_store import migrate_v6
from daemon.outcomes import Decision, Outcome, Review
from daemon.question_store import migrate_v7
from daemon.reviewers import migrate_v4
from daemon.shadow_store import migrate_v3
from daemon.timings import migrate_v5, timing_in


def _v1(db: sqlite3.Connection) -> None:
    # one statement at a time: executescript() would commit the migration's transaction
    for sql in (
        """CREATE TABLE actions (
            id TEXT PRIMARY KEY,
            created REAL NOT NULL,
            kind TEXT NOT NULL,
            dialect TEXT NOT NULL,
            action_json TEXT NOT NULL,
            status TEXT NOT NULL,
            outcome_json TEXT,
            elapsed_ms REAL
        )""",
        "CREATE INDEX actions_created ON actions (created)",
        """CREATE TABLE interventions (
            id TEXT PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            payload_json TEXT NOT NULL
        )""",
        "CREATE INDEX interventions_at ON interventions (at)",
    ):
        db.execute(sql)


def _v2(db: sqlite3.Connection) -> None:
    """Reviews and decisions (issue 4). A v1 database keeps its rows and gains these."""
    for sql in (
        # review_json is the Review without its decisions (those are rows of `decisions`);
        # status, expires and decided are columns as well, to find pending/overdue ones.
        """CREATE TABLE reviews (
            id TEXT PRIMARY KEY,
            created REAL NOT NULL,
            action_id TEXT NOT NULL,
            tier TEXT NOT NULL,
            status TEXT NOT NULL,
            expires REAL,
            decided REAL,
            frame TEXT NOT NULL,
            rationales_required INTEGER NOT NULL DEFAULT 0,
            rationales_json TEXT NOT NULL DEFAULT '[]',
            review_json TEXT NOT NULL
        )""",
        "CREATE INDEX reviews_status ON reviews (status, created)",
        "CREATE INDEX reviews_action ON reviews (action_id)",
        """CREATE TABLE decisions (
            id TEXT PRIMARY KEY,
            review_id TEXT NOT NULL REFERENCES reviews (id),
            at REAL NOT NULL,
            reviewer TEXT NOT NULL,
            verdict TEXT NOT NULL,
            decision_json TEXT NOT NULL
        )""",
        "CREATE INDEX decisions_review ON decisions (review_id, at)",
    ):
        db.execute(sql)


# Index i upgrades a database from user_version i to i + 1.
_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1, _v2, migrate_v3, migrate_v4, migrate_v5, migrate_v6, migrate_v7,
]  # fmt: skip
SCHEMA_VERSION = len(_MIGRATIONS)


def _as_dict(obj: BaseModel | dict[str, Any]) -> dict[str, Any]:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", exclude_none=True)
    return dict(obj)


def outcome_for_storage(outcome: Outcome) -> dict[str, Any]:
    """The outcome as stored (and as sent on the event stream): images without pixels."""
    data = outcome.model_dump(mode="json", exclude={"screenshot"})
    if outcome.screenshot is not None:
        shot = outcome.screenshot
        data["screenshot"] = {
            "media_type": shot.media_type,
            "width": shot.width,
            "height": shot.height,
            "space": shot.space,
            "data_omitted": True,
        }
    return data


class Store(Closing):
    """Thread-safe SQLite store; a context manager that closes the connection on exit."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: autocommit, so each `with self._tx()` is one explicit transaction
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._closed = False
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across application crashes in WAL mode; only a power cut
            # may lose the last transactions, which is fine for an audit trail of a desktop.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer driverseat (schema {version}, this one "
                f"knows {SCHEMA_VERSION}); upgrade driverseat or use another --data-dir"
            )
        for i in range(version, SCHEMA_VERSION):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                _MIGRATIONS[i](self._db)
                self._db.execute(f"PRAGMA user_version = {i + 1}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- writing ---------------------------------------------------------------------------
    def record_action(
        self,
        action_id: str,
        dialect: str,
        action: BaseModel | dict[str, Any],
        outcome: Outcome | None = None,
        created: float | None = None,
    ) -> None:
        """Insert or update one action; ``outcome=None`` records it as ``pending``.

        Recording the same id again (pending first, then its outcome) updates the row
        and keeps its ``created`` time; ``action`` is then the action that ran (a person
        may have edited it: the proposal as sent stays in its review). ``created``: when
        it arrived, for a row first written with its outcome (default: now).
        """
        if isinstance(action, BaseModel):  # pydantic's JSON in one step (as _as_dict + dumps)
            action_json = action.model_dump_json(exclude_none=True)
            kind = str(getattr(action, "action", "?"))
        else:
            action_json = json.dumps(action)
            kind = str(action.get("action", "?"))
        row: tuple[Any, ...]
        at = time.time() if created is None else created
        if outcome is None:
            row = (action_id, at, kind, dialect, action_json, "pending", None, None)
        else:
            outcome_json = json.dumps(outcome_for_storage(outcome))
            row = (action_id, at, kind, dialect, action_json, outcome.status, outcome_json,
                   outcome.elapsed_ms)  # fmt: skip
        with self._lock:
            # the usual two writes of an action as the plain statements they are (a fresh id's
            # pending row, then its outcome), cheaper than the upsert that covers the rest
            if outcome is None:
                with contextlib.suppress(sqlite3.IntegrityError):
                    self._db.execute(
                        "INSERT INTO actions (id, created, kind, dialect, action_json, status, outcome_json, "
                        "elapsed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
                    return
            else:
                done = self._db.execute(
                    "UPDATE actions SET action_json = ?, status = ?, outcome_json = ?, elapsed_ms = ? "
                    "WHERE id = ?",
                    (action_json, row[5], row[6], row[7], action_id),
                )
                if done.rowcount:
                    return
            self._db.execute(
                """
                INSERT INTO actions (id, created, kind, dialect, action_json, status,
                                     outcome_json, elapsed_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    action_json = excluded.action_json,
                    status = excluded.status,
                    outcome_json = excluded.outcome_json,
                    elapsed_ms = excluded.elapsed_ms
                """,
                row,
            )

    def start_action(self, action_id: str) -> bool:
        """Mark a pending action ``running``, just before its first primitive; False (and
        nothing changed) if its row is no longer pending: it started before, in a daemon
        that died, and must not run twice. An action with no row at all may run."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE actions SET status = 'running' WHERE id = ? AND status = 'pending'",
                (action_id,),
            )
            if cur.rowcount == 1:
                return True
            row = self._db.execute("SELECT 1 FROM actions WHERE id = ?", (action_id,)).fetchone()
            return row is None

    def record_event(self, kind: str, payload: dict[str, Any], *, at: float | None = None) -> str:
        """Append one control event; returns its id (the payload's ``event_id`` if any)."""
        event_id = str(payload.get("event_id") or uuid.uuid4().hex)
        with self._lock:
            self._db.execute(
                "INSERT INTO interventions (id, at, kind, payload_json) VALUES (?, ?, ?, ?)",
                (
                    event_id,
                    time.time() if at is None else at,
                    kind,
                    json.dumps(payload, default=str),
                ),
            )
        return event_id

    # -- reading ---------------------------------------------------------------------------
    @staticmethod
    def _action_row(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "id": row["id"],
            "created": row["created"],
            "kind": row["kind"],
            "dialect": row["dialect"],
            "action": json.loads(row["action_json"]),
            "status": row["status"],
            "outcome": json.loads(row["outcome_json"]) if row["outcome_json"] else None,
            "elapsed_ms": row["elapsed_ms"],
        }

    def get_action(self, action_id: str) -> dict[str, Any] | None:
        """One action by id, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM actions WHERE id = ?", (action_id,)).fetchone()
        return None if row is None else self._action_row(row)

    def recent_actions(self, limit: int = 50) -> list[dict[str, Any]]:
        """The last ``limit`` actions, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM actions ORDER BY created DESC, rowid DESC LIMIT ?", (max(0, limit),)
            ).fetchall()
        return [self._action_row(r) for r in rows]

    def recent_events(self, limit: int = 50) -> list[dict[str, Any]]:
        """The last ``limit`` control events, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM interventions ORDER BY at DESC, rowid DESC LIMIT ?", (max(0, limit),)
            ).fetchall()
        return [
            {
                "id": r["id"],
                "at": r["at"],
                "kind": r["kind"],
                "payload": json.loads(r["payload_json"]),
            }
            for r in rows
        ]

    # -- reviews -----------------------------------------------------------------------------
    def record_review(
        self,
        review: Review,
        frame: str,
        *,
        rationales_required: bool = False,
        rationales: tuple[str, ...] | list[str] = (),
    ) -> None:
        """Insert a new review; ``frame`` names its PNG (relative to the frames directory)."""
        data = review.model_dump(mode="json", exclude={"decisions"})
        with self._lock:
            self._db.execute(
                """
                INSERT INTO reviews (id, created, action_id, tier, status, expires, decided,
                                     frame, rationales_required, rationales_json, review_json)
                VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)
                """,
                (
                    review.id,
                    review.created,
                    review.action_id,
                    review.tier,
                    review.status,
                    review.expires,
                    frame,
                    int(rationales_required),
                    json.dumps(list(rationales)),
                    json.dumps(data),
                ),
            )

    def record_decision(self, decision: Decision, status: str) -> None:
        """Append ``decision`` and set its review's status, in one transaction.

        ``status`` may still be ``pending`` (the first of two approvals); any other
        status stamps the review's ``decided`` time with the decision's.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    """INSERT INTO decisions (id, review_id, at, reviewer, reviewer_id, verdict,
                                              decision_json)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    (
                        decision.id,
                        decision.review_id,
                        decision.at,
                        decision.reviewer,
                        decision.reviewer_id,
                        decision.verdict,
                        json.dumps(decision.model_dump(mode="json")),
                    ),
                )
                self._set_status(
                    decision.review_id, status, None if status == "pending" else decision.at
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def set_review_status(self, review_id: str, status: str, at: float) -> None:
        """Resolve a review without a decision (``expired``); ``at`` is when."""
        with self._lock:
            self._set_status(review_id, status, at)

    def _set_status(self, review_id: str, status: str, at: float | None) -> None:
        # json_set keeps review_json's status equal to the column, so a reload needs one source
        self._db.execute(
            """UPDATE reviews SET status = ?, decided = ?,
                   review_json = json_set(review_json, '$.status', ?)
               WHERE id = ?""",
            (status, at, status, review_id),
        )

    def _review_row(self, row: sqlite3.Row) -> dict[str, Any]:
        decisions = self._db.execute(
            "SELECT decision_json FROM decisions WHERE review_id = ? ORDER BY at, rowid",
            (row["id"],),
        ).fetchall()
        review = json.loads(row["review_json"])
        review["decisions"] = [json.loads(d[0]) for d in decisions]
        review["timing"] = timing_in(self._db, row["id"]).model_dump(mode="json")
        return {
            "review": review,
            "frame": row["frame"],
            "decided": row["decided"],
            "rationales_required": bool(row["rationales_required"]),
            "rationales": json.loads(row["rationales_json"]),
        }

    def get_review(self, review_id: str) -> dict[str, Any] | None:
        """``{"review": <Review JSON with decisions>, "frame", "decided", "rationales_required",
        "rationales"}`` for one review, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM reviews WHERE id = ?", (review_id,)).fetchone()
            return None if row is None else self._review_row(row)

    def reviews_with_status(self, status: str = "pending") -> list[dict[str, Any]]:
        """Every review with ``status``, oldest first, shaped like :meth:`get_review`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM reviews WHERE status = ? ORDER BY created, rowid", (status,)
            ).fetchall()
            return [self._review_row(r) for r in rows]

    def reviews_unsettled(self) -> list[dict[str, Any]]:
        """Every review decided (or expired) whose action has no outcome yet, oldest first,
        shaped like :meth:`get_review`: a daemon died between the decision and the record
        of what became of the action (``pending``: it never started; ``running``: it had)."""
        with self._lock:
            rows = self._db.execute(
                """SELECT r.* FROM reviews r JOIN actions a ON a.id = r.action_id
                   WHERE r.status != 'pending' AND a.status IN ('pending', 'running')
                   ORDER BY r.created, r.rowid"""
            ).fetchall()
            return [self._review_row(r) for r in rows]

    @contextlib.contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the store's lock: for the rooms that keep tables of their
        own here (:mod:`daemon.shadow.store`) without growing this module."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.path} is closed")
            yield self._db

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
