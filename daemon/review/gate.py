"""The approval gate: what the policy says about an action, and what the person said.

Between an agent's request and the executor sits :meth:`Gate.admit`:

- ``auto`` / ``notify``: straight through (``notify`` is logged as an event);
- ``deny``: an outcome ``denied`` naming the rule; nothing runs;
- ``grace``: a review with a countdown (the overlay shows a toast with Cancel); the
  action runs when the window passes, unless the person cancels;
- ``approve`` / ``approve2``: the screen is frozen into a review and the person
  answers on the overlay: approve (runs as proposed), edit (runs as edited), correct
  (does not run; the agent gets spatial feedback), reject (does not run).

The wait for a person runs in a task of its own, shielded from the agent's request:
an agent that drops its connection re-attaches by id (``GET /v1/reviews/{id}``,
``GET /v1/actions/{id}``) and the approved action still runs. After a restart the
pending reviews are adopted again (:meth:`Gate.adopt_pending`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from daemon.review import feedback as fb
from daemon.actions import Action, DecisionRequest, Feedback, Outcome, Review, parse_action
from daemon.review.policy import Policy, Verdict, evaluate
from daemon.review.queue import ReviewQueue
from daemon.control.runtime import Runtime

log = logging.getLogger(__name__)

FrameGrabber = Callable[[], bytes]  # PNG of the agent's monitor, screen pixels, 1:1
TitleFn = Callable[[], str | None]
Publish = Callable[[dict[str, Any]], None]
Settle = Callable[[Action, str, "Admitted | Outcome"], Awaitable[Outcome]]
GRACE_REVIEWER = "driverseat:grace-window"
GRACE_MARGIN_S = 0.05


@dataclass(frozen=True, slots=True)
class Admitted:
    """Run ``action`` (possibly as edited by a person); annotate its outcome with these."""

    action: Action
    verdict: Verdict | None = None
    review: Review | None = None
    feedback: Feedback | None = None

    def annotate(self, outcome: Outcome) -> Outcome:
        update: dict[str, Any] = {}
        if self.verdict is not None and self.verdict.tier != "auto":
            update.update(tier=self.verdict.tier, rule=self.verdict.rule)
        if self.review is not None:
            update["review_id"] = self.review.id
        if self.feedback is not None:
            update["feedback"] = self.feedback
        return outcome.model_copy(update=update) if update else outcome


class Gate:
    def __init__(
        self,
        runtime: Runtime,
        policy: Policy,
        queue: ReviewQueue,
        *,
        grab_frame: FrameGrabber,
        window_title: TitleFn = lambda: None,
        publish: Publish = lambda message: None,
    ) -> None:
        self.runtime = runtime
        self.policy = policy
        self.queue = queue
        self.grab_frame = grab_frame
        self.window_title = window_title
        self.publish = publish
        self.waiting: set[asyncio.Task[Any]] = set()  # tasks waiting for a person right now
        # reading the active window's title costs a round trip: only when a rule needs it
        self._needs_title = any(rule.window for rule in policy.rules)

    # -- the decision ----------------------------------------------------------------------
    def verdict(self, action: Action) -> Verdict:
        """The policy's tier for ``action`` (checked and converted to screen space first)."""
        screen_action = self.runtime.view.to_screen(action)  # ActionError: off-screen
        title = self.window_title() if self._needs_title else None
        return evaluate(self.policy, screen_action, window_title=title)

    async def admit(self, action: Action, action_id: str) -> Admitted | Outcome:
        """Admitted (run it) or an Outcome (it will not run: denied, rejected, corrected)."""
        verdict = await asyncio.to_thread(self.verdict, action)
        if verdict.tier in ("auto", "notify"):
            if verdict.tier == "notify":
                self.publish({"type": "notify", "action_id": action_id, "rule": verdict.rule,
                              "why": verdict.why, "action": action.model_dump(mode="json")})  # fmt: skip
            return Admitted(action, verdict)
        if verdict.tier == "deny":
            return self._outcome(action_id, action, "denied", f"denied by policy: {verdict.why}", verdict)
        review = await asyncio.to_thread(self._open, action, action_id, verdict)
        return await self._await_person(action, review, verdict)

    async def ask(self, action: Action, action_id: str, verdict: Verdict) -> Admitted | Outcome:
        """Put ``action`` before a person whatever the policy says (e.g. a model's own
        safety checks, which only a person may acknowledge)."""
        review = await asyncio.to_thread(self._open, action, action_id, verdict)
        return await self._await_person(action, review, verdict)

    def _open(self, action: Action, action_id: str, verdict: Verdict) -> Review:
        view = self.runtime.view
        r = view.screen_rect
        review = self.queue.create(
            action_id,
            action.model_dump(mode="json"),
            view.to_screen(action).model_dump(mode="json"),
            verdict.tier,
            verdict.rule,
            self.grab_frame(),
            (r.left, r.top, r.width, r.height),
            view.agent_size,
            # a grace review "expires" when its undo window closes: the overlay counts down to it
            expires_in=self.policy.grace_seconds if verdict.tier == "grace" else self.policy.review_expiry_seconds,
            rationales_required=self.policy.needs_rationale(verdict.tier),
            rationales=self.policy.rationales,
        )
        if verdict.tier != "grace":
            self.runtime.intervention.review_opened()
        self.publish({"type": "review", "review": review.model_dump(mode="json")})
        return review

    async def _await_person(self, action: Action, review: Review, verdict: Verdict) -> Admitted | Outcome:
        me = asyncio.current_task()
        if me is not None:
            self.waiting.add(me)
        try:
            if verdict.tier == "grace":
                # decide just before the queue would expire it: the record says who let it run
                done = await self.queue.wait(review.id, max(0.0, self.policy.grace_seconds - GRACE_MARGIN_S))
                if done.status == "pending":  # nobody cancelled: the window passed
                    done = await asyncio.to_thread(
                        self.queue.decide, review.id, DecisionRequest(verdict="approve", reviewer=GRACE_REVIEWER)
                    )
            else:
                done = await self._until_decided(review)
        finally:
            self.waiting.discard(me)
            if verdict.tier != "grace":
                self.runtime.intervention.review_closed()
            self.publish({"type": "review_resolved", "id": review.id})
        return await asyncio.to_thread(self._answer, action, done, verdict)

    async def _until_decided(self, review: Review) -> Review:
        while True:
            left = None if review.expires is None else review.expires - time.time()
            if left is not None and left <= 0:
                self.queue.expire(time.time())
                current = self.queue.get(review.id)
                assert current is not None
                return current
            review = await self.queue.wait(review.id, 60.0 if left is None else min(60.0, left))
            if review.status != "pending":
                return review

    def _answer(self, action: Action, review: Review, verdict: Verdict) -> Admitted | Outcome:
        status = review.status
        last = review.decisions[-1] if review.decisions else None
        if status == "approved":
            return Admitted(action, verdict, review)
        if status == "edited" and last is not None and last.edited:
            merged = {**action.model_dump(mode="json"), **last.edited}
            edited = parse_action(merged)
            return Admitted(edited, verdict, review, fb.edit_feedback(review, last.edited))
        if status == "corrected" and last is not None:
            png = np.frombuffer(self.queue.screenshot(review.id), np.uint8)
            frame = cv2.imdecode(png, cv2.IMREAD_COLOR)
            if frame is None:
                text = "The person corrected the target, but the review's screenshot is unreadable."
                return self._outcome(review.action_id, action, "corrected", text, verdict, review)
            feedback = fb.correction_feedback(review, frame, last.points)
            return self._outcome(review.action_id, action, "corrected", feedback.text, verdict, review, feedback)
        if status == "cancelled":
            text = "The person cancelled this action during its undo window; it did not run."
            return self._outcome(review.action_id, action, "rejected", text, verdict, review,
                                 fb.rejection_feedback(review, "cancelled during the undo window"))  # fmt: skip
        if status == "expired":
            text = "Nobody answered the review in time; the action did not run."
            return self._outcome(review.action_id, action, "rejected", text, verdict, review)
        reason = last.rationale if last is not None and last.rationale else None
        feedback = fb.rejection_feedback(review, reason)
        return self._outcome(review.action_id, action, "rejected", feedback.text, verdict, review, feedback)

    def _outcome(
        self,
        action_id: str,
        action: Action,
        status: str,
        detail: str,
        verdict: Verdict,
        review: Review | None = None,
        feedback: Feedback | None = None,
    ) -> Outcome:
        return Outcome(
            id=action_id,
            action=action.action,
            status=status,
            detail=detail,
            control=self.runtime.intervention.state,
            space="agent",
            tier=verdict.tier,
            rule=verdict.rule,
            review_id=review.id if review is not None else None,
            feedback=feedback,
        )

    # -- after a restart -----------------------------------------------------------------------
    def adopt_pending(self, settle: Settle) -> list[asyncio.Task[Outcome]]:
        """Wait again for every review left pending by an earlier daemon; ``settle`` runs
        (and records) what the person decided: a restart loses nothing."""
        tasks = []
        for review in self.queue.pending():
            action = parse_action(review.action)
            verdict = Verdict(review.tier, review.rule, f"adopted after a restart (rule {review.rule!r})")
            if review.tier != "grace":
                self.runtime.intervention.review_opened()

            async def finish(action: Action = action, review: Review = review, verdict: Verdict = verdict) -> Outcome:
                try:
                    done = await self._until_decided(review) if review.tier != "grace" else review
                finally:
                    if review.tier != "grace":
                        self.runtime.intervention.review_closed()
                    self.publish({"type": "review_resolved", "id": review.id})
                answer = await asyncio.to_thread(self._answer, action, done, verdict)
                return await settle(action, review.action_id, answer)

            tasks.append(asyncio.create_task(finish()))
        return tasks


def build_gate(
    runtime: Runtime, store: Any, data_dir: Any, *, policy: Policy, display: str | None
) -> tuple[Gate, Callable[[], None]]:
    """The gate as ``driverseat serve`` wires it: reviews beside the database, frozen
    frames of the agent's monitor at screen resolution, the active window's title."""
    from pathlib import Path

    from capture.windows import WindowTitles
    from daemon.control.screenshots import ScreenGrabber

    queue = ReviewQueue(store, Path(data_dir) / "frames")
    frames = ScreenGrabber(display, runtime.view.monitor, None, "screen")
    titles = WindowTitles(display)
    gate = Gate(
        runtime,
        policy,
        queue,
        grab_frame=frames.png,
        window_title=titles.active,
    )

    def close() -> None:
        frames.close()
        titles.close()

    return gate, close
