"""The approval gate: what the policy says about an action, and what the person said.

Between an agent's request and the executor sits :meth:`Gate.admit`. It judges the
action in screen space (the one conversion happened at the daemon's boundary) and
answers :class:`Cleared` (run it, possibly as a person edited it) or :class:`Held`
(it will not run, and why):

- ``auto`` / ``notify``: cleared at once (``notify`` is also published as an event);
- ``deny``: held, naming the rule; nothing runs;
- ``grace``: a review with a countdown (the overlay shows a toast with Cancel); cleared
  when the window passes, unless the person cancels;
- ``approve`` / ``approve2``: the screen is frozen into a review and the person answers
  on the overlay: approve (cleared as proposed), edit (cleared as edited), correct
  (held; the agent gets spatial feedback), reject (held), or nobody in time (expired).

The gate never runs anything itself: whoever owns the executor runs what it cleared.
After a restart :meth:`Gate.adopt` waits again on every pending review. A grace window
cut short by a restart is not resumed: its review expires and the action does not run
(nobody chose to let it run, and the moment it was proposed for has passed). Reviews
decided before a restart whose action's outcome was never recorded are answered again
from their decision; the Daemon runs a Cleared one only if it had not started.

:class:`OpenGate` is the gate of ``--policy off``: everything is cleared, nothing is
ever held for a person, and :meth:`OpenGate.ask` refuses (403).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from capture.a11y import Element
from capture.coords import Scaling
from daemon.actions import LOOK_KINDS, MAX_LONG_POLL, Action, parse_action
from daemon.outcomes import DecisionRequest, Feedback, Review, Status, Tier
from daemon.review import feedback as fb
from daemon.review.choice import chosen, run_as, strictest
from daemon.review.honeypot import Honeypots
from daemon.review.policy import Policy, Ruling, action_kind, evaluate
from daemon.review.queue import BadDecision, ReviewError, ReviewQueue, UnknownReview
from daemon.review.rotation import Rotation

__all__ = [
    "GRACE_REVIEWER", "Cleared", "Gate", "Held", "OpenGate", "Proposal", "ReviewsOff",
    "Ruling",
]  # fmt: skip

FrameGrabber = Callable[[], bytes]  # PNG of the agent's monitor, screen pixels, 1:1
TitleFn = Callable[[], str | None]
Publish = Callable[[dict[str, Any]], None]
ElementAt = Callable[[int, int], Element | None]  # screen point -> accessible there (bounded)
GRACE_REVIEWER = "driverseat:grace-window"
GRACE_MARGIN_S = 0.05


class Attention(Protocol):
    """Told when a review is on the person's screen (their input then answers it), and when
    an undo window (the grace toast) is: it holds no input, but a hand reaching it is not
    a takeover."""

    def review_opened(self) -> None: ...

    def review_closed(self) -> None: ...

    def toast_opened(self) -> None: ...

    def toast_closed(self) -> None: ...


class _Nobody:
    def review_opened(self) -> None:
        pass

    def review_closed(self) -> None:
        pass

    def toast_opened(self) -> None:
        pass

    def toast_closed(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Proposal:
    """One action an agent proposed: its stable id, as sent, and in screen space."""

    id: str
    action: Action  # as the agent sent it (its own space): what the record shows
    screen: Action  # the same action in screen space: what is judged and what runs


@dataclass(frozen=True, slots=True)
class _Answer:
    ruling: Ruling
    review: Review | None = None
    feedback: Feedback | None = None
    candidate: int | None = None  # which candidate runs, when the action carried alternatives

    def annotations(self) -> dict[str, Any]:
        """What the outcome says about the gate: tier and rule (unless auto), review, feedback."""
        out: dict[str, Any] = {}
        if self.ruling.tier != "auto":
            out.update(tier=self.ruling.tier, rule=self.ruling.rule)
        if self.review is not None:
            out["review_id"] = self.review.id
        if self.feedback is not None:
            out["feedback"] = self.feedback
        ran = getattr(self, "action", None)
        if self.candidate is not None and ran is not None:
            out.update(candidate=self.candidate, candidate_action=ran.model_dump(mode="json"))
        return out


@dataclass(frozen=True, slots=True)
class Cleared(_Answer):
    """Run ``screen``; ``action`` is the same in the agent's space (edited if a person edited it)."""

    action: Action = field(kw_only=True)
    screen: Action = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class Held(_Answer):
    """It does not run: ``status`` is denied, rejected, expired or corrected; ``detail`` says why."""

    status: Status = field(kw_only=True)
    detail: str = field(kw_only=True)


