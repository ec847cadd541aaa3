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
from typing import TYPE_CHECKING, Any

from capture.errors import CaptureError
from capture.input import InputBackend, InputEvent
from capture.recorder.live import RecordedEvent, Translator
from capture.screen import Frame
from daemon.shadow.session import A11Y_TIMEOUT, element_json

if TYPE_CHECKING:
    from capture.a11y import A11y

__all__ = ["DaemonDesktop"]

Tap = Callable[[InputEvent, bool], None]


class DaemonDesktop:
    """The daemon's display as a recording's desktop: events from its observer's taps."""

    def __init__(
        self,
        backend: InputBackend,
        display: str | None,
        taps: list[Tap],
        on_event: Callable[[RecordedEvent], None],
        *,
        keep: Callable[[], bool] = lambda: True,
    ) -> None:
        from capture.screen import Screen
        from capture.windows import WindowTitles

        self.backend = backend
        self.display_name = display or ""
        self._taps = taps
        self._on_event = on_event
        self._keep = keep
        self._translate = Translator(backend)
        self._screen = Screen(display).open()
        try:
            self._titles = WindowTitles(display)
        except Exception:
            self._screen.close()
            raise
        self._a11y: A11y | None = None

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

    def close(self) -> None:
        if self._a11y is not None:
            self._a11y.close()
        self._titles.close()
        self._screen.close()

    def screen_size(self) -> tuple[int, int]:
        return self.backend.screen_size()

    def grab(self) -> Frame:
        return self._screen.grab(0)

    def title(self) -> str | None:
        return self._titles.active()

    def element_at(self, x: int, y: int) -> dict[str, Any] | None:
        return element_json(self._lookup().element_at(x, y))

    def password_focused(self) -> bool:
        return self._lookup().password_focused()

    def _lookup(self) -> A11y:
        if self._a11y is None:
            from capture.a11y import A11y

            # never the overlay (our child), drawn over the screen during a review
            self._a11y = A11y(ignore_children=True, display=self.display_name or None, timeout=A11Y_TIMEOUT)
        return self._a11y

    @property
    def failure(self) -> BaseException | None:
        failure: BaseException | None = getattr(self.backend, "failure", None)
        return failure
