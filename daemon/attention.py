"""Is the reviewer paying attention? Signals per reviewer, one score, and time on duty.

Read from the store (decisions, their reviews, the honeypot answers, the outcomes'
feedback), so the daemon, ``driverseat reviewer score`` and the readiness report agree.
The figures (docs/reviewers.md, "Attention score"):

- **catch rate**: of the test reviews (honeypots) this reviewer answered, the share
  rejected or corrected;
- **reading**: of the approvals that carry a latency, the share that took at least half
  the time the review needs to be read: ``needed_ms = LOOK_MS + words * 60000 / WPM``
  (``WPM`` = 250 words a minute, ``LOOK_MS`` = 1 s to look at the frame; the words are the
  agent's reason, goal, steps, the screen text, the model's safety checks and the text or
  keys the action types). A 40-word reason needs 10.6 s: approved in 300 ms, it was not read;
- **streak**: ``min(1, STREAK_OK / s)`` for ``s`` the approvals in a row ending with the
  latest decision (1 until it passes ``STREAK_OK`` = 20);
- **agreement**: of the corrections whose outcome names both elements from the
  accessibility tree, the share that moved the target onto another element (a correction
  landing on the element the agent had named already disagrees with the tree).

``score = 100 * sum(w * c) / sum(w)`` over the signals that have data, with weights
catch 0.4, reading 0.3, streak 0.2, agreement 0.1; ``None`` when none has data.

Time on duty: the stretch of decisions ending with the latest one, where no two follow
each other more than ``break_s`` apart (30 minutes), measured up to ``now``; a reviewer
whose last decision is older than ``break_s`` has rested and is at 0.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from daemon.honeypot_store import answers

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = [
    "BREAK_S", "LOOK_MS", "STREAK_OK", "WEIGHTS", "WPM", "Attention", "Decided", "attention",
    "decided", "needed_ms", "on_duty", "reviewers_seen", "score", "words",
]  # fmt: skip

WPM = 250.0
LOOK_MS = 1000.0
STREAK_OK = 20
BREAK_S = 30 * 60.0
WEIGHTS = {"catch": 0.4, "reading": 0.3, "streak": 0.2, "agreement": 0.1}
HISTORY = 500  # the latest decisions a score looks at: attention now, not last year's
_LETS_RUN = ("approve", "edit")


def words(review: dict[str, Any]) -> int:
    """The words a person must read to judge ``review`` (a Review as JSON)."""
    action = review.get("action") or {}
    parts: list[Any] = [review.get("reason"), review.get("goal"), review.get("screen_text"),
                        action.get("text"), action.get("keys"),
                        *(review.get("steps") or ()), *(review.get("safety_checks") or ())]  # fmt: skip
    return sum(len(str(p).split()) for p in parts if p)


def needed_ms(n_words: int) -> float:
    """How long reading ``n_words`` and looking at the frame takes at WPM."""
    return LOOK_MS + n_words * 60_000.0 / WPM


@dataclass(frozen=True, slots=True)
class Decided:
    """One decision, as the signals need it."""

    at: float
    verdict: str
    tier: str
    latency_ms: float | None
    words: int
    honeypot: bool = False
    caught: bool | None = None  # honeypots only
    # corrections: whether the element the person chose differs from the agent's (a11y)
    moved_element: bool | None = None


@dataclass(slots=True)
class Attention:
    """A reviewer's figures and score (``as_json`` is what the CLI and the API print)."""

    reviewer: str
    decisions: int
    score: float | None
    signals: dict[str, float | None]
    honeypots: dict[str, int]
    unread_approvals: int
    approvals_timed: int
    streak: int
    approval_rate_by_tier: dict[str, float]
    median_decision_ms: float | None
    on_duty_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("extra"))
        return out


def score(signals: dict[str, float | None]) -> float | None:
    """The documented weighted mean, 0-100, over the signals that have data."""
    have = {k: v for k, v in signals.items() if v is not None}
    if not have:
        return None
    total = sum(WEIGHTS[k] for k in have)
    return round(100.0 * sum(WEIGHTS[k] * v for k, v in have.items()) / total, 1)


def on_duty(times: Iterable[float], now: float, break_s: float = BREAK_S) -> float:
    """Seconds of the current stretch of reviewing (see the module docstring)."""
    ts = sorted(times)
    if not ts or now - ts[-1] > break_s:
        return 0.0
    start = ts[-1]
    for t in reversed(ts[:-1]):
        if start - t > break_s:
            break
        start = t
    return max(0.0, now - start)


