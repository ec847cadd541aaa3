"""Test reviews (honeypots): deliberately wrong proposals that measure the reviewer.

With ``honeypot_rate`` in the policy (default 0: never), each real review a person
answers arms a test with that chance; the next proposal an agent makes while no review
is pending places it: a wrong version of that very proposal (:mod:`daemon.review.decoys`)
on the screen as it is, or the agent's own corrected proposal from a past review on its
frame. It goes through the gate's own ``_open`` (the queue's ids, the policy's expiry and
rationale demands, the same ``review`` event), so neither the overlay nor the HTTP API nor
the event stream can tell it from a real one until it is decided.

It is never run: no agent request waits on its answer, it has no action row and no
outcome, and the gate refuses to clear it whatever is decided (``owns``). Proposals made
while it is on the screen wait for it, as they would behind any review (input cannot be
sent while a review window covers the screen), at most :data:`HOLD_MAX_S`; then it is
withdrawn (expired, and counted neither way).

The answer is kept apart (:mod:`daemon.honeypot_store`): approving (or editing) it is a
miss, rejecting or correcting it a catch. Both are published once decided:
``{"type": "honeypot_missed" | "honeypot_caught", "review_id", "reviewer", "reviewer_id",
"kind", "wrong", "summary"}``, which the overlay shows to the person; a miss is the alert.
A honeypot left pending by a restart is expired at the next start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from daemon.actions import Action, parse_action
from daemon.honeypot_store import (
    CAUGHT_VERDICTS,
    Answer,
    Honeypot,
    is_honeypot,
    record_answer,
    record_honeypot,
)
from daemon.outcomes import Review
from daemon.review import decoys
from daemon.review.checks import UnknownReview
from daemon.review.decoys import Decoy
from daemon.review.policy import DEFAULT_RULE, Ruling

if TYPE_CHECKING:
    from daemon.review.gate import Gate, Proposal

__all__ = ["HOLD_MAX_S", "Honeypots", "describe"]

log = logging.getLogger("driverseat.honeypots")
HOLD_MAX_S = 120.0  # a test nobody answers must not hold the agent longer than this
_REVIEWED = ("approve", "approve2")


def describe(action: dict[str, Any]) -> str:
    """A few words of what an action does, for the person who approved it."""
    kind = action.get("action")
    if kind == "type":
        return f"type {action.get('text')!r}"
    if kind == "key":
        return f"press {action.get('keys')}"
    if "x" in action and "y" in action:
        return f"{kind} at ({action['x']}, {action['y']})"
    return str(kind)


class Honeypots:
    """The test reviews of one gate: arming, placing, watching, and their answers."""

    def __init__(self, gate: Gate, rng: random.Random | None = None) -> None:
        self.gate = gate
        self.rng = rng if rng is not None else random.SystemRandom()
        self.armed = False
        self._decoys: dict[str, Decoy] = {}  # by the made-up action id, known before creation
        self._on_screen: asyncio.Event | None = None  # set when the test on screen is gone
        self._last_ruling: Ruling | None = None
        gate.queue.listeners.append(self._on_review)

    @property
    def rate(self) -> float:
        return self.gate.policy.honeypot_rate

    # -- the gate's calls --------------------------------------------------------------------
    def after_review(self, review: Review, ruling: Ruling) -> None:
        """A real review was answered: arm a test with the policy's chance (never right
        after a test: only real reviews arm one)."""
        if ruling.tier in _REVIEWED:
            self._last_ruling = ruling
        if self.rate > 0 and not self.armed and self.rng.random() < self.rate:
            self.armed = True

    def owns(self, review: Review) -> bool:
        """Whether ``review`` is a test (it must never clear anything)."""
        return review.action_id in self._decoys or is_honeypot(self.gate.queue.store, review.id)

    def adopt(self, review: Review) -> bool:
        """After a restart: a pending test is withdrawn (True), a real review is left (False)."""
        if not is_honeypot(self.gate.queue.store, review.id):
            return False
        self.gate.queue.expire_now(review.id)
        self.gate.publish({"type": "review_resolved", "id": review.id})
        return True

    async def interpose(self, p: Proposal) -> None:
        """Before ``p`` is judged: wait while a test is on the screen; place an armed one."""
        while (gone := self._on_screen) is not None:
            await self._wait_as_behind_a_review(gone.wait())
        if not self.armed or self.gate.waiting or self.gate.queue.pending():
            return
        self.armed = False
        gone = self._on_screen = asyncio.Event()
        try:
            try:
                review = await asyncio.to_thread(self._place, p)
            except Exception:  # a test that cannot be shown is no reason to fail an agent
                log.exception("could not place a test review")
                review = None
            if review is not None:
                await self._wait_as_behind_a_review(self._watch(review))
        finally:
            self._on_screen = None
            gone.set()

    async def _wait_as_behind_a_review(self, wait: Coroutine[Any, Any, Any]) -> None:
        # counted among the gate's waiting tasks: a shutdown answers it at once
        try:
            with self.gate.waiting_for_person():
                await wait
        finally:
            wait.close()  # never awaited when the shutdown came first

    # -- placing -------------------------------------------------------------------------------
    def _place(self, p: Proposal) -> Review | None:
        try:
            decoy = self._decoy(p)
        except Exception:  # a test that cannot be built is no reason to hold an agent
            log.exception("could not build a test review")
            return None
        if decoy is None:
            return None
        action, screen = parse_action(decoy.action), parse_action(decoy.screen_action)
        ruling = self._ruling(screen)
        rule = self.gate.policy.rule_named(ruling.rule)
        if rule is not None and rule.confidence_below is not None and (
            action.confidence is None or action.confidence >= rule.confidence_below
        ):  # held by a confidence rule: the confidence shown must be one it holds
            low = {"confidence": round(rule.confidence_below * (0.4 + 0.5 * self.rng.random()), 2)}
            action, screen = action.model_copy(update=low), screen.model_copy(update=low)
        fake = type(p)(uuid.uuid4().hex, action, screen)  # the same generator as real ids
        self._decoys[fake.id] = decoy
        return self.gate._open(fake, ruling, frame=decoy.frame)

    def _ruling(self, screen: Action) -> Ruling:
        """A tier and rule a real review of that action could have: the policy's, where it
        asks for a person; else the latest real review's, or the first reviewed rule's,
        if that rule may hold this kind of action; else the latest real review's."""
        ruling = self.gate.rule(screen)
        if ruling.tier in _REVIEWED:
            return ruling
        policy, kind = self.gate.policy, screen.action
        last = self._last_ruling
        candidates = ([last.rule] if last is not None else []) + [
            r.name for r in policy.rules if r.tier in _REVIEWED
        ]
        for name in candidates:
            rule = policy.rule_named(name)
            if rule is not None and rule.tier in _REVIEWED and (rule.kinds is None or kind in rule.kinds):
                return Ruling(rule.tier, rule.name, f"rule {rule.name!r}")
        if policy.default_tier in _REVIEWED:
            return Ruling(policy.default_tier, DEFAULT_RULE, "the default tier")
        return last if last is not None else Ruling("approve", DEFAULT_RULE, "the default tier")

    def _decoy(self, p: Proposal) -> Decoy | None:
        g = self.gate
        options: list[Decoy | None] = [decoys.destructive(p.action, self.rng)]
        if p.screen.action in ("click", "move"):
            frame = g.grab_frame()
            options.append(decoys.displaced(p.action, p.screen, g.scaling, frame, g.element_at, self.rng))
        options.append(decoys.amount(p.action, p.screen))
        options.append(self._replay())
        usable = [d for d in options if d is not None and d.kind in g.policy.honeypot_kinds]
        # the kinds that fit this proposal first: a wrong version of what the agent does now
        fitting = [d for d in usable if d.kind in ("displaced", "amount")]
        pool = fitting if fitting and self.rng.random() < 0.7 else usable
        return self.rng.choice(pool) if pool else None

    def _replay(self) -> Decoy | None:
        """The latest proposal a person corrected, when its frame is still there and it was
        shown on the screen as it is now."""
        store, q = self.gate.queue.store, self.gate.queue
        r = self.gate.scaling.screen
        for row in reversed(store.reviews_with_status("corrected")[-20:]):
            review = row["review"]
            if is_honeypot(store, review["id"]):
                continue
            if tuple(review["screen_rect"]) != (r.left, r.top, r.width, r.height):
                continue
            try:
                frame = q.screenshot(review["id"])
            except UnknownReview:  # its frame is gone: try an older one
                continue
            points = review["decisions"][-1].get("points") if review["decisions"] else None
            return decoys.replay(review, frame, tuple(points[0]) if points else None)
        return None

    # -- watching and answers ----------------------------------------------------------------
    async def _watch(self, review: Review) -> None:
        """Until the test is decided, or withdrawn after HOLD_MAX_S."""
        deadline = time.monotonic() + HOLD_MAX_S
        try:
            while review.status == "pending":
                left = deadline - time.monotonic()
                if left <= 0:
                    review = await asyncio.to_thread(self.gate.queue.expire_now, review.id)
                    break
                review = await self.gate.queue.wait(review.id, left)
        finally:
            self.gate.attention.review_closed()
            self.gate.publish({"type": "review_resolved", "id": review.id})

    def _on_review(self, kind: str, review: Review) -> None:
        """The queue's listener (any thread): record a test when made, and each answer."""
        decoy = self._decoys.get(review.action_id)
        if decoy is None:
            return
        store = self.gate.queue.store
        if kind == "created":
            record_honeypot(store, Honeypot(review.id, review.created, decoy.kind, decoy.wrong,
                                            decoy.source_review_id))  # fmt: skip
            return
        if kind != "decided" or not review.decisions:
            if review.status != "pending":
                self._decoys.pop(review.action_id, None)
            return
        last = review.decisions[-1]
        caught = last.verdict in CAUGHT_VERDICTS
        record_answer(store, Answer(last.id, review.id, last.at, last.reviewer, last.reviewer_id,
                                    last.verdict, caught, last.latency_ms))  # fmt: skip
        summary = describe(review.action)
        if caught:
            said = (f"Well caught: that was a test. {summary} was wrong on purpose ({decoy.wrong}); "
                    "it never ran.")  # fmt: skip
        else:
            said = (f"That was a test, and it was approved: {summary} was wrong on purpose "
                    f"({decoy.wrong}). It never ran; read the reason against the picture.")  # fmt: skip
        self.gate.publish({
            "type": "honeypot_caught" if caught else "honeypot_missed", "review_id": review.id,
            "reviewer": last.reviewer, "reviewer_id": last.reviewer_id, "verdict": last.verdict,
            "kind": decoy.kind, "wrong": decoy.wrong, "summary": said,
            "action": json.loads(json.dumps(review.action)),
        })  # fmt: skip
        if review.status != "pending":
            self._decoys.pop(review.action_id, None)
