"""Reviewers with identities and roles, and the audit trail of their decisions (SQLite).

Schema version 4 of :mod:`daemon.store` (``migrate_v4``); the queries live here so the
store module stays one concept. A reviewer is a name, roles and a bearer token that is
shown once, when it is made (``driverseat reviewer add``), and never rests anywhere in
clear: the database holds its SHA-256. A token is 32 random bytes, so a plain (unsalted)
hash is enough: there is no dictionary to run against it, and looking it up by its hash
leaks nothing an attacker could use; the match is still confirmed with
:func:`hmac.compare_digest`.

The daemon's own token stays the admin/agent token. A reviewer token is accepted on the
review routes only (:mod:`daemon.api.app`), and a decision made with it is attributed to
its reviewer, whatever name the request claims.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daemon.errors import DaemonError

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = [
    "LOCAL", "TOKEN_PREFIX", "Identity", "ReviewerError", "Reviewers", "audit", "hash_token",
    "migrate_v4",
]  # fmt: skip

TOKEN_PREFIX = "dsr_"  # tells a reviewer token from the daemon's at a glance (and in a leak scan)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
ROLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # as a policy's approve_by spells it
_ROLE_RULE = "letters, digits, '-', '_' or '.' (at most 64, starting with a letter or digit)"
_NAME_RULE = "letters, digits, '-', '_', '.' or '@' (at most 64, starting with a letter or digit)"


class ReviewerError(DaemonError):
    """A reviewer that cannot be added or removed (a bad or taken name, an unknown one)."""


def migrate_v4(db: sqlite3.Connection) -> None:
    """Reviewers (issue 11). Earlier databases keep their rows; their decisions, made
    before identities existed, read as the local reviewer's."""
    for sql in (
        """CREATE TABLE reviewers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            roles_json TEXT NOT NULL DEFAULT '[]',
            token_sha256 TEXT NOT NULL UNIQUE,
            created REAL NOT NULL
        )""",
        # who decided, as a column: the audit filters on it
        "ALTER TABLE decisions ADD COLUMN reviewer_id TEXT NOT NULL DEFAULT 'local'",
        "CREATE INDEX decisions_at ON decisions (at)",
    ):
        db.execute(sql)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class Identity:
    """Who makes a decision: a registered reviewer, or the local one (the daemon's token)."""

    id: str
    name: str
    roles: tuple[str, ...] = ()
    created: float | None = None

    @property
    def local(self) -> bool:
        return self.id == LOCAL

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "roles": list(self.roles), "created": self.created}


LOCAL = "local"
"""The reviewer id of a decision made with the daemon's own token (the desktop overlay)."""


def _check_name(what: str, name: str, pattern: re.Pattern[str] = NAME, rule: str = _NAME_RULE) -> str:
    if not pattern.match(name):
        raise ReviewerError(f"{what} {name!r} is not usable: it needs {rule}")
    return name


class Reviewers:
    """The ``reviewers`` table of a :class:`~daemon.store.Store` (its connection and lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, name: str, roles: tuple[str, ...] | list[str] = ()) -> tuple[Identity, str]:
        """A new reviewer and its token: the only time the token exists in clear."""
        _check_name("the reviewer name", name)
        if name == LOCAL:
            raise ReviewerError(f"{LOCAL!r} is the desktop overlay's name; choose another")
        kept = tuple(dict.fromkeys(_check_name("the role", r, ROLE, _ROLE_RULE) for r in roles))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        who = Identity(uuid.uuid4().hex, name, kept, time.time())
        with self.store.locked() as db:
            try:
                db.execute(
                    """INSERT INTO reviewers (id, name, roles_json, token_sha256, created)
                       VALUES (?, ?, ?, ?, ?)""",
                    (who.id, name, json.dumps(list(kept)), hash_token(token), who.created),
                )
            except sqlite3.IntegrityError:
                raise ReviewerError(
                    f"a reviewer named {name!r} exists; remove it first to give it a new token"
                ) from None
        return who, token

    def remove(self, name: str) -> Identity:
        """Delete a reviewer: its token stops working at once (its decisions stay)."""
        with self.store.locked() as db:
            row = db.execute("SELECT * FROM reviewers WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise ReviewerError(f"no reviewer named {name!r} (`driverseat reviewer list`)")
            db.execute("DELETE FROM reviewers WHERE id = ?", (row["id"],))
        return _identity(row)

    def list(self) -> list[Identity]:
        with self.store.locked() as db:
            rows = db.execute("SELECT * FROM reviewers ORDER BY name").fetchall()
        return [_identity(r) for r in rows]

    def by_token(self, token: str | None) -> Identity | None:
        """The reviewer whose token this is, or None."""
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(token)
        with self.store.locked() as db:
            row = db.execute(
                "SELECT * FROM reviewers WHERE token_sha256 = ?", (digest,)
            ).fetchone()
        if row is None or not hmac.compare_digest(str(row["token_sha256"]), digest):
            return None
        return _identity(row)


def _identity(row: sqlite3.Row) -> Identity:
    return Identity(row["id"], row["name"], tuple(json.loads(row["roles_json"])), row["created"])


def audit(
    store: Store,
    *,
    since: float | None = None,
    reviewer: str | None = None,
    verdict: str | None = None,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Decisions, oldest first, with their review's rule, tier and action kind.

    ``reviewer`` matches the reviewer's name (or ``local``, every decision the desktop
    overlay made); ``since`` is epoch seconds.
    """
    # test reviews (honeypots) are not decisions on actions: `driverseat reviewer score` has them
    where: list[str] = ["d.review_id NOT IN (SELECT review_id FROM honeypots)"]
    params: list[Any] = []
    if since is not None:
        where.append("d.at >= ?")
        params.append(since)
    if reviewer is not None:
        where.append("(d.reviewer = ? OR d.reviewer_id = ?)")
        params += [reviewer, reviewer]
    if verdict is not None:
        where.append("d.verdict = ?")
        params.append(verdict)
    sql = (
        "SELECT d.decision_json, d.reviewer_id, r.tier, r.action_id, "
        "json_extract(r.review_json, '$.rule') AS rule, "
        "json_extract(r.review_json, '$.action.action') AS kind "
        "FROM decisions d JOIN reviews r ON r.id = d.review_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY d.at, d.rowid LIMIT ?"
    )
    with store.locked() as db:
        rows = db.execute(sql, (*params, max(0, limit))).fetchall()
    out = []
    for row in rows:
        d = json.loads(row["decision_json"])
        out.append({
            "at": d["at"], "review_id": d["review_id"], "decision_id": d["id"],
            "reviewer": d["reviewer"], "reviewer_id": row["reviewer_id"],
            "roles": d.get("roles", []), "verdict": d["verdict"],
            "latency_ms": d.get("latency_ms"), "rationale": d.get("rationale"),
            "rule": row["rule"], "tier": row["tier"], "action_id": row["action_id"],
            "kind": row["kind"],
        })  # fmt: skip
    return out
