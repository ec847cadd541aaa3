"""The review queue: actions held for a person, persisted, decided, expired.

A review freezes what the person needs to judge an action: the screenshot taken when
it was proposed (a PNG in ``frames_dir``, named by its database row), the action in
agent and screen space, the agent's reason, confidence, goal, steps and screen text.

Rules of :meth:`ReviewQueue.decide`: ``approve`` resolves a review, but ``approve2``
needs approvals from two distinct reviewers; ``reject``, ``correct`` and ``edit``
resolve any review at once; ``correct`` gives one screen point (two for a drag:
start and end); ``edit`` replaces fields of the action (``text``, ``keys``...), never
its kind, its points (a correction moves those) nor the agent's own words; ``cancel``
is for a ``grace`` review only; where the policy asks for a rationale, letting an action
run (approve, edit) needs one from its list, and stopping it takes the person's own words;
a rule's ``approve_by`` and ``rationale_min_length`` are checked in :mod:`daemon.review.checks`.

Threads: one lock guards the pending reviews and the store writes that change them;
a waiter (:meth:`ReviewQueue.wait`, on an event loop) is an asyncio event set through
``call_soon_threadsafe``; listeners are called after the lock is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from capture.coords import Rect
from daemon import timings
from daemon.outcomes import Decision, DecisionRequest, Review, ReviewStatus, Tier, Urgency, Verdict
from daemon.review.checks import (
    BadDecision,
    DuplicateApproval,
    ReviewConflict,
    ReviewError,
    RoleRequired,
    UnknownReview,
    check_box,
    check_edit,
    check_points,
    check_rationale,
    check_roles,
    quote,
    rationale_refusal,
)
from daemon.review.choice import check_choice
from daemon.review.policy import REVIEW_TIERS
from daemon.reviewers import LOCAL, Identity
from daemon.store import Store

__all__ = [
    "BadDecision", "DuplicateApproval", "Listener", "ReviewConflict",
    "ReviewError", "ReviewQueue", "RoleRequired", "UnknownReview", "rationale_refusal",
]  # fmt: skip

log = logging.getLogger("driverseat.reviews")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RESOLVED: dict[Verdict, ReviewStatus] = {
    "approve": "approved", "reject": "rejected", "correct": "corrected", "edit": "edited",
    "cancel": "cancelled",
}  # fmt: skip

ApprovalNeeds = Callable[[Review, Identity, str, float], int]
"""Approvals a review needs when ``(review, who, name, now)`` approves it: at least
``review.needed``; may raise :class:`RoleRequired` (:mod:`daemon.review.rotation`)."""
Listener = Callable[[str, Review], None]
"""Called with ``("created" | "decided" | "expired", review)`` on the thread that made the
change; ``decided`` includes the first approval of an ``approve2`` (still pending)."""
_Notes = list[tuple[str, Review]]  # listener calls to make once the lock is released


@dataclass(slots=True)
class _Entry:
    review: Review
    frame: str
    rationales_required: bool
    rationales: tuple[str, ...]



class ReviewQueue:
    """Pending reviews in memory and in ``store``; frames as PNG files in ``frames_dir``.

    A new queue on the same store (after a restart) reloads every pending review.
    """

    def __init__(self, store: Store, frames_dir: str | Path) -> None:
        self.store = store
        self.frames_dir = Path(frames_dir)
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.listeners: list[Listener] = []
        self.clock: Callable[[], float] = time.time  # when decisions are made (tests: a fake)
        self.approval_needs: ApprovalNeeds | None = None  # attention and fatigue (rotation)
        self._lock = threading.RLock()
        self._pending: dict[str, _Entry] = {}
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._closing = False  # a shutdown began (abort_waiting)
        self._long_polls: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()  # of _waiters
        for row in store.reviews_with_status("pending"):
            review = Review.model_validate(row["review"])
            self._pending[review.id] = _Entry(
                review, row["frame"], row["rationales_required"], tuple(row["rationales"])
            )

    # -- creating --------------------------------------------------------------------------
    def create(
        self, action_id: str, action: BaseModel | dict[str, Any],
        screen_action: BaseModel | dict[str, Any], tier: Tier, rule: str, screenshot_png: bytes,
        screen_rect: tuple[int, int, int, int], agent_size: tuple[int, int], *,
        expires_in: float | None = None, rationales_required: bool = False,
        rationales: Sequence[str] = (), roles_required: Sequence[str] = (),
        rationale_min_length: int | None = None, now: float | None = None,
        safety_checks: Sequence[str] = (), urgency: Urgency = "normal",
    ) -> Review:  # fmt: skip
        """Freeze ``action`` into a pending review; its frame is saved before its row.

        ``screen_rect`` is the frame's ``(left, top, width, height)`` on the desktop;
        ``expires_in`` (seconds) makes it expire; a rationale must come from
        ``rationales`` (when given) if ``rationales_required``.
        """
        # the caller's mistakes (ValueError, CaptureError), not the reviewer's: a 500
        now = time.time() if now is None else now
        if tier not in REVIEW_TIERS:
            raise ValueError(f"a {tier!r} action is never reviewed, only {quote(REVIEW_TIERS)}")
        if not screenshot_png.startswith(PNG_SIGNATURE):
            raise ValueError("the review's screenshot must be a PNG image")
        if expires_in is not None and not 0 < expires_in < float("inf"):
            raise ValueError(f"expires_in must be a positive number of seconds: {expires_in!r}")
        Rect(*screen_rect)  # CaptureError unless it has an area
        Rect(0, 0, *agent_size)
        data = action.model_dump(mode="json") if isinstance(action, BaseModel) else dict(action)
        if isinstance(screen_action, BaseModel):
            screen_action = screen_action.model_dump(mode="json")
        review = Review(
            id=uuid.uuid4().hex, action_id=action_id, action=data,
            screen_action=dict(screen_action), tier=tier, rule=rule,
            needed=2 if tier == "approve2" else 1, created=now,
            expires=None if expires_in is None else now + expires_in,
            steps=tuple(data.get("steps") or ()),
            **{k: data.get(k) for k in ("reason", "confidence", "goal", "screen_text")},
            screen_rect=tuple(screen_rect), agent_size=tuple(agent_size),
            rationales_required=rationales_required, rationales=tuple(rationales),
            roles_required=tuple(roles_required), rationale_min_length=rationale_min_length,
            safety_checks=tuple(safety_checks), urgency=urgency,
        )  # fmt: skip
        entry = _Entry(review, f"{review.id}.png", rationales_required, tuple(rationales))
        # write-then-rename: a crash never leaves half a frame under a name a row points to
        tmp = self.frames_dir / f".{entry.frame}.tmp"
        tmp.write_bytes(screenshot_png)
        os.replace(tmp, self.frames_dir / entry.frame)
        with self._lock:
            try:
                self.store.record_review(
                    review, entry.frame, rationales_required=rationales_required,
                    rationales=entry.rationales,
                )  # fmt: skip
            except BaseException:
                (self.frames_dir / entry.frame).unlink(missing_ok=True)
                raise
            self._pending[review.id] = entry
        self._notify([("created", review)])
        return review

    # -- reading ---------------------------------------------------------------------------
    def get(self, review_id: str, now: float | None = None) -> Review | None:
        """The review as it stands (an overdue pending one is expired first), or None."""
        notes: _Notes = []
        try:
            with self._lock:
                entry = self._pending.get(review_id)
                if entry is None:
                    return self._stored(review_id)
                if self._overdue(entry, now):
                    return self._resolve(entry, "expired", now, notes)
                return entry.review
        finally:
            self._notify(notes)

    def pending(self, now: float | None = None) -> list[Review]:
        """Every pending review, oldest first (overdue ones are expired first)."""
        self.expire(now)
        with self._lock:
            return sorted((e.review for e in self._pending.values()), key=lambda r: r.created)

    def unsettled(self) -> list[Review]:
        """Reviews decided (or expired) whose action's outcome was never recorded: an
        earlier daemon died in between (see :meth:`Store.reviews_unsettled`)."""
        return [Review.model_validate(row["review"]) for row in self.store.reviews_unsettled()]

    def screenshot(self, review_id: str) -> bytes:
        """The review's frozen frame: PNG, screen pixels of its ``screen_rect``."""
        row = self.store.get_review(review_id)  # the row names the file: ids never build paths
        if row is None:
            raise UnknownReview(f"no review with id {review_id!r}")
        try:
            return (self.frames_dir / str(row["frame"])).read_bytes()
        except FileNotFoundError:
            raise UnknownReview(f"the screenshot of review {review_id!r} is gone") from None

    def _stored(self, review_id: str) -> Review | None:
        row = self.store.get_review(review_id)
        return None if row is None else Review.model_validate(row["review"])

    def seen(self, review_id: str, moment: timings.Moment, now: float | None = None) -> Review:
        """Note that the overlay showed a review (``shown``) or that the person first gave it
        input or focus (``looked``); the first report of each counts. Any review, pending or
        not (a report may come just after the decision). Raises :class:`UnknownReview`."""
        now = time.time() if now is None else now
        with self._lock:
            entry = self._pending.get(review_id)
            if entry is None and self.store.get_review(review_id) is None:
                raise UnknownReview(f"no review with id {review_id!r}")
            timing = timings.record(self.store, "review", review_id, moment, now)
            if entry is not None:
                entry.review = entry.review.model_copy(update={"timing": timing})
                return entry.review
        found = self._stored(review_id)
        assert found is not None
        return found

    # -- deciding --------------------------------------------------------------------------
    def decide(
        self, review_id: str, req: DecisionRequest, now: float | None = None, *,
        by: Identity | None = None,
    ) -> Review:  # fmt: skip
        """Apply one person's decision; returns the review after it (see the module rules).

        ``by`` is who decides (a reviewer token's reviewer); without it, the local
        reviewer named ``req.reviewer``, holding no role. Raises :class:`UnknownReview`
        (404), :class:`RoleRequired` (403), :class:`ReviewConflict` /
        :class:`DuplicateApproval` (409) or :class:`BadDecision` (422).
        """
        now = self.clock() if now is None else now
        who = by if by is not None else Identity(LOCAL, req.reviewer)
        if not who.local:  # a token's reviewer is who the token says, not who the body claims
            req = req.model_copy(update={"reviewer": who.name})
        notes: _Notes = []
        try:
            with self._lock:
                return self._decide(review_id, req, now, notes, who)
        finally:
            self._notify(notes)

    def _decide(
        self, review_id: str, req: DecisionRequest, now: float, notes: _Notes, who: Identity
    ) -> Review:
        entry = self._pending.get(review_id)
        if entry is None:
            done = self._stored(review_id)
            if done is None:
                raise UnknownReview(f"no review with id {review_id!r}")
            raise ReviewConflict(f"review {review_id} is already {done.status}")
        if self._overdue(entry, now):
            self._resolve(entry, "expired", now, notes)
            raise ReviewConflict(f"review {review_id} expired before this decision came")
        review = entry.review
        check_roles(review, req, who)
        check_rationale(review, req, entry.rationales_required, entry.rationales)
        status = _RESOLVED[req.verdict]
        if req.verdict == "cancel" and review.tier != "grace":
            raise BadDecision("only a grace-window review can be cancelled; reject this one")
        if req.verdict == "approve":
            # distinct people: a registered reviewer by id, the local ones by the name they send
            approvers = {(d.reviewer_id, d.reviewer) for d in review.decisions if d.verdict == "approve"}
            if (who.id, req.reviewer) in approvers:
                raise DuplicateApproval(
                    f"{req.reviewer} already approved review {review_id}; "
                    "the second approval must come from another reviewer"
                )
            if self.approval_needs is not None and review.tier != "grace":
                needed = self.approval_needs(review, who, req.reviewer, now)
                review = review.model_copy(update={"needed": max(review.needed, needed)})
            if len(approvers) + 1 < review.needed:
                status = "pending"
        if req.box is not None and (req.verdict != "correct" or len(req.points) != 1):
            raise BadDecision("a drawn box goes with a correction to one point (not a drag, not another verdict)")
        if req.verdict == "correct":
            check_points(review, req.points)
            if req.box is not None:
                check_box(review, req.points[0], req.box)
        edited = check_edit(review, req.edited) if req.verdict == "edit" else None
        candidate, ranking, preferred = check_choice(review, req)
        decision = Decision(
            id=uuid.uuid4().hex, review_id=review_id, reviewer=req.reviewer,
            verdict=req.verdict, at=now, rationale=req.rationale, edited=edited,
            latency_ms=_latency(req.shown_at if req.shown_at is not None else review.timing.shown, now),
            points=req.points if req.verdict == "correct" else (), box=req.box,
            reviewer_id=who.id, roles=who.roles,
            candidate=candidate, ranking=ranking, preferred=preferred,
        )  # fmt: skip
        self.store.record_decision(decision, status)
        decisions = (*review.decisions, decision)
        timing = review.timing
        if status != "pending":  # answered: the decision that resolved it (not approve2's first yes)
            timing = timings.record(self.store, "review", review_id, "answered", now)
        after = review.model_copy(update={"status": status, "decisions": decisions, "timing": timing})
        if status == "pending":
            entry.review = after
        else:
            self._finish(after)
        notes.append(("decided", after))
        return after

    # -- expiry ----------------------------------------------------------------------------
    def expire(self, now: float | None = None) -> list[Review]:
        """Mark every overdue pending review ``expired``; returns them."""
        notes: _Notes = []
        try:
            with self._lock:
                overdue = [e for e in self._pending.values() if self._overdue(e, now)]
                return [self._resolve(e, "expired", now, notes) for e in overdue]
        finally:
            self._notify(notes)

    def expire_now(self, review_id: str, now: float | None = None) -> Review:
        """Expire one pending review whatever its deadline (a grace window cut short by a
        restart); a review no longer pending comes back as it is."""
        notes: _Notes = []
        try:
            with self._lock:
                entry = self._pending.get(review_id)
                if entry is not None:
                    return self._resolve(entry, "expired", now, notes)
            done = self._stored(review_id)
            if done is None:
                raise UnknownReview(f"no review with id {review_id!r}")
            return done
        finally:
            self._notify(notes)

    @staticmethod
    def _overdue(entry: _Entry, now: float | None) -> bool:
        expires = entry.review.expires
        return expires is not None and (time.time() if now is None else now) >= expires

    def _resolve(
        self, entry: _Entry, status: ReviewStatus, now: float | None, notes: _Notes
    ) -> Review:
        """Lock held: resolve a review without a decision (``expired``)."""
        self.store.set_review_status(entry.review.id, status, time.time() if now is None else now)
        after = entry.review.model_copy(update={"status": status})
        self._finish(after)
        notes.append((status, after))
        return after

    def _finish(self, review: Review) -> None:
        """Lock held: take a resolved review out of pending and wake its waiters."""
        self._pending.pop(review.id, None)
        for loop, event in self._waiters.pop(review.id, ()):
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                loop.call_soon_threadsafe(event.set)

    # -- waiting ---------------------------------------------------------------------------
    def abort_waiting(self) -> None:
        """At shutdown: every long poll (:meth:`wait` with ``long_poll``) returns now, with the
        review as it stands, and any that begins later returns at once: a long poll must
        not hold uvicorn's graceful shutdown until it gives up and answers 500."""
        with self._lock:
            self._closing = True
            for loop, event in self._long_polls:
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                    loop.call_soon_threadsafe(event.set)

    async def wait(self, review_id: str, timeout: float, *, long_poll: bool = False) -> Review:
        """The review once it is no longer pending, or as it stands after ``timeout`` s.

        Returns at once for a resolved review, raises :class:`UnknownReview` for an
        unknown id; a review that expires meanwhile comes back ``expired`` at its expiry.
        ``long_poll`` (an API request's wait) also returns at :meth:`abort_waiting`, and at
        once after it; the gate's own waits end by being cancelled (Gate.abort_waiting).
        """
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        expires: float | None = None
        with self._lock:
            entry = self._pending.get(review_id)
            if entry is not None:
                self._waiters.setdefault(review_id, set()).add(waiter)
                if long_poll:
                    self._long_polls.add(waiter)
                expires = entry.review.expires
            closing = self._closing and long_poll
        if entry is None:
            if (done := self._stored(review_id)) is None:
                raise UnknownReview(f"no review with id {review_id!r}")
            return done
        limit = 0.0 if closing else max(0.0, timeout)
        if expires is not None:
            limit = min(limit, max(0.0, expires - time.time()))
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), limit)
        finally:
            with self._lock:
                self._long_polls.discard(waiter)
                waiting = self._waiters.get(review_id, set())
                waiting.discard(waiter)
                if not waiting:
                    self._waiters.pop(review_id, None)
        if (found := self.get(review_id)) is None:  # only if the row vanished meanwhile
            raise UnknownReview(f"no review with id {review_id!r}")
        return found

    # -- listeners -------------------------------------------------------------------------
    def _notify(self, notes: _Notes) -> None:
        for kind, review in notes:
            for listener in list(self.listeners):
                try:
                    listener(kind, review)
                except Exception:  # a broken subscriber must not undo a recorded decision
                    log.exception("review listener failed on %s of %s", kind, review.id)


def _latency(shown_at: float | None, now: float) -> float | None:
    """Shown -> decided, in ms: from the reviewer's own ``shown_at``, else from when the
    overlay reported showing the review (None when neither is known)."""
    return None if shown_at is None else max(0.0, (now - shown_at) * 1e3)
