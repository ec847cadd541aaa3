"""The agent's commentary while it watches the person: stored beside the action it answers,
and its predicted action scored against what the person did.

Scoring follows the action-matching rules of the offline GUI-agent benchmarks, so an
agreement rate here means what it means in their papers:

- a click (or each end of a drag) agrees when it falls inside the box of the element the
  person clicked (ScreenSpot, Cheng et al. 2024: "inside the ground-truth bounding box";
  Mind2Web's element accuracy); where no element box is known, when it is within
  :data:`CLICK_DISTANCE` of the person's point in screen-normalised coordinates: the 14 %
  of Android in the Wild (Rawles et al. 2023, "tap ... within 14 % screen distance"),
  which AndroidControl's evaluation (Li et al. 2024) follows. The button and the click
  count (double, triple) must be the same;
- a scroll agrees on its direction (AitW's scroll rule: the direction, not the amount);
- typed text agrees when its normalised edit-distance similarity ``1 - lev(a, b) /
  max(len)`` is at least :data:`TEXT_SIMILARITY` (the normalised Levenshtein of ANLS,
  DocVQA; 0.8 rather than ANLS's 0.5, as typed input is not an answer to read: "hello"
  and "help" should not agree);
- key combos agree on the same key set, combo by combo (``ctrl+s`` = ``s+ctrl``; left and
  right modifiers are one key);
- a different kind disagrees (a click where the person typed).

Text the recorder masked (a password field) is never compared: such a comment is stored
unscored (``agrees`` None) and left out of the rate.

Tables are created here if missing (``CREATE TABLE IF NOT EXISTS``), not by a schema
version of :mod:`daemon.store`: other features add versions in parallel and this one
needs no migration of existing rows.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = [
    "CLICK_DISTANCE",
    "MASK",
    "TEXT_SIMILARITY",
    "Agreement",
    "CommentaryStore",
    "Score",
    "score",
    "similarity",
]

CLICK_DISTANCE = 0.14  # of the screen, in normalised coordinates (AitW, AndroidControl)
TEXT_SIMILARITY = 0.8  # normalised Levenshtein similarity at or above which text agrees
MASK = "********"  # what the recorder stores for text typed into a password field

_SAME_KEY = {"control": "ctrl", "control_l": "ctrl", "control_r": "ctrl", "ctrl_l": "ctrl",
             "ctrl_r": "ctrl", "alt_l": "alt", "alt_r": "alt", "meta": "alt", "meta_l": "alt",
             "meta_r": "alt", "shift_l": "shift", "shift_r": "shift", "super_l": "super",
             "super_r": "super", "win": "super", "cmd": "super", "return": "enter",
             "kp_enter": "enter", "escape": "esc"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Score:
    """``agrees`` None: not scored (masked text); ``why`` says how it was judged."""

    agrees: bool | None
    why: str
    distance: float | None = None  # normalised distance of a point, where one was compared
    similarity: float | None = None  # of typed text


def similarity(a: str, b: str) -> float:
    """1 - Levenshtein(a, b) / max(len(a), len(b)); 1.0 for two empty strings."""
    if not a and not b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def _point(
    p: tuple[float, float], q: tuple[float, float], box: list[int] | None, screen: tuple[int, int]
) -> tuple[bool, str, float]:
    w, h = max(1, screen[0]), max(1, screen[1])
    dist = math.hypot((p[0] - q[0]) / w, (p[1] - q[1]) / h)
    if box is not None:
        left, top, bw, bh = box
        inside = left <= p[0] < left + bw and top <= p[1] < top + bh
        return inside, ("inside" if inside else "outside") + " the element's box", dist
    near = dist <= CLICK_DISTANCE
    return near, f"{dist:.3f} of the screen away ({'within' if near else 'beyond'} {CLICK_DISTANCE:g})", dist


def _keys(spec: str) -> list[frozenset[str]]:
    return [
        frozenset(_SAME_KEY.get(k.lower(), k.lower()) for k in combo.split("+") if k)
        for combo in spec.split()
    ]


def _sign(n: float) -> int:
    return (n > 0) - (n < 0)


def score(
    predicted: dict[str, Any],
    person: dict[str, Any],
    element: dict[str, Any] | None,
    screen: tuple[int, int],
) -> Score:
    """Does ``predicted`` agree with what the person did? Both canonical actions in screen
    pixels; ``element`` the one recorded under the person's click (its ``box`` is
    ``[left, top, width, height]``), ``screen`` the recording's size."""
    kind, theirs = str(predicted.get("action")), str(person.get("action"))
    if kind != theirs:
        return Score(False, f"the agent would {kind}, the person did {theirs}")
    box = element.get("box") if element else None
    if kind == "click":
        for field in ("button", "count"):
            if predicted.get(field, "left" if field == "button" else 1) != person.get(field):
                return Score(False, f"another {field}: {predicted.get(field)} vs {person.get(field)}")
        ok, why, dist = _point((predicted["x"], predicted["y"]), (person["x"], person["y"]), box, screen)
        return Score(ok, why, distance=round(dist, 4))
    if kind == "drag":
        ends = []
        for i, at_box in ((0, box), (-1, None)):  # the element is under the press only
            p, q = predicted["path"][i], person["path"][i]
            ends.append(_point((p[0], p[1]), (q[0], q[1]), at_box, screen))
        ok = all(e[0] for e in ends)
        return Score(ok, f"start {ends[0][1]}; end {ends[1][1]}", distance=round(max(e[2] for e in ends), 4))
    if kind == "scroll":
        same = (_sign(predicted.get("dx", 0)), _sign(predicted.get("dy", 0))) == (
            _sign(person.get("dx", 0)), _sign(person.get("dy", 0)))  # fmt: skip
        return Score(same, "the same direction" if same else "another direction")
    if kind == "type":
        if person.get("text") == MASK:
            return Score(None, "the person typed into a password field: not compared")
        sim = similarity(str(predicted.get("text", "")), str(person.get("text", "")))
        ok = sim >= TEXT_SIMILARITY
        return Score(ok, f"text similarity {sim:.2f} ({'>=' if ok else '<'} {TEXT_SIMILARITY:g})",
                     similarity=round(sim, 4))  # fmt: skip
    if kind == "key":
        same = _keys(str(predicted.get("keys", ""))) == _keys(str(person.get("keys", "")))
        return Score(same, "the same keys" if same else "other keys")
    return Score(predicted == person, "compared as a whole")


