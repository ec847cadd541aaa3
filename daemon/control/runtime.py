"""One desktop under driverseat: backend, intervention, executor, wired together.

The server owns one Runtime; tests and benchmarks build one directly.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from capture.closing import Closing
from capture.input import InputBackend, open_backend
from daemon.actions import Action
from daemon.control.executor import Executor, OutcomeHook, ScreenshotFn, ZoomFn
from daemon.control.intervention import DEFAULT_KILL_SWITCH, Intervention
from daemon.control.view import AgentView
from daemon.outcomes import Outcome


class Runtime(Closing):
    def __init__(
        self,
        backend: InputBackend | None = None,
        *,
        display: str | None = None,
        resume_after: float = 2.0,
        kill_switch: str = DEFAULT_KILL_SWITCH,
        step_interval: float = 0.002,
        screenshot: ScreenshotFn | None = None,
        on_outcome: OutcomeHook | None = None,
        view: AgentView | None = None,
        zoom: ZoomFn | None = None,
    ) -> None:
        self.backend = backend if backend is not None else open_backend(display)
        self.view = view if view is not None else AgentView.native(*self.backend.screen_size())
        self.intervention = Intervention(
            resume_after=resume_after,
            kill_switch=kill_switch,
            keysym_of=self.backend.keysym_of,
            pointer_of=self.backend.pointer_of,
            after_observed=self.backend.after_observed,
        )
        if hasattr(self.backend, "on_failure"):
            self.backend.on_failure = lambda exc: self.intervention.stop(by="observer-failure")
        self.backend.start(self.intervention.on_input)
        self.executor = Executor(
            self.backend,
            self.intervention,
            step_interval=step_interval,
            screenshot=screenshot,
            on_outcome=on_outcome,
            zoom=zoom,
        )

    def submit(
        self, action: Action, action_id: str | None = None, cancel: threading.Event | None = None
    ) -> Future[Outcome]:
        """Run ``action`` (in the space it names) and answer in the agent's space.

        Raises ActionError (nothing executed) for a point off the agent's screen.
        """
        return self._in_agent_space(self.executor.submit(self.view.to_screen(action), action_id, cancel))

    def run_now(
        self, action: Action, action_id: str | None = None, cancel: threading.Event | None = None
    ) -> Future[Outcome] | None:
        """:meth:`Executor.run_now`: a quick action run on this thread while the executor is
        idle, its future done on return; None (nothing run) otherwise: :meth:`submit` it."""
        inner = self.executor.run_now(self.view.to_screen(action), action_id, cancel)
        return None if inner is None else self._in_agent_space(inner)

    def _in_agent_space(self, inner: Future[Outcome]) -> Future[Outcome]:
        outer: Future[Outcome] = Future()

        def done(f: Future[Outcome]) -> None:
            try:
                outer.set_result(self.view.outcome_to_agent(f.result()))
            except Exception as exc:  # noqa: BLE001 - handed to whoever waits
                outer.set_exception(exc)

        inner.add_done_callback(done)
        return outer

    def run(self, action: Action, timeout: float | None = 30.0) -> Outcome:
        """Submit and wait (for scripts and tests)."""
        return self.submit(action).result(timeout)

    def close(self) -> None:
        """Halt, release everything held, restore the keymap, stop the threads."""
        self.executor.shutdown()
        self.intervention.close()
        self.backend.close()