def attention(reviewer: str, rows: Sequence[Decided], now: float | None = None,
              break_s: float = BREAK_S) -> Attention:  # fmt: skip
    """The figures of one reviewer's decisions (oldest first)."""
    lets_run = [d for d in rows if d.verdict in _LETS_RUN]
    timed = [d for d in lets_run if d.latency_ms is not None]
    unread = [d for d in timed if d.latency_ms is not None and d.latency_ms < needed_ms(d.words) / 2]
    pots = [d for d in rows if d.honeypot]
    caught = sum(1 for d in pots if d.caught)
    streak = 0
    for d in reversed(rows):
        if d.tier == "grace" or d.verdict not in _LETS_RUN:
            break
        streak += 1
    moved = [d.moved_element for d in rows if d.moved_element is not None]
    signals: dict[str, float | None] = {
        "catch": caught / len(pots) if pots else None,
        "reading": 1 - len(unread) / len(timed) if timed else None,
        "streak": (1.0 if streak <= STREAK_OK else STREAK_OK / streak) if rows else None,
        "agreement": sum(moved) / len(moved) if moved else None,
    }
    by_tier: dict[str, Counter[bool]] = {}
    for d in rows:
        by_tier.setdefault(d.tier, Counter())[d.verdict in _LETS_RUN] += 1
    rates = {t: round(c[True] / (c[True] + c[False]), 3) for t, c in sorted(by_tier.items())}
    latencies = [d.latency_ms for d in rows if d.latency_ms is not None]
    return Attention(
        reviewer=reviewer, decisions=len(rows), score=score(signals),
        signals={k: None if v is None else round(v, 3) for k, v in signals.items()},
        honeypots={"shown": len(pots), "caught": caught, "missed": len(pots) - caught},
        unread_approvals=len(unread), approvals_timed=len(timed), streak=streak,
        approval_rate_by_tier=rates,
        median_decision_ms=round(statistics.median(latencies), 1) if latencies else None,
        on_duty_s=0.0 if now is None else round(on_duty([d.at for d in rows], now, break_s), 1),
    )  # fmt: skip


def _moved(outcome_json: str | None) -> bool | None:
    if not outcome_json:
        return None
    feedback = (json.loads(outcome_json) or {}).get("feedback") or {}
    chose, had = feedback.get("element"), feedback.get("proposed_element")
    if not (isinstance(chose, dict) and isinstance(had, dict)):
        return None
    if chose.get("source") != "a11y" or had.get("source") != "a11y":
        return None  # a guess from pixels says nothing about what the tree names
    return bool(chose.get("box") != had.get("box") or chose.get("name") != had.get("name"))


def decided(store: Store, reviewer_id: str, name: str | None = None, limit: int = HISTORY) -> list[Decided]:
    """The latest ``limit`` decisions of a reviewer, oldest first. A registered reviewer is
    its id; the local one (``local``) is also its name, each desktop user their own."""
    where = "d.reviewer_id = ?"
    args: list[Any] = [reviewer_id]
    if name is not None:
        where += " AND d.reviewer = ?"
        args.append(name)
    sql = f"""SELECT d.id, d.decision_json, r.review_json, r.tier, a.outcome_json
              FROM decisions d JOIN reviews r ON r.id = d.review_id
              LEFT JOIN actions a ON a.id = r.action_id
              WHERE {where} ORDER BY d.at DESC, d.rowid DESC LIMIT ?"""
    with store.locked() as db:
        rows = db.execute(sql, (*args, max(0, limit))).fetchall()
    pots = {a.decision_id: a for a in answers(store, reviewer_id if name is None else name)}
    out = []
    for row in reversed(rows):
        d, review = json.loads(row["decision_json"]), json.loads(row["review_json"])
        pot = pots.get(row["id"])
        out.append(Decided(
            at=float(d["at"]), verdict=str(d["verdict"]), tier=str(row["tier"]),
            latency_ms=d.get("latency_ms"), words=words(review), honeypot=pot is not None,
            caught=pot.caught if pot is not None else None,
            moved_element=_moved(row["outcome_json"]) if d["verdict"] == "correct" else None,
        ))  # fmt: skip
    return out


def reviewers_seen(store: Store) -> list[tuple[str, str | None, str]]:
    """``(reviewer_id, name or None, label)`` of everyone who decided something: registered
    reviewers by id, local ones by name (the grace window's own decisions left out)."""
    with store.locked() as db:
        rows = db.execute(
            """SELECT d.reviewer_id, d.reviewer, COALESCE(v.name, d.reviewer) AS label
               FROM decisions d LEFT JOIN reviewers v ON v.id = d.reviewer_id
               WHERE d.reviewer NOT LIKE 'driverseat:%'
               GROUP BY d.reviewer_id, CASE WHEN d.reviewer_id = 'local' THEN d.reviewer END
               ORDER BY label"""
        ).fetchall()
    return [(r["reviewer_id"], r["reviewer"] if r["reviewer_id"] == "local" else None, r["label"])
            for r in rows]  # fmt: skip