def _ensure(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS shadow_commentary (
            id TEXT PRIMARY KEY,
            action_id TEXT NOT NULL REFERENCES shadow_actions (id),
            session_id TEXT NOT NULL REFERENCES shadow_sessions (id),
            agent TEXT NOT NULL,
            created REAL NOT NULL,
            predicted_json TEXT,
            words TEXT NOT NULL,
            agrees INTEGER,
            score_json TEXT,
            UNIQUE (action_id, agent)
        )"""
    )


@dataclass(frozen=True, slots=True)
class Agreement:
    session: str
    actions: int  # the person's actions in the session
    commented: int  # of them, answered by a comment
    scored: int  # comments with a prediction that was scored
    agreed: int

    @property
    def rate(self) -> float | None:
        return None if not self.scored else round(self.agreed / self.scored, 4)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate}


class CommentaryStore:
    """Commentary rows in a :class:`~daemon.store.Store` (its connection and lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.locked() as db:
            _ensure(db)

    def action(self, action_id: str) -> dict[str, Any] | None:
        """The recorded action a comment answers, with its session's screen size."""
        with self.store.locked() as db:
            r = db.execute(
                """SELECT a.id, a.session_id, a.action_json, a.element_json, s.name,
                          s.screen_w, s.screen_h
                   FROM shadow_actions a JOIN shadow_sessions s ON s.id = a.session_id
                   WHERE a.id = ?""",
                (action_id,),
            ).fetchone()
        if r is None:
            return None
        return {
            "id": r["id"], "session_id": r["session_id"], "session": r["name"],
            "action": json.loads(r["action_json"]),
            "element": json.loads(r["element_json"]) if r["element_json"] else None,
            "screen": (int(r["screen_w"]), int(r["screen_h"])),
        }  # fmt: skip

    def add(
        self,
        found: dict[str, Any],
        predicted: dict[str, Any] | None,
        words: str,
        agent: str,
    ) -> dict[str, Any]:
        """Store one comment on ``found`` (from :meth:`action`), scored if it predicts an
        action. Raises KeyError if this agent commented on that action already."""
        result = (
            None if predicted is None
            else score(predicted, found["action"], found["element"], found["screen"])
        )  # fmt: skip
        row = {
            "id": uuid.uuid4().hex, "action_id": found["id"], "session": found["session"],
            "agent": agent, "created": time.time(), "predicted": predicted, "words": words,
            "agrees": None if result is None else result.agrees,
            "score": None if result is None else asdict(result),
        }  # fmt: skip
        try:
            with self.store.locked() as db:
                db.execute(
                    """INSERT INTO shadow_commentary (id, action_id, session_id, agent, created,
                           predicted_json, words, agrees, score_json)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        row["id"], found["id"], found["session_id"], agent, row["created"],
                        None if predicted is None else json.dumps(predicted, ensure_ascii=False),
                        words, None if row["agrees"] is None else int(row["agrees"]),
                        None if result is None else json.dumps(row["score"]),
                    ),
                )  # fmt: skip
        except sqlite3.IntegrityError:
            raise KeyError(f"agent {agent!r} has commented on action {found['id']!r} already") from None
        return row

    def comments(self, session: str) -> list[dict[str, Any]]:
        """A session's comments in the order of the actions they answer."""
        with self.store.locked() as db:
            rows = db.execute(
                """SELECT c.*, a.seq FROM shadow_commentary c
                   JOIN shadow_actions a ON a.id = c.action_id
                   JOIN shadow_sessions s ON s.id = c.session_id
                   WHERE s.name = ? ORDER BY a.seq, c.created""",
                (session,),
            ).fetchall()
        return [
            {
                "id": r["id"], "action_id": r["action_id"], "seq": r["seq"], "agent": r["agent"],
                "created": r["created"], "words": r["words"],
                "predicted": json.loads(r["predicted_json"]) if r["predicted_json"] else None,
                "agrees": None if r["agrees"] is None else bool(r["agrees"]),
                "score": json.loads(r["score_json"]) if r["score_json"] else None,
            }
            for r in rows
        ]  # fmt: skip

    def agreement(self, session: str | None = None, since: float | None = None) -> list[Agreement]:
        """The agreement rate of each session (oldest first), or of the one named;
        ``since``: comments made from then on (epoch s)."""
        where, args = ("WHERE s.name = ?", (session,)) if session is not None else ("", ())
        t0 = since if since is not None else -math.inf
        with self.store.locked() as db:
            rows = db.execute(
                f"""SELECT s.name,
                       (SELECT COUNT(*) FROM shadow_actions a WHERE a.session_id = s.id) AS n,
                       (SELECT COUNT(DISTINCT c.action_id) FROM shadow_commentary c
                          WHERE c.session_id = s.id AND c.created >= ?) AS commented,
                       (SELECT COUNT(*) FROM shadow_commentary c WHERE c.session_id = s.id
                          AND c.agrees IS NOT NULL AND c.created >= ?) AS scored,
                       (SELECT COUNT(*) FROM shadow_commentary c WHERE c.session_id = s.id
                          AND c.agrees = 1 AND c.created >= ?) AS agreed
                   FROM shadow_sessions s {where} ORDER BY s.created, s.rowid""",
                (t0, t0, t0, *args),
            ).fetchall()
        return [Agreement(r["name"], r["n"], r["commented"], r["scored"], r["agreed"]) for r in rows]
