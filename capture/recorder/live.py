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

Positions: raw events carry no screen position, so the pointer's position is asked
(XIQueryPointer on the event's master device) for every button event and for motion
while a button is held (a drag's path); motion with no button held is not queried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from capture.input import InputEvent, Kind, Ledger, Origin
from capture.input.announce import InjectionListener
from capture.recorder.merge import RawEvent

__all__ = ["AnnouncedLedger", "LiveInput", "RecordedEvent"]


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
        self._buttons: dict[int, set[int]] = {}  # master device -> buttons held
        self.dropped_ours = 0

    def start(self) -> None:
        self.backend.start(self._observe)

    def _observe(self, ev: InputEvent) -> None:
        if ev.origin is Origin.OURS:
            return
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
            if ev.kind is not Kind.MOTION or held:
                pos = self.backend.pointer_of(ev)
                if pos is not None:
                    x, y = pos
            if ev.kind is Kind.BUTTON_UP:
                held.discard(ev.code)
            raw = RawEvent(ev.kind, ev.received, ev.code, x, y)
        self._on_event(RecordedEvent(raw, ev.origin))

    @property
    def failure(self) -> BaseException | None:
        return self.backend.failure

    def screen_size(self) -> tuple[int, int]:
        return self.backend.screen_size()

    def close(self) -> None:
        self.backend.close()
        self.listener.close()
