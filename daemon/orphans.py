"""Actions an earlier daemon left without an outcome: settled as ``interrupted`` at start.

A daemon killed by ``kill -9`` (or a crash, or a power cut) never records the outcome
of the action it was running or about to run: its row stays ``pending`` (or
``running``) for ever, and an agent that re-attaches by id (``GET /v1/actions/{id}``)
would wait for an answer that cannot come. At start, before any new action, every such
row is given an ``interrupted`` outcome that says so.

Rows with a review are left alone: the review queue adopts them (a pending review waits
for its person again; a decided one runs at most once, see ``Gate.adopt``).
"""

from __future__ import annotations

import json

from daemon.outcomes import Control, Outcome
from daemon.store import Store

__all__ = ["DETAIL", "settle_orphans"]

DETAIL = (
    "driverseat stopped (it was killed or crashed) before this action's outcome was "
    "recorded: it may have run in full, in part, or not at all, and it is not run again; "
    "take a screenshot to see where things stand"
)


def settle_orphans(store: Store, control: Control = "agent") -> list[str]:
    """Record ``interrupted`` for every action left pending or running without a review;
    returns their ids, oldest first."""
    with store.locked() as db:
        rows = db.execute(
            """SELECT id, kind, dialect, action_json FROM actions a
               WHERE status IN ('pending', 'running')
                 AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.action_id = a.id)
               ORDER BY created, rowid"""
        ).fetchall()
    for action_id, kind, dialect, action_json in rows:
        outcome = Outcome(
            id=action_id, action=kind, status="interrupted", detail=DETAIL, control=control,
            space="agent",
        )  # fmt: skip
        store.record_action(action_id, dialect, json.loads(action_json), outcome)
    return [r[0] for r in rows]
