"""Recording inside ``driverseat serve``: the daemon's own observer is the recorder's input.

:class:`DaemonDesktop` is a :class:`~daemon.shadow.session.Desktop` fed by the
intervention's taps (:attr:`daemon.control.intervention.Intervention.taps`), so what is
kept apart is the daemon's own classification: the agent's injected events match the
ledger and never reach a tap; input given to an open review on the overlay (and the hand
settling after a decision) is review input and never reaches one either; the kill
switch's own key is left out. Another injector's input (VNC, xdotool) is the person's, as
in ``driverseat record`` (origin ``foreign``).

With ``only_takeovers`` the person's input is kept only while the agent does not have
control: what ``--demonstrations`` records (each takeover, nothing else).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from capture.errors import CaptureError
from capture.input import InputBackend, InputEvent
from capture.recorder.live import RecordedEvent, Translator
from daemon.shadow.session import ScreenDesktop

__all__ = ["DaemonDesktop"]

Tap = Callable[[InputEvent, bool], None]


class DaemonDesktop(ScreenDesktop):
    """The daemon's display as a recording's desktop: events from its observer's taps."""

    ignore_children = True  # never the overlay (our child), drawn over the screen during a review

    def __init__(
        self,
        backend: InputBackend,
        display: str | None,
        taps: list[Tap],
        on_event: Callable[[RecordedEvent], None],
        *,
        keep: Callable[[], bool] = lambda: True,
    ) -> None:
        self.backend = backend
        self.display_name = display or ""
        self._taps = taps
        self._on_event = on_event
        self._keep = keep
        self._translate = Translator(backend)
        self._open_screen(display)

    def _tap(self, ev: InputEvent, person: bool) -> None:
        # translated even when not kept: an injector's position comes from its motion
        recorded = self._translate(ev)
        if recorded is not None and person and self._keep():
            self._on_event(recorded)

    def start(self) -> None:
        self._lookup().focused()  # connects to the bus now: the first key's check is answered
        self._taps.append(self._tap)

    def stop_input(self) -> None:
        """Every event the observer handled before this is queued; none after."""
        with contextlib.suppress(CaptureError):
            self.backend.barrier()
        if self._tap in self._taps:
            self._taps.remove(self._tap)

    def screen_size(self) -> tuple[int, int]:
        return self.backend.screen_size()

    @property
    def failure(self) -> BaseException | None:
        failure: BaseException | None = getattr(self.backend, "failure", None)
        return failure
