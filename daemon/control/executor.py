"""Runs actions as primitives on one thread, yielding to the person between every two.

Before each primitive the executor asks the backend for a *barrier* (every input
event produced so far has been observed), then checks the yield flag; between
primitives it sleeps *on* the flag, so a takeover wakes it at once. When the flag
is up it stops, releases every key and button it holds, and the action returns
``interrupted`` with how far it got. Actions submitted while a person has control
return ``interrupted`` at once: they are never queued behind the human.

A quick action (a move, the cursor's position: one primitive or one round trip, no
pause) may run on the caller's thread instead (:meth:`Executor.run_now`), when nothing
is queued or running: the same code, under the same lock a job's run holds, so one
thread at a time touches the backend and actions still run whole and in order. It saves
the two thread wake-ups of the hop there and back (0.2-0.4 ms a move, docs/hardening.md).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from capture import CaptureError
from capture.input import InputBackend, Primitive
from daemon.actions import LOOK_KINDS, Action, CursorPosition, Screenshot, Zoom, check_bounds
from daemon.control.intervention import Intervention
from daemon.control.plans import Pause, plan
from daemon.outcomes import Image, Outcome, Progress

log = logging.getLogger(__name__)

ScreenshotFn = Callable[[], Image]
ZoomFn = Callable[[tuple[int, int, int, int]], Image]  # screen-space x0, y0, x1, y1
OutcomeHook = Callable[[Action, Outcome], None]
StartHook = Callable[[str], str | None]
"""Called with an action's id on the executor thread just before it runs: None lets it
run; a reason keeps it from running (its outcome is ``interrupted`` with that detail)."""


CLIENT_GONE = "its client went away"
QUICK_KINDS = frozenset({"move", "cursor_position"})
"""What :meth:`Executor.run_now` runs on the caller's thread: one primitive or one round
trip to the display, never a pause (the caller, the event loop, waits for it whole)."""
_CANCEL_SLICE = 0.05
"""During a pause (``wait``, ``hold_key``...) a cancel is seen within this many seconds;
the yield flag is still waited on directly, so a takeover wakes the pause at once."""


@dataclass(frozen=True, slots=True)
class _Job:
    id: str
    action: Action
    future: Future[Outcome]
    submitted: float
    cancel: threading.Event | None = None  # set: whoever asked for it has gone away

    def halted(self, yielding: threading.Event) -> bool:
        """The flag checked before every primitive: a person's, or this job's cancel."""
        return yielding.is_set() or (self.cancel is not None and self.cancel.is_set())

    def wait(self, yielding: threading.Event, seconds: float) -> bool:
        """Sleep on the yield flag; True as soon as it, or this job's cancel, is set."""
        if self.cancel is None:
            return yielding.wait(seconds)
        deadline = time.perf_counter() + seconds
        while True:
            if self.cancel.is_set():
                return True
            left = deadline - time.perf_counter()
            if left <= 0:
                return yielding.is_set()
            if yielding.wait(min(left, _CANCEL_SLICE)):
                return True


_STOP = object()


