"""The readiness report's numbers, read from the store: no HTML here (that is :mod:`.page`).

Definitions (the page states them too):

- an *agent action* is a row of ``actions`` (every action an agent sent, run or not);
- an *intervention* is a change of control away from the agent (``interventions`` rows of
  kind ``control`` with ``from: agent``): a takeover (to ``human``) or a stop;
- a *correction* is a review the person corrected (clicked the right spot) or edited; a
  *fix* is a correction, a rejection or an intervention: the person had to step in;
- review latency is ``decided - created``; it splits into *waiting* (until the person
  turned to it) and *deciding* (from then to the decision) at the review's ``timing``
  (:mod:`daemon.timings`): the moment it was first looked at (the overlay had the
  person's input or focus), else first shown; for reviews from before timings, where
  the overlay sent ``shown_at``, the decision's ``latency_ms`` (shown -> decided) is the
  deciding part;
- the stage: *learner* while fixes per 1,000 agent actions exceed the supervisor
  threshold (or there are fewer actions than the minimum), *supervisor* (about 5 % of
  actions reviewed: the risky tiers) below it, *auditor* (offline review only) below the
  auditor threshold.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from daemon.commentary import Agreement, CommentaryStore
from daemon.report.attention_table import gather_attention
from daemon.store import Store

__all__ = ["Figures", "Thresholds", "bucket_seconds", "gather", "stage"]

OUTCOMES = ("approved", "corrected", "edited", "rejected", "expired", "cancelled")
_FIXES = ("corrected", "edited", "rejected")


@dataclass(frozen=True, slots=True)
class Thresholds:
    supervisor_per_1000: float = 50.0  # fixes per 1,000 actions at or below: supervisor
    auditor_per_1000: float = 5.0  # ... at or below: auditor
    min_actions: int = 500  # fewer agent actions than this support no stage past learner


@dataclass(slots=True)
class Bucket:
    start: float
    actions: int = 0
    interventions: int = 0
    corrections: int = 0
    questions: int = 0  # the agent asked the person (daemon/ask)

    def per_1000(self, n: int) -> float | None:
        return None if not self.actions else round(1000 * n / self.actions, 1)


@dataclass(slots=True)
class Latency:
    total: list[float] = field(default_factory=list)  # seconds
    waiting: list[float] = field(default_factory=list)
    deciding: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Figures:
    since: float | None
    first: float | None
    last: float | None
    bucket_s: float
    actions: int
    interventions: Counter[str]  # "takeover" / "stop" -> count
    statuses: Counter[str]  # review status -> count, pending included
    by_tier: dict[str, Counter[str]]
    by_rule: dict[str, Counter[str]]
    buckets: list[Bucket]
    latency: Latency
    corrected_frames: list[dict[str, Any]]  # the latest corrections: review JSON, frame, points
    shadow_sessions: int
    shadow_actions: int
    agreement: list[Agreement] = field(default_factory=list)  # per session, commented ones
    attention: list[dict[str, Any]] = field(default_factory=list)  # per reviewer (attention_table)
    questions: Counter[str] = field(default_factory=Counter)  # status -> count, pending included
    answers: Counter[str] = field(default_factory=Counter)  # answer kind -> count
    answer_waits: list[float] = field(default_factory=list)  # seconds, asked -> answered

    @property
    def reviews(self) -> int:
        return sum(self.statuses.values())

    @property
    def corrections(self) -> int:
        return self.statuses["corrected"] + self.statuses["edited"]

    @property
    def fixes(self) -> int:
        return sum(self.statuses[s] for s in _FIXES) + sum(self.interventions.values())

    def per_1000(self, n: int) -> float | None:
        return None if not self.actions else round(1000 * n / self.actions, 1)


def bucket_seconds(span: float) -> float:
    """An hour, a day or a week: the smallest that keeps the curve to about 60 points."""
    for size in (3600.0, 86400.0, 7 * 86400.0):
        if span / size <= 60:
            return size
    return 30 * 86400.0


def _one(db: Any, sql: str, args: tuple[Any, ...]) -> list[Any]:
    return list(db.execute(sql, args).fetchall())


def gather(store: Store, since: float | None = None, frames_shown: int = 6) -> Figures:
    """Read every figure of the report from ``store``, from ``since`` (epoch s) on."""
    t0 = since if since is not None else -math.inf
    with store.locked() as db:
        actions = [r[0] for r in _one(db, "SELECT created FROM actions WHERE created >= ?", (t0,))]
        controls = _one(db, "SELECT at, payload_json FROM interventions WHERE kind = 'control' AND at >= ?", (t0,))
        reviews = _one(db, """SELECT * FROM reviews WHERE created >= ? AND id NOT IN
                               (SELECT review_id FROM honeypots) ORDER BY created""", (t0,))  # tests apart
        finals = {
            r["review_id"]: json.loads(r["decision_json"])
            for r in _one(db, """SELECT review_id, decision_json FROM decisions WHERE review_id IN
                                 (SELECT id FROM reviews WHERE created >= ?) ORDER BY at, rowid""", (t0,))
        }  # fmt: skip  (ordered: the last decision of a review wins, the one that resolved it)
        seen = {
            r[0]: r[1] if r[1] is not None else r[2]
            for r in _one(db, """SELECT id, looked, shown FROM timings WHERE kind = 'review' AND id IN
                                 (SELECT id FROM reviews WHERE created >= ?)""", (t0,))
        }  # fmt: skip  (the moment the person turned to it: looked at, else shown)
        shadow = _one(db, "SELECT (SELECT COUNT(*) FROM shadow_sessions), (SELECT COUNT(*) FROM shadow_actions)", ())
        asked = _one(db, "SELECT created, status, answered, question_json FROM questions WHERE created >= ?", (t0,))
    fixes_at: list[tuple[float, str]] = []
    interventions: Counter[str] = Counter()
    for at, payload in controls:
        p = json.loads(payload)
        if p.get("from") == "agent" and p.get("to") in ("human", "stopped"):
            kind = "takeover" if p["to"] == "human" else "stop"
            interventions[kind] += 1
            fixes_at.append((float(at), "intervention"))
    statuses: Counter[str] = Counter()
    by_tier: dict[str, Counter[str]] = defaultdict(Counter)
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    latency = Latency()
    corrected: list[dict[str, Any]] = []
    for r in reviews:
        review = json.loads(r["review_json"])
        status = str(r["status"])
        statuses[status] += 1
        by_tier[str(r["tier"])][status] += 1
        by_rule[str(review.get("rule", "?"))][status] += 1
        if status in ("corrected", "edited"):
            fixes_at.append((float(r["created"]), "correction"))
        decision = finals.get(r["id"])
        if r["decided"] is not None and decision is not None:
            total = max(0.0, float(r["decided"]) - float(r["created"]))
            latency.total.append(total)
            turned = seen.get(r["id"])
            if turned is not None:
                waiting = min(total, max(0.0, float(turned) - float(r["created"])))
                latency.waiting.append(waiting)
                latency.deciding.append(total - waiting)
            elif decision.get("latency_ms") is not None:
                deciding = min(total, float(decision["latency_ms"]) / 1000)
                latency.deciding.append(deciding)
                latency.waiting.append(total - deciding)
        if status == "corrected" and decision is not None:
            corrected.append({"review": review, "frame": r["frame"], "points": decision.get("points", [])})
    questions: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    waits: list[float] = []
    for created, q_status, answered, data in asked:
        questions[str(q_status)] += 1
        answer_kind = (json.loads(data).get("answer") or {}).get("kind")
        if q_status == "answered" and answer_kind is not None:
            answers[str(answer_kind)] += 1
            if answered is not None:
                waits.append(max(0.0, float(answered) - float(created)))
    times = sorted(actions) + [t for t, _ in fixes_at] + [float(r[0]) for r in asked]
    first, last = (min(times), max(times)) if times else (None, None)
    size = bucket_seconds((last or 0) - (first or 0))
    buckets: dict[int, Bucket] = {}

    def bucket(t: float) -> Bucket:
        k = int(t // size)
        return buckets.setdefault(k, Bucket(k * size))

    for t in actions:
        bucket(t).actions += 1
    for t, what in fixes_at:
        b = bucket(t)
        if what == "intervention":
            b.interventions += 1
        else:
            b.corrections += 1
    for r in asked:
        bucket(float(r[0])).questions += 1
    return Figures(
        since=since, first=first, last=last, bucket_s=size, actions=len(actions),
        interventions=interventions, statuses=statuses, by_tier=dict(by_tier), by_rule=dict(by_rule),
        buckets=[buckets[k] for k in sorted(buckets)], latency=latency,
        corrected_frames=corrected[-frames_shown:], shadow_sessions=int(shadow[0][0]),
        shadow_actions=int(shadow[0][1]), attention=gather_attention(store),
        agreement=[a for a in CommentaryStore(store).agreement(since=since) if a.commented],
        questions=questions, answers=answers, answer_waits=waits,
    )  # fmt: skip


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def p90(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(0.9 * len(s)) - 1)]


def stage(f: Figures, t: Thresholds) -> tuple[str, str]:
    """The stage the figures support and why, in one sentence."""
    rate = f.per_1000(f.fixes)
    if f.actions < t.min_actions:
        return "learner", (
            f"{f.actions} agent action(s), fewer than the {t.min_actions} needed to judge more "
            "autonomy: keep reviewing most actions"
        )
    assert rate is not None
    if rate <= t.auditor_per_1000:
        return "auditor", f"{rate:g} fixes per 1,000 actions, at or below {t.auditor_per_1000:g}: review offline"
    if rate <= t.supervisor_per_1000:
        return "supervisor", (
            f"{rate:g} fixes per 1,000 actions, at or below {t.supervisor_per_1000:g} (above "
            f"{t.auditor_per_1000:g}): review the risky tiers, about 5 % of actions"
        )
    return "learner", f"{rate:g} fixes per 1,000 actions, above {t.supervisor_per_1000:g}: review most actions"
