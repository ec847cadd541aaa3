"""One desktop's daemon as one object: the runtime, the gate, the event hub and the store.

The HTTP routes (``daemon/api``) translate requests and call plain methods here; the
flow of one action is readable top to bottom in :meth:`Daemon.act`:

1. convert it to screen space once (:meth:`AgentView.to_screen`; off-screen points
   raise :class:`~daemon.errors.ActionError` before anything is stored or sent);
2. record it as pending, under the stable id its outcome will carry;
3. ask the gate (policy, maybe a person) in a task of its own, shielded from the
   agent's connection: an agent that hangs up re-attaches by id, and an approved
   action still runs;
4. run what the gate cleared on the executor (a quick action on the loop itself, while
   the executor is idle) once no review window covers the screen
   (:mod:`daemon.control.clearance`), convert the outcome back to the agent's space, record it
   with the action that actually ran, and publish it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from typing import Any, Protocol

from daemon.actions import LOOK_KINDS, Action
from daemon.arrivals import Arrivals
from daemon.ask.desk import QuestionDesk, QuestionsOff
from daemon.control.clearance import NoOverlay, not_clear
from daemon.control.runtime import Runtime
from daemon.events import EventHub
from daemon.orphans import settle_orphans
from daemon.outcomes import Outcome, Review
from daemon.question import Question, QuestionRequest
from daemon.recording import AfterAnswer, Decoration, recorded
from daemon.review.gate import Answer, Cleared, Gate, OpenGate, Proposal
from daemon.review.queue import ReviewQueue, UnknownReview
from daemon.store import Store, outcome_for_storage

__all__ = ["VERSION", "Daemon"]

log = logging.getLogger("driverseat.daemon")
# How long after news for the overlay (a review, a question, a notice, an overlay that
# connected) an action asks the X server whether an overlay window is up, instead of
# taking the window watch's word: the overlay maps a window within milliseconds of such
# news, and the watch hears of it within milliseconds more, seconds on a machine that
# is badly overloaded. Later, and when nothing happened, the cheap check costs nothing.
OVERLAY_SETTLE_S = 10.0
# How long an approved action waits for every overlay to acknowledge the decision (it
# takes milliseconds); one that hangs costs this much, then the clearance alone decides.
OVERLAY_ACK_S = 2.0
try:
    VERSION = metadata.version("driverseat")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0+unknown"


class Companion(Protocol):
    """Something that lives as long as the daemon serves (the notifications): started on
    the daemon's loop once the event hub is bound, closed before the hub."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class Daemon:
    """What the API serves. Start it on the event loop that serves the API (:meth:`start`);
    whoever made the runtime and the store closes them."""

    def __init__(
        self,
        runtime: Runtime,
        store: Store,
        gate: Gate | OpenGate | None = None,
        *,
        hub: EventHub | None = None,
        questions: QuestionDesk | None = None,
    ) -> None:
        self.runtime = runtime
        self.store = store
        self.gate: Gate | OpenGate = gate if gate is not None else OpenGate()
        self.hub = hub if hub is not None else EventHub()
        self._background: set[asyncio.Task[Any]] = set()
        # approved actions about to run: their start goes on disk first (see _starting)
        self._run_once: set[str] = set()
        # looks no rule can hold: written once, with their outcome; here when each arrived
        self._arrived: dict[str, float] = {}
        self.arrivals = Arrivals()  # actions reach the executor in the order they arrived
        # serve (unless --no-demonstrations): adds a takeover's demonstration to the outcome
        # after it, on the executor's thread, or a worker's when it may wait (daemon.recording)
        self.decorate: Decoration | None = None
        self.companions: list[Companion] = []
        runtime.executor.on_start = self._starting
        if isinstance(self.gate, Gate):
            self.gate.publish = self.hub.publish
            self.gate.attention = runtime.intervention
            self.gate.queue.listeners.append(self._on_review)
        self.questions = questions  # None: nobody can be asked (--policy off, no overlay)
        if questions is not None:
            questions.publish = self.hub.publish
            questions.attention = runtime.intervention
            runtime.intervention.taps.append(questions.tap)

    @property
    def reviews(self) -> ReviewQueue | None:
        """The review queue, or None under ``--policy off``."""
        return self.gate.queue

    def element_under(self, review_id: str, x: int, y: int) -> dict[str, Any]:
        """What a correction at a screen point of a pending review would name (worker thread)."""
        if not isinstance(self.gate, Gate):
            raise UnknownReview("reviews are off (--policy off)")
        return self.gate.element_under(review_id, x, y)

    # -- lifecycle (event loop) ------------------------------------------------------------
    async def start(self) -> None:
        self.hub.bind(asyncio.get_running_loop())
        self.runtime.intervention.listeners.append(self._on_control)
        for companion in self.companions:  # before adopting: they hear the adopted reviews
            await companion.start()
        for p, answer in self.gate.adopt():
            self._spawn(self._settle(p, answer, "review"))
        if self.questions is not None:
            self.questions.start(asyncio.get_running_loop())
            self.runtime.intervention.listeners.append(self.questions.on_control)
        # what a killed daemon left running or pending, with no review to adopt it
        settled = settle_orphans(self.store, self.runtime.intervention.state)
        if settled:
            log.warning("%d action(s) left unfinished by an earlier daemon: recorded interrupted", len(settled))

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for companion in reversed(self.companions):
            await companion.close()
        if self._on_control in self.runtime.intervention.listeners:
            self.runtime.intervention.listeners.remove(self._on_control)
        if self.questions is not None:
            self.questions.close()
            with contextlib.suppress(ValueError):
                self.runtime.intervention.listeners.remove(self.questions.on_control)
        self.hub.close()

    def abort_waiting(self) -> None:
        """At shutdown: answer the requests waiting for a person now (their reviews stay
        pending, and are adopted by the next start)."""
        self.gate.abort_waiting()
        if self.questions is not None:
            self.questions.abort_waiting()

    def _spawn(self, coro: Awaitable[Outcome]) -> asyncio.Task[Outcome]:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- actions ---------------------------------------------------------------------------
    def to_screen(self, action: Action) -> Action:
        """``action`` in screen space; ActionError (nothing stored, nothing sent) if off-screen."""
        return self.runtime.view.to_screen(action)

    async def act(
        self,
        action: Action,
        dialect: str = "canonical",
        abandoned: threading.Event | None = None,
        later: AfterAnswer | None = None,
    ) -> Outcome:
        """Judge, maybe hold for a person, run, record and publish one action.

        ``abandoned`` is set when the agent's connection is gone: an action not held for a
        person then stops at its next primitive (or does not start), released like a
        takeover. One a person approved runs anyway: that is the promise of a review.
        ``later``: the outcome of an action no person held is recorded there, once the
        answer has left (daemon/recording.py), instead of before it."""
        return await self._propose(
            action, dialect, lambda p: self.gate.admit(p), abandoned, later, look=self.gate.lets_look(action)
        )

    async def ask(
        self, action: Action, dialect: str, *, rule: str, why: str, safety_checks: Sequence[str] = ()
    ) -> Outcome:
        """Like :meth:`act`, but a person must approve it whatever the policy's tier (unless
        the policy denies it). ReviewsOff (403, nothing stored) under ``--policy off``.
        ``safety_checks``: the model's own, shown to the person in a box of their own."""
        if isinstance(self.gate, OpenGate):
            await self.gate.ask(Proposal("", action, action), rule, why)  # raises ReviewsOff
        return await self._propose(
            action, dialect, lambda p: self.gate.ask(p, rule, why, safety_checks), None, look=False
        )

    async def _propose(
        self,
        action: Action,
        dialect: str,
        judge: Callable[[Proposal], Awaitable[Answer]],
        abandoned: threading.Event | None,
        later: AfterAnswer | None = None,
        *,
        look: bool,
    ) -> Outcome:
        p = Proposal(uuid.uuid4().hex, action, self.to_screen(action))
        self.arrivals.enter(p.id)
        try:
            if look:  # changes nothing: a kill -9 midway has nothing to record as interrupted
                self._arrived[p.id] = time.time()
            else:
                # on the loop, not through a worker thread: a small insert (~0.1 ms) costs
                # less than the two wake-ups of a hop (docs/hardening.md)
                self.store.record_action(p.id, dialect, action, None)
        except BaseException:
            self.arrivals.leave(p.id)
            raise
        # A person may take minutes: the decision and the action go on even if the agent
        # hangs up; it re-attaches by id (GET /v1/actions/{id}, GET /v1/reviews/{id}).
        task = self._spawn(self._settle(p, judge(p), dialect, abandoned, later))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # our own request was cancelled (client gone): the task goes on
            if look:  # no review, no row: nothing to come back for
                return Outcome(
                    id=p.id, action=action.action, status="error", control=self.runtime.intervention.state,
                    space="agent", detail="driverseat shut down before this look was done (it changed "
                    "nothing); take it again once driverseat is back",
                )  # fmt: skip
            return Outcome(
                id=p.id, action=action.action, status="error", control=self.runtime.intervention.state,
                space="agent",
                detail="driverseat shut down before a person answered; a pending review stays "
                "pending and its action runs if it is approved after the restart "
                f"(GET /v1/actions/{p.id})",
            )  # fmt: skip

    async def _settle(
        self,
        p: Proposal,
        judged: Awaitable[Answer],
        dialect: str,
        abandoned: threading.Event | None = None,
        later: AfterAnswer | None = None,
    ) -> Outcome:
        """Run what the gate cleared (or take its refusal), then record and publish."""
        try:
            return await self._run(p, judged, dialect, abandoned, later)
        finally:
            self.arrivals.leave(p.id)  # whatever happened, later arrivals go on
            self._arrived.pop(p.id, None)

    async def _run(
        self,
        p: Proposal,
        judged: Awaitable[Answer],
        dialect: str,
        abandoned: threading.Event | None,
        later: AfterAnswer | None,
    ) -> Outcome:
        answer = await judged
        annotations = answer.annotations()
        written = False  # the outcome recorded on the executor's thread (daemon.recording)
        deferred = False  # or left to record once the answer is out (``later``)
        state = self.runtime.intervention
        if isinstance(answer, Cleared) and not await self._screen_clear(answer):
            ran, outcome = p.action, _annotated(not_clear(p.id, p.action, state.state), annotations)
        elif isinstance(answer, Cleared):
            ran = answer.action
            if answer.review is not None:
                self._run_once.add(p.id)
            try:
                await self.arrivals.turn(p.id)
                # a person's approval outlives the agent's connection; nothing else does
                cancel = abandoned if answer.review is None else None
                # a quick one (a move) runs here and now while the executor is idle: no hop
                running = self.runtime.run_now(answer.screen, p.id, cancel)
                if running is None:
                    running = self.runtime.submit(answer.screen, p.id, cancel)
                # a reviewed action's outcome is on disk before its answer, as its decision was
                future = recorded(self.store, running, p.id, dialect, ran, annotations, self.decorate,
                                  defer=later is not None and answer.review is None,
                                  created=self._arrived.get(p.id))  # fmt: skip
                self.arrivals.leave(p.id)  # queued: the executor keeps the order from here
                done = future.result() if future.done() else await asyncio.wrap_future(future)
                outcome, written, deferred = done.outcome, done.written, done.deferred
            finally:
                self._run_once.discard(p.id)
        else:
            ran = p.action
            outcome = _annotated(Outcome(
                id=p.id, action=p.action.action, status=answer.status, detail=answer.detail,
                control=self.runtime.intervention.state, space="agent",
            ), annotations)  # fmt: skip
        if deferred and later is not None:
            later.add(functools.partial(self.store.record_action, p.id, dialect, ran, outcome,
                                        self._arrived.get(p.id)))  # fmt: skip
        elif not written:  # refused, or a takeover's outcome waiting for its demonstration
            outcome = await asyncio.to_thread(self._record, p.id, dialect, ran, outcome)
        self.hub.publish({"type": "outcome", "dialect": dialect, **outcome_for_storage(outcome)})
        return outcome

    async def _screen_clear(self, answer: Cleared) -> bool:
        """Whether no review window covers the screen, so the action's input lands on the
        application below (a look needs no clear screen).

        Input sent while a review window covers the screen would land on it: a click lost,
        or worse, an agent's Enter approving a review. The overlay leaves within
        milliseconds of a decision; one that stays up (hung, or another review shown
        meanwhile) makes the action not run. The cheap check is what the window watch has
        heard so far: an approved action, or any action soon after news the overlay may
        show a window for, asks the X server itself (``wait_clear``), because a window
        mapped a moment ago may not have reached the watch yet. And an approved action
        first waits until every overlay has handled its decision: from then on none shows
        a window until the outcome comes, so what the server says stays true while it runs.
        """
        if answer.screen.action in LOOK_KINDS:
            return True
        overlay = self.runtime.intervention.overlay
        if answer.review is None:
            if self._overlay_settled() and overlay.clear():
                return True
        elif not await self.hub.overlays_caught_up(OVERLAY_ACK_S):
            log.warning("an overlay had not handled the decision of review %s after %.0f s",
                        answer.review.id, OVERLAY_ACK_S)  # fmt: skip
        return await asyncio.to_thread(overlay.wait_clear)

    def _overlay_settled(self) -> bool:
        """No news for the overlay lately: what the window watch has heard is current."""
        return isinstance(self.runtime.intervention.overlay, NoOverlay) or (
            time.monotonic() - self.hub.news_at > OVERLAY_SETTLE_S
        )

    def _record(self, action_id: str, dialect: str, ran: Action, outcome: Outcome) -> Outcome:
        """Worker thread: decorate (this may wait for a takeover's demonstration) and record."""
        if self.decorate is not None:
            outcome = self.decorate(action_id, outcome)
        self.store.record_action(action_id, dialect, ran, outcome, self._arrived.get(action_id))
        return outcome

    def _starting(self, action_id: str) -> str | None:
        """Executor thread, just before an action runs: a reviewed one is marked running on
        disk first, so that after a kill -9 at any moment it runs at most once (a restart
        adopts its decision, and runs it only if this mark was never made)."""
        if action_id not in self._run_once:
            return None
        if self.store.start_action(action_id):
            return None
        return (
            "it had started before driverseat was restarted (it may have run in full or in "
            "part); an approved action is not run again"
        )

    async def look(self, action: Action) -> Outcome:
        """A passive action (screenshot, cursor position) for a dialect's own needs: not
        judged, not recorded, in the agent's space."""
        return await asyncio.wrap_future(self.runtime.submit(self.to_screen(action)))

    # -- questions (daemon/ask) -------------------------------------------------------------
    def desk(self) -> QuestionDesk:
        """The question desk; QuestionsOff (403) when nobody can be asked."""
        if self.questions is None:
            raise QuestionsOff(
                "nobody can be asked: questions need the overlay, and this daemon runs with "
                "--policy off; restart driverseat with a policy"
            )
        return self.questions

    async def ask_person(self, req: QuestionRequest) -> Question:
        """Freeze the screen and put a question before the person; returns it pending.
        Its options' points and boxes go to screen space like actions' (off-screen: 422)."""
        return await asyncio.to_thread(self.desk().ask, req, self.to_screen)

    async def get_action(self, action_id: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.store.get_action, action_id)

    # -- control ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Who drives, since when, the screen and the agent's view of it."""
        return {
            **self.runtime.intervention.snapshot(),
            "screen": list(self.runtime.executor.screen),
            **self.runtime.view.describe(),
            "version": VERSION,
        }

    def stop(self, by: str = "api") -> dict[str, Any]:
        self.runtime.intervention.stop(by=by)
        return self.state()

    def resume(self, by: str = "api") -> dict[str, Any]:
        self.runtime.intervention.resume(by=by)
        return self.state()

    # -- events (any thread) ---------------------------------------------------------------
    def _on_control(self, kind: str, payload: dict[str, Any]) -> None:
        # Runs on the observer/resume threads (or the loop, for API stops): keep it short.
        at = time.time()
        event = {"event_id": uuid.uuid4().hex, "at": at, **payload}
        try:
            self.store.record_event(kind, event, at=at)
        except Exception:  # never let the audit trail break the takeover path
            log.exception("could not record a %s event", kind)
        self.hub.publish({"type": kind, **event})

    def _on_review(self, kind: str, review: Review) -> None:
        # every decision, first approvals of an approve2 included, so every open overlay
        # sees a review another reviewer has answered
        if kind == "created":  # held for a person: later arrivals must not wait behind it
            self.arrivals.leave_soon(review.action_id)
        if kind == "decided":
            self.hub.publish({"type": "review_decided", "review": review.model_dump(mode="json")})


def _annotated(outcome: Outcome, annotations: dict[str, Any]) -> Outcome:
    return outcome.model_copy(update=annotations) if annotations else outcome