Answer = Cleared | Held


class ReviewsOff(ReviewError):
    """A person's review was asked for, but reviews are off (``--policy off``): 403."""

    status = 403


class Gate:
    """The policy and the review queue between the agent and the executor."""

    def __init__(
        self,
        policy: Policy,
        queue: ReviewQueue,
        scaling: Scaling,
        *,
        grab_frame: FrameGrabber,
        window_title: TitleFn = lambda: None,
        publish: Publish = lambda message: None,
        attention: Attention | None = None,
        element_at: ElementAt = lambda x, y: None,
    ) -> None:
        self.policy = policy
        self.queue = queue
        self.scaling = scaling
        self.grab_frame = grab_frame
        self.window_title = window_title
        self.publish = publish
        self.attention: Attention = attention if attention is not None else _Nobody()
        self.element_at = element_at  # names the elements of a correction (capture.a11y)
        self._frame_cache: tuple[str, np.ndarray] | None = None  # the frame hovered over
        self.waiting: set[asyncio.Task[Any]] = set()  # tasks waiting for a person right now
        self.closing = False  # set by abort_waiting: no wait for a person begins from then on
        self.honeypots = Honeypots(self)  # test reviews (daemon/review/honeypot.py)
        self.rotation = Rotation(self)  # a second or another reviewer (attention, fatigue)

    # -- the decision ----------------------------------------------------------------------
    def rule(self, screen_action: Action) -> Ruling:
        """The policy's ruling on an action in screen space."""
        title = self.window_title() if self.needs_title(screen_action) else None
        # every candidate is judged: a person may choose any of them (review/choice.py)
        return strictest(screen_action, lambda a: evaluate(self.policy, a, window_title=title))

    def needs_title(self, screen_action: Action) -> bool:
        """Whether a rule may look at the active window's title to judge this action (or
        one of its candidates): without one that can, the title changes no ruling."""
        # reading it costs a round trip: only when a rule needs it
        return any(
            rule.reads_title(action_kind(a))
            for rule in self.policy.rules
            for a in (screen_action, *screen_action.alternatives)
        )

    def lets_look(self, action: Action) -> bool:
        """Whether ``action`` is a look (and so are its candidates) that no rule can hold or
        announce: only a rule that names a look's kind with a tier other than auto can
        (daemon/review/policy.py). Such a look needs no row before it runs."""
        kinds = {a.action for a in (action, *action.alternatives)}
        return kinds <= LOOK_KINDS and not any(
            rule.tier != "auto" and rule.kinds is not None and kinds & rule.kinds for rule in self.policy.rules
        )

    async def ruling(self, screen_action: Action) -> Ruling:
        """:meth:`rule`, on the event loop unless it needs the active window's title: that
        is an X round trip, which may wait, so it goes to a worker thread. The rest is a
        few comparisons and searches, which hold the GIL on any thread: the hop there and
        back (two wake-ups, 0.1-0.3 ms) costs more than they do (docs/hardening.md)."""
        if self.needs_title(screen_action):
            return await asyncio.to_thread(self.rule, screen_action)
        return self.rule(screen_action)

    async def admit(self, p: Proposal) -> Answer:
        """Cleared (run it) or Held (it will not run: denied, rejected, expired, corrected)."""
        await self.honeypots.interpose(p)
        ruling = await self.ruling(p.screen)
        if ruling.tier in ("auto", "notify"):
            if ruling.tier == "notify":
                self.publish({"type": "notify", "action_id": p.id, "rule": ruling.rule,
                              "why": ruling.why, "action": p.action.model_dump(mode="json")})  # fmt: skip
            return _cleared(ruling, p, None, 1 if p.action.alternatives else None)
        if ruling.tier == "deny":
            return Held(ruling, status="denied", detail=f"denied by policy: {ruling.why}")
        return await self._review(p, ruling)

    async def ask(
        self, p: Proposal, rule: str, why: str, safety_checks: Sequence[str] = ()
    ) -> Answer:
        """Put ``p`` before a person whatever the policy's tier, unless the policy denies it
        (a model's own safety checks, which only a person may acknowledge: the review
        carries them as ``safety_checks``). A policy that wants two reviewers still gets two."""
        await self.honeypots.interpose(p)
        ruling = await self.ruling(p.screen)
        if ruling.tier == "deny":
            return Held(ruling, status="denied", detail=f"denied by policy: {ruling.why}")
        tier: Tier = "approve2" if ruling.tier == "approve2" else "approve"
        return await self._review(p, Ruling(tier, rule, why), safety_checks)

    async def _review(self, p: Proposal, ruling: Ruling, safety_checks: Sequence[str] = ()) -> Answer:
        review = await asyncio.to_thread(self._open, p, ruling, safety_checks)
        return await self._await_person(p, review, ruling)

    def _open(
        self, p: Proposal, ruling: Ruling, safety_checks: Sequence[str] = (), *, frame: bytes | None = None
    ) -> Review:
        r = self.scaling.screen
        grace = ruling.tier == "grace"
        rule = self.policy.rule_named(ruling.rule)  # None for the default tier and ask()
        review = self.queue.create(
            p.id, p.action, p.screen, ruling.tier, ruling.rule,
            self.grab_frame() if frame is None else frame,
            (r.left, r.top, r.width, r.height), self.scaling.agent_size,
            # a grace review "expires" when its undo window closes: the overlay counts down to it
            expires_in=self.policy.grace_seconds if grace else self.policy.review_expiry_seconds,
            # a rule's own free-text demand replaces the tier's pick from the list
            rationales_required=self.policy.needs_rationale(ruling.tier, ruling.rule)
            and (rule is None or rule.rationale_min_length is None),
            rationales=self.policy.rationales,
            roles_required=rule.approve_by if rule is not None else (),
            rationale_min_length=rule.rationale_min_length if rule is not None else None,
            safety_checks=safety_checks, urgency=self.policy.urgency(ruling.tier, ruling.rule),
        )  # fmt: skip
        if grace:
            self.attention.toast_opened()
        else:
            self.attention.review_opened()
        self.publish({"type": "review", "review": review.model_dump(mode="json")})
        return review

    def abort_waiting(self) -> None:
        """At shutdown: every wait for a person ends now, and any that would begin later
        (its review committed on a worker thread a moment before) ends as it begins. The
        reviews stay pending; the next start adopts them."""
        self.closing = True
        for task in list(self.waiting):
            task.cancel()
        self.queue.abort_waiting()  # the long polls of GET /v1/reviews/{id}?wait=S

    @contextlib.contextmanager
    def waiting_for_person(self) -> Iterator[None]:
        """Count the current task among :attr:`waiting` while the block runs; under a
        shutdown already begun, the block does not run (the task is cancelled)."""
        me = asyncio.current_task()
        if me is not None:
            self.waiting.add(me)
        try:
            if self.closing:
                raise asyncio.CancelledError  # the task ends cancelled, as abort_waiting's do
            yield
        finally:
            if me is not None:
                self.waiting.discard(me)

    async def _await_person(self, p: Proposal, review: Review, ruling: Ruling) -> Answer:
        grace = ruling.tier == "grace"
        try:
            with self.waiting_for_person():
                done = await (self._grace(review) if grace else self._until_decided(review))
        finally:
            if grace:
                self.attention.toast_closed()
            else:
                self.attention.review_closed()
                self.honeypots.after_review(review, ruling)
            self.publish({"type": "review_resolved", "id": review.id})
        return await asyncio.to_thread(self._answer, p, done, ruling)

    async def _grace(self, review: Review) -> Review:
        """The undo window: cancelled by the person, or approved by the window's end (decided
        just before the queue would expire it, so the record says who let it run)."""
        done = await self.queue.wait(review.id, max(0.0, self.policy.grace_seconds - GRACE_MARGIN_S))
        if done.status != "pending":
            return done
        let_run = DecisionRequest(verdict="approve", reviewer=GRACE_REVIEWER)
        try:
            return await asyncio.to_thread(self.queue.decide, review.id, let_run)
        except ReviewError:  # cancelled or expired in the last moment: that stands
            current = self.queue.get(review.id)
            assert current is not None
            return current

    async def _until_decided(self, review: Review) -> Review:
        while True:
            left = None if review.expires is None else review.expires - time.time()
            if left is not None and left <= 0:
                self.queue.expire(time.time())
                current = self.queue.get(review.id)
                assert current is not None
                if current.status != "pending":
                    return current
                left = 0.01  # the clock moved on differently: look again shortly
            review = await self.queue.wait(review.id, MAX_LONG_POLL if left is None else min(MAX_LONG_POLL, left))
            if review.status != "pending":
                return review

    def _answer(self, p: Proposal, review: Review, ruling: Ruling) -> Answer:
        """What a decided review means for its action; every status named, none guessed."""
        last = review.decisions[-1] if review.decisions else None
        status = review.status
        if self.honeypots.owns(review):  # a test review never clears anything, whatever was said
            return Held(ruling, review, status="rejected", detail="a test review; nothing runs")
        if status == "approved":
            return _cleared(ruling, p, review, chosen(review))
        if status == "edited":
            assert last is not None and last.edited, "an edited review carries its edit"
            action = parse_action({**p.action.model_dump(mode="json"), **last.edited})
            screen = parse_action({**p.screen.model_dump(mode="json"), **last.edited})
            # an edit applies to the proposal: candidate 1 runs, as edited, like an approval
            number = 1 if p.action.alternatives else None
            return Cleared(ruling, review, fb.edit_feedback(review, last.edited), candidate=number,
                           action=run_as(action, number), screen=run_as(screen, number))  # fmt: skip
        if status == "corrected":
            assert last is not None, "a corrected review carries its correction"
            png = np.frombuffer(self.queue.screenshot(review.id), np.uint8)
            frame = cv2.imdecode(png, cv2.IMREAD_COLOR)
            if frame is None:
                text = "The person corrected the target, but the review's screenshot is unreadable."
                return Held(ruling, review, status="corrected", detail=text)
            # on a worker thread, each lookup bounded: the agent never waits on a hung bus
            named = {p: self.element_at(*p) for p in fb.points_to_name(review, last.points)}
            feedback = fb.correction_feedback(review, frame, last.points, named, last.box)
            return Held(ruling, review, feedback, status="corrected", detail=feedback.text)
        if status == "cancelled":
            text = "The person cancelled this action during its undo window; it did not run."
            feedback = fb.rejection_feedback(review, "cancelled during the undo window")
            return Held(ruling, review, feedback, status="rejected", detail=text)
        if status == "expired":
            text = (
                "Its undo window was cut short by a restart of driverseat; the action did not run."
                if review.tier == "grace"
                else "Nobody answered the review in time; the action did not run."
            )
            return Held(ruling, review, status="expired", detail=text)
        if status == "rejected":
            reason = last.rationale if last is not None and last.rationale else None
            feedback = fb.rejection_feedback(review, reason)
            return Held(ruling, review, feedback, status="rejected", detail=feedback.text)
        raise AssertionError(f"review {review.id} answered while still {status}")

    def element_under(self, review_id: str, x: int, y: int) -> dict[str, Any]:
        """What a correction at screen point (x, y) of a pending review would name (the
        overlay shows it while the person hovers). Worker thread: the lookup is bounded."""
        review = self.queue.get(review_id)
        if review is None:
            raise UnknownReview(f"no review with id {review_id!r}")
        left, top, width, height = review.screen_rect
        if not (left <= x < left + width and top <= y < top + height):
            raise BadDecision(f"({x}, {y}) is off the reviewed screen area ({left}, {top}) {width}x{height}")
        cached = self._frame_cache
        if cached is None or cached[0] != review_id:
            png = np.frombuffer(self.queue.screenshot(review_id), np.uint8)
            frame = cv2.imdecode(png, cv2.IMREAD_COLOR)
            if frame is None:
                raise UnknownReview(f"review {review_id!r} has no readable screenshot")
            cached = self._frame_cache = (review_id, frame)  # hovering asks many times
        return fb.element_under(review, cached[1], (x, y), self.element_at(x, y))

    # -- after a restart -----------------------------------------------------------------------
    def adopt(self) -> list[tuple[Proposal, Awaitable[Answer]]]:
        """Every review an earlier daemon left pending, with the wait for its answer; then
        every review it had decided but whose action's outcome it never recorded, with
        the answer the decision gave (a Cleared one runs only if it never started: the
        Daemon puts an approved action's start on disk before its first primitive).

        A grace review is expired at once (see the module docstring); the others wait for
        their person again, and count as open reviews meanwhile.
        """
        adopted = self._adopt_pending()
        seen = {p.id for p, _ in adopted}
        for review in self.queue.unsettled():
            if review.action_id in seen:
                continue
            p = Proposal(review.action_id, parse_action(review.action), parse_action(review.screen_action))
            ruling = Ruling(review.tier, review.rule, f"decided before a restart (rule {review.rule!r})")
            adopted.append((p, _ready(self._decided_before(p, review, ruling))))
        return adopted

    def _decided_before(self, p: Proposal, review: Review, ruling: Ruling) -> Answer:
        last = review.decisions[-1] if review.decisions else None
        if review.status == "approved" and last is not None and last.reviewer == GRACE_REVIEWER:
            # nobody chose to run it later than its moment (as for a grace window cut short)
            text = "Its undo window had passed, but driverseat restarted before it ran; the action did not run."
            return Held(ruling, review, status="expired", detail=text)
        return self._answer(p, review, ruling)

    def _adopt_pending(self) -> list[tuple[Proposal, Awaitable[Answer]]]:
        adopted: list[tuple[Proposal, Awaitable[Answer]]] = []
        for review in self.queue.pending():
            if self.honeypots.adopt(review):  # a test left by a restart: withdrawn, never run
                continue
            p = Proposal(review.action_id, parse_action(review.action), parse_action(review.screen_action))
            ruling = Ruling(review.tier, review.rule, f"adopted after a restart (rule {review.rule!r})")
            if review.tier == "grace":
                expired = self.queue.expire_now(review.id)
                self.publish({"type": "review_resolved", "id": review.id})
                adopted.append((p, _ready(self._answer(p, expired, ruling))))
                continue
            self.attention.review_opened()
            adopted.append((p, self._readopted(p, review, ruling)))
        return adopted

    async def _readopted(self, p: Proposal, review: Review, ruling: Ruling) -> Answer:
        try:
            done = await self._until_decided(review)
        finally:
            self.attention.review_closed()
            self.publish({"type": "review_resolved", "id": review.id})
        return await asyncio.to_thread(self._answer, p, done, ruling)