class Executor:
    """The one thread that touches the input backend's injection side, but for the quick
    actions it lets a caller run itself while it is idle (:meth:`run_now`), under its lock."""

    def __init__(
        self,
        backend: InputBackend,
        intervention: Intervention,
        *,
        step_interval: float = 0.002,
        screenshot: ScreenshotFn | None = None,
        on_outcome: OutcomeHook | None = None,
        zoom: ZoomFn | None = None,
    ) -> None:
        self.backend = backend
        self.intervention = intervention
        self.step_interval = step_interval
        self.screenshot = screenshot
        self.zoom = zoom
        self.on_outcome = on_outcome
        self.on_start: StartHook | None = None
        self._yield = intervention.yield_event
        self.screen = backend.screen_size()
        self._q: queue.Queue[_Job | object] = queue.Queue()
        # jobs queued or running: submit counts one in, the end of its run counts it out
        # (run_now runs only while it is 0); and the lock every run holds
        self._in_flight = 0
        self._count = threading.Lock()
        self._running = threading.Lock()
        self.last_halt: float = 0.0  # perf_counter() when the last interruption took effect
        self.primitives_sent = 0
        self._thread = threading.Thread(target=self._loop, name="driverseat-executor", daemon=True)
        self._closed = False
        self._thread.start()

    # -- submitting (any thread) --------------------------------------------------------------
    def submit(
        self, action: Action, action_id: str | None = None, cancel: threading.Event | None = None
    ) -> Future[Outcome]:
        """Queue ``action``; raises ActionError (nothing executed) if it is off the screen.

        ``cancel``, once set, stops the action like a takeover does (before its next
        primitive, releasing what it holds), or keeps it from starting: for an agent that
        has gone away. Never given for an action a person approved (it must run)."""
        aid, fut = self._intake(action, action_id)
        if fut.done():
            return fut
        with self._count:
            self._in_flight += 1
        self._q.put(_Job(aid, action, fut, time.perf_counter(), cancel))
        return fut

    def run_now(
        self, action: Action, action_id: str | None = None, cancel: threading.Event | None = None
    ) -> Future[Outcome] | None:
        """Run a quick action (:data:`QUICK_KINDS`) here, on the calling thread, as
        :meth:`submit` would have it run: the future is done when this returns. None, and
        nothing run, when the action is not a quick one, or another is queued or running
        (:meth:`submit` it: it then runs after them), or its outcome would bring a
        takeover's summary (and so a screenshot), or an input event waits for the observer
        (a run waits for it, up to a second: on the executor's thread, never the caller's,
        the event loop's). ActionError if off the screen."""
        if action.action not in QUICK_KINDS or self.intervention.summary_waiting:
            return None  # the first outcome after a takeover brings a screenshot: not quick
        if self.backend.observing():
            return None  # a person's first touch, say: catching up on it is not quick
        aid, fut = self._intake(action, action_id)
        if fut.done():
            return fut
        with self._count:
            if self._in_flight:
                return None
            self._in_flight += 1
        try:
            outcome = self._run_job(_Job(aid, action, fut, time.perf_counter(), cancel))
        finally:
            with self._count:
                self._in_flight -= 1
        fut.set_result(outcome)
        return fut

    def _intake(self, action: Action, action_id: str | None) -> tuple[str, Future[Outcome]]:
        """ActionError if ``action`` is off the screen; else its id and future, the future
        already done for an action not taken in at all (shutting down; a person has
        control and it is not a look)."""
        check_bounds(action, *self.screen)
        aid = action_id or uuid.uuid4().hex
        fut: Future[Outcome] = Future()
        if self._closed:
            fut.set_result(self._outcome(aid, action, "error", "driverseat is shutting down", 0.0))
        elif self.intervention.state != "agent" and action.action not in LOOK_KINDS:
            fut.set_result(self._refused(aid, action))
        return aid, fut

    # -- the thread ---------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while True:
                job = self._q.get()
                if job is _STOP:
                    return
                assert isinstance(job, _Job)
                try:
                    outcome = self._run_job(job)
                finally:
                    with self._count:  # idle before its answer: the next quick one may run_now
                        self._in_flight -= 1
                job.future.set_result(outcome)
        finally:
            with self._running:
                self._release_quietly()
            while True:  # nothing left waiting forever
                try:
                    left = self._q.get_nowait()
                except queue.Empty:
                    break
                if isinstance(left, _Job):
                    left.future.set_result(
                        self._outcome(left.id, left.action, "error", "driverseat shut down", left.submitted)
                    )

    def _run_job(self, job: _Job) -> Outcome:
        """Run one job whole, on whichever thread holds the run lock (this one's, or
        run_now's caller's), and tell the outcome hook."""
        with self._running:
            outcome = self._not_started(job) or self._execute_safely(job)
        if self.on_outcome is not None:
            try:
                self.on_outcome(job.action, outcome)
            except Exception:
                log.exception("outcome hook failed for %s", job.id)
        return outcome

    def _not_started(self, job: _Job) -> Outcome | None:
        """None if the job may run now; else the outcome that says why not (its client
        has gone away, or ``on_start`` refuses it)."""
        if job.cancel is not None and job.cancel.is_set():
            return self._outcome(job.id, job.action, "interrupted", f"not started: {CLIENT_GONE}", job.submitted)
        if self.on_start is None:
            return None
        try:
            why = self.on_start(job.id)
        except Exception as exc:
            log.exception("start hook failed for %s", job.id)
            return self._outcome(
                job.id, job.action, "error", f"could not record its start ({exc}); it did not run", job.submitted
            )  # fmt: skip
        if why is None:
            return None
        return self._outcome(job.id, job.action, "interrupted", why, job.submitted)

    def _execute_safely(self, job: _Job) -> Outcome:
        """Run one job; every failure becomes an ``error`` outcome and nothing stays held."""
        # Input that came before the job is judged as of then: the Enter that approved it,
        # still unread by the observer on a busy machine, is review input, not a takeover
        # (a press while an action runs always is one). Costs a select() when none waits.
        self.backend.catch_up()
        self.intervention.executing = True
        try:
            return self._execute(job)
        except CaptureError as exc:
            # The hands failed: we can no longer promise to yield, so stop until resumed.
            self._release_quietly()
            self.intervention.stop(by="input-failure")
            detail = f"input backend failed: {exc}; driverseat stopped until resumed"
        except Exception as exc:
            log.exception("action %s failed", job.id)
            self._release_quietly()
            detail = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self.intervention.executing = False
        return self._outcome(job.id, job.action, "error", detail, job.submitted)

    def _release_quietly(self) -> None:
        try:
            self.backend.release_all()
        except Exception:
            log.exception("releasing held input failed")

    def _grab(self) -> Image:
        assert self.screenshot is not None
        return self.screenshot()

    def _execute(self, job: _Job) -> Outcome:
        action = job.action
        self.screen = self.backend.screen_size()
        if isinstance(action, Screenshot):
            if self.screenshot is None:
                return self._outcome(job.id, action, "error", "screenshots are not available", job.submitted)
            try:
                shot = self._grab()
            except CaptureError as exc:
                return self._outcome(job.id, action, "error", f"screenshot failed: {exc}", job.submitted)
            return self._outcome(job.id, action, "executed", "", job.submitted, screenshot=shot, after_action=True)
        if isinstance(action, Zoom):
            if self.zoom is None:
                return self._outcome(job.id, action, "error", "zoom is not available", job.submitted)
            try:
                shot = self.zoom(action.region)
            except CaptureError as exc:
                return self._outcome(job.id, action, "error", f"zoom failed: {exc}", job.submitted)
            return self._outcome(job.id, action, "executed", "", job.submitted, screenshot=shot)
        if isinstance(action, CursorPosition):
            pos = self.backend.cursor_position()
            return self._outcome(job.id, action, "executed", f"X={pos[0]},Y={pos[1]}", job.submitted, cursor=pos)
        if self._yield.is_set():
            return self._refused(job.id, action)
        p = plan(action, self.backend, lambda seconds: job.wait(self._yield, seconds), self.step_interval)
        done = 0
        halted = False
        next_at = time.perf_counter()
        for step, completes in p.steps:
            if isinstance(step, Pause):
                if job.wait(self._yield, step.seconds):
                    halted = True
                    break
            else:
                wait = next_at - time.perf_counter()
                if wait > 0 and job.wait(self._yield, wait):
                    halted = True
                    break
                if not self._send(step, job):
                    halted = True
                    break
                next_at = max(next_at + self.step_interval, time.perf_counter())
            if completes:
                done += 1
        if not halted and job.halted(self._yield) and done < p.total:
            halted = True  # the plan gave up early (e.g. while waiting for a spare key)
        progress = Progress(done=done, total=p.total, unit=p.unit)
        if halted:
            self.last_halt = time.perf_counter()
            released = self.backend.release_all()
            if self._closed:
                why = "driverseat shut down"
            elif not self._yield.is_set() and job.cancel is not None and job.cancel.is_set():
                why = CLIENT_GONE  # not a person's doing: control stays with the agent
            else:
                why = self.intervention.why_not_agent()
            detail = f"{p.unit}: {done} of {p.total} done before " + why
            if released:
                detail += f"; released {released} held key(s)/button(s)"
            return self._outcome(job.id, action, "interrupted", detail, job.submitted, progress=progress)
        return self._outcome(job.id, action, "executed", "", job.submitted, progress=progress, after_action=True)

    def _send(self, p: Primitive, job: _Job) -> bool:
        """Barrier, check the flags, send. False if the person took over (or the job's
        client went away) first."""
        if not self.backend.send_guarded(p, lambda: job.halted(self._yield)):
            return False
        self.primitives_sent += 1
        return True

    # -- outcomes -------------------------------------------------------------------------------
    def _refused(self, aid: str, action: Action) -> Outcome:
        return self._outcome(
            aid, action, "interrupted", "not started: " + self.intervention.why_not_agent(), time.perf_counter()
        )

    def _outcome(
        self,
        aid: str,
        action: Action,
        status: str,
        detail: str,
        submitted: float,
        *,
        progress: Progress | None = None,
        screenshot: Image | None = None,
        cursor: tuple[int, int] | None = None,
        after_action: bool = False,
    ) -> Outcome:
        activity = None
        if after_action:
            activity = self.intervention.take_summary()
            if activity is not None:
                detail = activity.summary() + (" " + detail if detail else "")
                if screenshot is None and self.screenshot is not None:
                    try:
                        screenshot = self._grab()
                    except CaptureError as exc:
                        detail += f" (no fresh screenshot: {exc})"
        return Outcome(
            id=aid,
            action=action.action,
            status=status,
            detail=detail,
            control=self.intervention.state,
            progress=progress,
            cursor=cursor,
            human_activity=activity,
            screenshot=screenshot,
            elapsed_ms=round((time.perf_counter() - submitted) * 1000, 3) if submitted else 0.0,
        )

    # -- shutdown -------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the action in flight, release what is held, end the thread."""
        if self._closed:
            return
        self._closed = True
        self._yield.set()  # halts the action in flight at its next primitive
        self._q.put(_STOP)
        self._thread.join(timeout)
