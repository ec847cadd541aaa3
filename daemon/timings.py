"""When each waiting item reached the person: shown, first looked at, answered (SQLite).

Schema version 5 of :mod:`daemon.store` (``migrate_v5``). One row per review or
question, keyed by its id (ids are uuid4 hex, so reviews and questions never collide);
``kind`` says which. Each moment is kept the first time it is reported and never moved
afterwards: an overlay that reconnects and shows a review again does not make it look
newer, and the readiness report (:mod:`daemon.report.figures`) splits the wait for a
person (opened -> looked at) from the decision itself (looked at -> answered).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Literal

from daemon.outcomes import Timing

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = ["MOMENTS", "ItemKind", "Moment", "migrate_v5", "record", "timing", "timing_in"]

ItemKind = Literal["review", "question"]
Moment = Literal["shown", "looked", "answered"]
MOMENTS: tuple[Moment, ...] = ("shown", "looked", "answered")


def migrate_v5(db: sqlite3.Connection) -> None:
    """Timings (issue 10). Earlier databases keep their rows; their items have no timing."""
    db.execute(
        """CREATE TABLE timings (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            shown REAL,
            looked REAL,
            answered REAL
        )"""
    )


def record(store: Store, kind: ItemKind, item_id: str, moment: Moment, at: float) -> Timing:
    """Note ``moment`` of an item at ``at`` unless it was noted before; the timing after.

    Being looked at implies being shown: a ``looked`` with no ``shown`` yet sets both (an
    overlay on another machine may report only the first)."""
    if moment not in MOMENTS:
        raise ValueError(f"unknown moment {moment!r}")
    with store.locked() as db:
        db.execute("INSERT INTO timings (id, kind) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                   (item_id, kind))  # fmt: skip
        # the column name comes from MOMENTS, never from the caller's text
        db.execute(f"UPDATE timings SET {moment} = COALESCE({moment}, ?) WHERE id = ?", (at, item_id))
        if moment == "looked":
            db.execute("UPDATE timings SET shown = COALESCE(shown, looked) WHERE id = ?", (item_id,))
        return timing_in(db, item_id)


def timing(store: Store, item_id: str) -> Timing:
    """The item's timing (all None if nothing was reported)."""
    with store.locked() as db:
        return timing_in(db, item_id)


def timing_in(db: sqlite3.Connection, item_id: str) -> Timing:
    """The same on a connection the caller holds (the store's lock held)."""
    row = db.execute("SELECT shown, looked, answered FROM timings WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        return Timing()
    return Timing(shown=row[0], looked=row[1], answered=row[2])