def _cleared(ruling: Ruling, p: Proposal, review: Review | None, number: int | None) -> Cleared:
    """Run candidate ``number`` of ``p`` (None: ``p`` carried no alternatives)."""
    return Cleared(ruling, review, candidate=number,
                   action=run_as(p.action, number), screen=run_as(p.screen, number))  # fmt: skip


async def _ready(answer: Answer) -> Answer:
    return answer


class OpenGate:
    """``--policy off``: every action is cleared as proposed; nobody is ever asked."""

    queue: ReviewQueue | None = None
    policy: Policy | None = None

    def __init__(self) -> None:
        self.waiting: set[asyncio.Task[Any]] = set()

    def abort_waiting(self) -> None:
        """Nobody is ever waited for."""

    async def admit(self, p: Proposal) -> Answer:
        return Cleared(_AUTO, action=p.action, screen=p.screen)

    def lets_look(self, action: Action) -> bool:
        return all(a.action in LOOK_KINDS for a in (action, *action.alternatives))

    async def ask(
        self, p: Proposal, rule: str, why: str, safety_checks: Sequence[str] = ()
    ) -> Answer:
        raise ReviewsOff(
            f"{why}; only a person may acknowledge that, and reviews are off (--policy off): "
            "nothing was executed; restart driverseat with a policy to have it shown on the overlay",
            rule=rule,
        )

    def adopt(self) -> list[tuple[Proposal, Awaitable[Answer]]]:
        return []


_AUTO = Ruling("auto", "(policy off)", "--policy off lets every action through")
