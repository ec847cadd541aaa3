"""Test reviews (honeypots) kept apart from real ones (schema v6): what each was, who answered.

A honeypot is a review the daemon made up to measure a reviewer's attention
(:mod:`daemon.review.honeypot`). Its review row sits in ``reviews`` like any other, so the
queue, the HTTP routes and the overlay treat it exactly as a real one; what makes it a test
lives only here, in tables no route and no event ever reads:

- ``honeypots``: one row per test review: its kind, why it is wrong (the sentence shown to
  a person who approved it), the review it replays (if any);
- ``honeypot_answers``: one row per decision on it: caught (rejected or corrected) or missed
  (approved or edited).

Every export and report reads :func:`honeypot_ids` to leave them out: a made-up wrong
action must never become training data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = ["Answer", "Honeypot", "answers", "get", "honeypot_ids", "is_honeypot", "migrate_v6",
           "record_answer", "record_honeypot"]  # fmt: skip

CAUGHT_VERDICTS = ("reject", "correct", "cancel")


def migrate_v6(db: sqlite3.Connection) -> None:
    """Honeypots (issue 11). Earlier databases gain two empty tables."""
    for sql in (
        """CREATE TABLE honeypots (
            review_id TEXT PRIMARY KEY,
            created REAL NOT NULL,
            kind TEXT NOT NULL,
            wrong TEXT NOT NULL,
            source_review_id TEXT
        )""",
        """CREATE TABLE honeypot_answers (
            decision_id TEXT PRIMARY KEY,
            review_id TEXT NOT NULL,
            at REAL NOT NULL,
            reviewer TEXT NOT NULL,
            reviewer_id TEXT NOT NULL,
            verdict TEXT NOT NULL,
            caught INTEGER NOT NULL,
            latency_ms REAL
        )""",
        "CREATE INDEX honeypot_answers_reviewer ON honeypot_answers (reviewer_id, reviewer, at)",
    ):
        db.execute(sql)


@dataclass(frozen=True, slots=True)
class Honeypot:
    """What a test review was: its kind and why the action it shows is wrong."""

    review_id: str
    created: float
    kind: str  # "replay" | "displaced" | "destructive" | "amount"
    wrong: str  # one sentence: why approving it was a mistake
    source_review_id: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """One person's decision on a honeypot."""

    decision_id: str
    review_id: str
    at: float
    reviewer: str
    reviewer_id: str
    verdict: str
    caught: bool
    latency_ms: float | None = None


def record_honeypot(store: Store, h: Honeypot) -> None:
    with store.locked() as db:
        db.execute(
            "INSERT INTO honeypots (review_id, created, kind, wrong, source_review_id) VALUES (?, ?, ?, ?, ?)",
            (h.review_id, h.created, h.kind, h.wrong, h.source_review_id),
        )


def record_answer(store: Store, a: Answer) -> None:
    with store.locked() as db:
        db.execute(
            """INSERT OR IGNORE INTO honeypot_answers (decision_id, review_id, at, reviewer,
                   reviewer_id, verdict, caught, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (a.decision_id, a.review_id, a.at, a.reviewer, a.reviewer_id, a.verdict,
             int(a.caught), a.latency_ms),
        )  # fmt: skip


def get(store: Store, review_id: str) -> Honeypot | None:
    with store.locked() as db:
        row = db.execute("SELECT * FROM honeypots WHERE review_id = ?", (review_id,)).fetchone()
    if row is None:
        return None
    return Honeypot(row["review_id"], row["created"], row["kind"], row["wrong"], row["source_review_id"])


def is_honeypot(store: Store, review_id: str) -> bool:
    with store.locked() as db:
        return db.execute("SELECT 1 FROM honeypots WHERE review_id = ?", (review_id,)).fetchone() is not None


def honeypot_ids(store: Store) -> frozenset[str]:
    """Every test review's id: what exports, reports and the audit leave out."""
    with store.locked() as db:
        return frozenset(r[0] for r in db.execute("SELECT review_id FROM honeypots"))


def answers(store: Store, reviewer: str | None = None) -> list[Answer]:
    """Decisions on honeypots, oldest first; ``reviewer`` matches a name or a reviewer id."""
    sql = "SELECT * FROM honeypot_answers"
    args: Iterable[Any] = ()
    if reviewer is not None:
        sql += " WHERE reviewer = ? OR reviewer_id = ?"
        args = (reviewer, reviewer)
    with store.locked() as db:
        rows = db.execute(sql + " ORDER BY at, rowid", tuple(args)).fetchall()
    return [
        Answer(r["decision_id"], r["review_id"], r["at"], r["reviewer"], r["reviewer_id"],
               r["verdict"], bool(r["caught"]), r["latency_ms"])
        for r in rows
    ]  # fmt: skip
