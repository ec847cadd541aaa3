"""A person's input on an X display, as :class:`~capture.recorder.merge.RawEvent` s.

Provenance for recording (what is kept, what is dropped):
- the agent's own injected events never reach the recording: in-process they match the
  backend's ledger; from a daemon in another process (``driverseat serve`` beside
  ``driverseat record``) they match the announcements read by
  :class:`~capture.input.announce.InjectionListener`;
- a physical device's events are the person's;
- another injector's events (VNC, a remote desktop, xdotool: XTEST and not announced)
  are kept as the person's too, with ``origin`` ``foreign``: the intervention treats
  them as a person taking over, and a person at a VNC viewer is a person demonstrating.
  ``RecordedEvent.origin`` keeps the two apart for whoever wants only local hands.

Positions, at the time of the event and not of its handling (a scripted or remote
person moves on within microseconds of a click):
- an injector's motion (XTEST source) carries the absolute screen position it asked for
  in the raw event's valuators (XTestFakeMotionEvent, what VNC servers send); a button
  event from it is at that device's last such position. A relative XTest motion
  (``xdotool mousemove_relative``) carries deltas instead and is not told apart: it
  leaves positions wrong until the next absolute one (rare for a person's injector);
- a physical device's raw values are deltas before acceleration, so its pointer's
  position is asked (XIQueryPointer on the event's master device) for every button
  event and for motion while a button is held; the answer is the position when the
  observer handles the event, within about a millisecond of it (x11-input.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from capture.input import InputBackend, InputEvent, Kind, Ledger, Origin
from capture.input.announce import InjectionListener
from capture.recorder.merge import RawEvent

__all__ = ["AnnouncedLedger", "LiveInput", "RecordedEvent", "Translator"]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    event: RawEvent
    origin: Origin


class AnnouncedLedger(Ledger):
    """A ledger that, before it says "not ours", reads what injectors announced."""

    def __init__(self) -> None:
        super().__init__()
        self.refill: Callable[[], None] | None = None

    def match(self, kind: Kind, code: int) -> bool:
        if super().match(kind, code):
            return True
        if self.refill is None:
            return False
        self.refill()
        return super().match(kind, code)


class Translator:
    """A backend's input events -> the person's :class:`RecordedEvent` s (positions at the
    time of the event, keysyms); None for our own. Used on the observer thread, by the
    recorder's own observer (:class:`LiveInput`) or the daemon's (``serve --shadow``)."""

    def __init__(self, backend: InputBackend) -> None:
        self.backend = backend
        self._buttons: dict[int, set[int]] = {}  # master device -> buttons held
        self._injected_at: dict[int, tuple[int, int]] = {}  # master -> an injector's last position

    def __call__(self, ev: InputEvent) -> RecordedEvent | None:
        if ev.origin is Origin.OURS:
            return None
        x = y = None
        if ev.kind in (Kind.KEY_DOWN, Kind.KEY_UP):
            raw = RawEvent(
                ev.kind, ev.received, ev.code,
                keysym=self.backend.keysym_of(ev.code, False),
                shifted=self.backend.keysym_of(ev.code, True),
            )  # fmt: skip
        else:
            held = self._buttons.setdefault(ev.device, set())
            if ev.kind is Kind.BUTTON_DOWN:
                held.add(ev.code)
            pos: tuple[int, int] | None = None
            if ev.origin is Origin.FOREIGN and ev.axes is not None:
                pos = (round(ev.axes[0]), round(ev.axes[1]))
                self._injected_at[ev.device] = pos
            elif ev.origin is Origin.FOREIGN and ev.kind is not Kind.MOTION:
                pos = self._injected_at.get(ev.device)
            if pos is None and (ev.kind is not Kind.MOTION or held):
                pos = self.backend.pointer_of(ev)
            if pos is not None:
                x, y = pos
            if ev.kind is Kind.BUTTON_UP:
                held.discard(ev.code)
            raw = RawEvent(ev.kind, ev.received, ev.code, x, y)
        return RecordedEvent(raw, ev.origin)


class LiveInput:
    """Observe one X display; ``on_event`` gets the person's events on the observer thread."""

    def __init__(self, display: str | None, on_event: Callable[[RecordedEvent], None]) -> None:
        from capture.input._xorg import XorgBackend

        self.backend = XorgBackend(display)
        ledger = AnnouncedLedger()
        self.backend.ledger = ledger
        try:
            self.listener = InjectionListener(self.backend.display_name, ledger)
        except Exception:
            self.backend.close()
            raise
        ledger.refill = self.listener.drain
        self._on_event = on_event
        self._translate = Translator(self.backend)
        self.dropped_ours = 0

    def start(self) -> None:
        self.listener.start()
        self.backend.start(self._observe)

    def _observe(self, ev: InputEvent) -> None:
        recorded = self._translate(ev)
        if recorded is not None:
            self._on_event(recorded)

    @property
    def failure(self) -> BaseException | None:
        return self.backend.failure

    def screen_size(self) -> tuple[int, int]:
        return self.backend.screen_size()

    def close(self) -> None:
        """Stop observing once every event the server has produced so far is handled:
        what the person did before the stop is never lost in a socket buffer."""
        from capture.errors import CaptureError

        deadline = time.monotonic() + 2.0
        try:
            self.backend.barrier()
            while self.backend._pending_observation() and time.monotonic() < deadline:
                self.backend.barrier()
        except CaptureError:
            pass  # the observer already failed: nothing more will be handled
        self.backend.close()
        self.listener.close()
