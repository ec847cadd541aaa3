"""Runs actions as primitives on one thread, yielding to the person between every two.

Before each primitive the executor asks the backend for a *barrier* (every input
event produced so far has been observed), then checks the yield flag; between
primitives it sleeps *on* the flag, so a takeover wakes it at once. When the flag
is up it stops, releases every key and button it holds, and the action returns
``interrupted`` with how far it got. Actions submitted while a person has control
return ``interrupted`` at once: they are never queued behind the human.
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
from daemon.actions import (
    LOOK_KINDS,
    Action,
    CursorPosition,
    Image,
    Outcome,
    Progress,
    Screenshot,
    Zoom,
    check_bounds,
)
from daemon.control.intervention import Intervention
from daemon.control.plans import Pause, plan

log = logging.getLogger(__name__)

ScreenshotFn = Callable[[], Image]
ZoomFn = Callable[[tuple[int, int, int, int]], Image]  # screen-space x0, y0, x1, y1
OutcomeHook = Callable[[Action, Outcome], None]
StartHook = Callable[[str], str | None]
"""Called with an action's id on the executor thread just before it runs: None lets it
run; a reason keeps it from running (its outcome is ``interrupted`` with that detail)."""


@dataclass(frozen=True, slots=True)
class _Job:
    id: str
    action: Action
    future: Future[Outcome]
    submitted: float


_STOP = object()


class Executor:
    """The one thread that touches the input backend's injection side."""

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
        self.last_halt: float = 0.0  # perf_counter() when the last interruption took effect
        self.primitives_sent = 0
        self._thread = threading.Thread(target=self._loop, name="driverseat-executor", daemon=True)
        self._closed = False
        self._thread.start()

    # -- submitting (any thread) --------------------------------------------------------------
    def submit(self, action: Action, action_id: str | None = None) -> Future[Outcome]:
        """Queue ``action``; raises ActionError (nothing executed) if it is off the screen."""
        check_bounds(action, *self.screen)
        aid = action_id or uuid.uuid4().hex
        fut: Future[Outcome] = Future()
        if self._closed:
            fut.set_result(self._outcome(aid, action, "error", "driverseat is shutting down", 0.0))
            return fut
        if self.intervention.state != "agent" and action.action not in LOOK_KINDS:
            fut.set_result(self._refused(aid, action))
            return fut
        self._q.put(_Job(aid, action, fut, time.perf_counter()))
        return fut

    # -- the thread ---------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while True:
                job = self._q.get()
                if job is _STOP:
                    return
                assert isinstance(job, _Job)
                outcome = self._not_started(job) or self._execute_safely(job)
                if self.on_outcome is not None:
                    try:
                        self.on_outcome(job.action, outcome)
                    except Exception:
                        log.exception("outcome hook failed for %s", job.id)
                job.future.set_result(outcome)
        finally:
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

    def _not_started(self, job: _Job) -> Outcome | None:
        """None if ``on_start`` lets the job run now; else the outcome that says why not."""
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
        p = plan(action, self.backend, self._yield.wait, self.step_interval)
        done = 0
        halted = False
        next_at = time.perf_counter()
        for step, completes in p.steps:
            if isinstance(step, Pause):
                if self._yield.wait(step.seconds):
                    halted = True
                    break
            else:
                wait = next_at - time.perf_counter()
                if wait > 0 and self._yield.wait(wait):
                    halted = True
                    break
                if not self._send(step):
                    halted = True
                    break
                next_at = max(next_at + self.step_interval, time.perf_counter())
            if completes:
                done += 1
        if not halted and self._yield.is_set() and done < p.total:
            halted = True  # the plan gave up early (e.g. while waiting for a spare key)
        progress = Progress(done=done, total=p.total, unit=p.unit)
        if halted:
            self.last_halt = time.perf_counter()
            released = self.backend.release_all()
            why = "driverseat shut down" if self._closed else self.intervention.why_not_agent()
            detail = f"{p.unit}: {done} of {p.total} done before " + why
            if released:
                detail += f"; released {released} held key(s)/button(s)"
            return self._outcome(job.id, action, "interrupted", detail, job.submitted, progress=progress)
        return self._outcome(job.id, action, "executed", "", job.submitted, progress=progress, after_action=True)

    def _send(self, p: Primitive) -> bool:
        """Barrier, check the flag, send. False if the person took over first."""
        if not self.backend.send_guarded(p, self._yield.is_set):
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
