"""The questions table: what agents asked the person, and what they answered (SQLite).

Schema version 7 of :mod:`daemon.store` (``migrate_v7``); the queries live here so the
store module stays one concept. A question's frozen frame is a PNG file beside the
database (written before the row, so a row never names a missing file).

Nothing secret is ever written here: :meth:`QuestionStore.save` refuses a question whose
answer still carries the text of a secret (the desk strips it before saving), and never
stores an answer's image (it is made again from the frame when a reply needs it).
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from daemon.question import Question

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = ["QuestionStore", "migrate_v7"]


def migrate_v7(db: sqlite3.Connection) -> None:
    """Questions (issue 10). Earlier databases keep their rows and gain this table."""
    for sql in (
        # question_json is the whole Question (its answer included, secrets never);
        # status and expires are columns as well, to find the pending ones at a restart
        """CREATE TABLE questions (
            id TEXT PRIMARY KEY,
            created REAL NOT NULL,
            status TEXT NOT NULL,
            expires REAL NOT NULL,
            answered REAL,
            frame TEXT NOT NULL,
            question_json TEXT NOT NULL
        )""",
        "CREATE INDEX questions_status ON questions (status, created)",
    ):
        db.execute(sql)


class QuestionStore:
    """Question rows in a :class:`~daemon.store.Store` (its connection and lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, question: Question, frame: str) -> None:
        """Insert or update one question (its status, takeover and answer change)."""
        answer = question.answer
        if question.secret and answer is not None and answer.text is not None:
            raise ValueError("refusing to store the text of a secret answer")
        if answer is not None and answer.image is not None:
            question = question.model_copy(update={"answer": answer.model_copy(update={"image": None})})
        data = json.dumps(question.model_dump(mode="json"))
        with self.store.locked() as db:
            db.execute(
                """INSERT INTO questions (id, created, status, expires, answered, frame, question_json)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET
                       status = excluded.status,
                       answered = excluded.answered,
                       question_json = excluded.question_json""",
                (question.id, question.created, question.status, question.expires,
                 question.answered, frame, data),
            )  # fmt: skip

    def get(self, question_id: str) -> tuple[Question, str] | None:
        """The question and its frame's file name, or None."""
        with self.store.locked() as db:
            row = db.execute(
                "SELECT question_json, frame FROM questions WHERE id = ?", (question_id,)
            ).fetchone()
        if row is None:
            return None
        return Question.model_validate_json(row[0]), str(row[1])

    def with_status(self, status: str = "pending") -> list[tuple[Question, str]]:
        """Every question with ``status``, oldest first."""
        with self.store.locked() as db:
            rows = db.execute(
                "SELECT question_json, frame FROM questions WHERE status = ? ORDER BY created, rowid",
                (status,),
            ).fetchall()
        return [(Question.model_validate_json(r[0]), str(r[1])) for r in rows]
