"""A question answered by a takeover: the person's input, merged into the actions an agent
would have sent, in the agent's space.

The intervention hands every input event that took control from the agent to its taps
(:attr:`daemon.control.intervention.Intervention.taps`, the observer thread); while a
question waits for its takeover, a :class:`TakeoverRecording` is one. Events become the
recorder's :class:`~capture.recorder.RawEvent` s (positions as :mod:`capture.recorder.live`
reads them: an injector's absolute motion, else the pointer asked at a button or during
a drag), the recorder's :class:`~capture.recorder.Merger` turns them into clicks, drags,
typing and keys, and :func:`daemon.shadow.convert.canonical` into canonical actions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from capture.coords import Scaling
from capture.input import InputEvent, Kind, Origin
from capture.recorder import HumanAction, Merger, RawEvent
from daemon.shadow.convert import canonical

__all__ = ["TakeoverRecording", "to_agent"]

log = logging.getLogger("driverseat.questions")
KeysymOf = Callable[[int, bool], int]
PointerOf = Callable[[InputEvent], tuple[int, int] | None]


class TakeoverRecording:
    """Feeds one takeover's events to a merger; thread-safe (observer thread in, any out)."""

    def __init__(self, keysym_of: KeysymOf, pointer_of: PointerOf) -> None:
        self._keysym_of, self._pointer_of = keysym_of, pointer_of
        self._merger = Merger()
        self._lock = threading.Lock()
        self._done: list[HumanAction] = []
        self._held: set[int] = set()
        self._at: tuple[int, int] | None = None  # an injector's last absolute position
        self.events = 0

    def feed(self, ev: InputEvent) -> None:
        if ev.origin is Origin.OURS:
            return
        if ev.kind in (Kind.KEY_DOWN, Kind.KEY_UP):
            raw = RawEvent(ev.kind, ev.received, ev.code, keysym=self._keysym_of(ev.code, False),
                           shifted=self._keysym_of(ev.code, True))  # fmt: skip
        else:
            if ev.kind is Kind.BUTTON_DOWN:
                self._held.add(ev.code)
            pos: tuple[int, int] | None = None
            if ev.origin is Origin.FOREIGN and ev.axes is not None:
                pos = self._at = (round(ev.axes[0]), round(ev.axes[1]))
            elif ev.origin is Origin.FOREIGN and ev.kind is not Kind.MOTION:
                pos = self._at
            if pos is None and (ev.kind is not Kind.MOTION or self._held):
                pos = self._pointer_of(ev)
            if ev.kind is Kind.BUTTON_UP:
                self._held.discard(ev.code)
            raw = RawEvent(ev.kind, ev.received, ev.code, *(pos or (None, None)))
        with self._lock:
            self.events += 1
            self._done += [a for a in self._merger.feed(raw) if isinstance(a, HumanAction)]

    def finish(self) -> list[dict[str, Any]]:
        """Every action of the takeover, oldest first, canonical and in screen space."""
        with self._lock:
            done = sorted([*self._done, *self._merger.flush()], key=lambda a: a.start)
            self._done = []
        out = []
        for a in done:
            try:
                out.append(canonical(a))
            except ValueError as exc:  # a key no name exists for: left out, said in the log
                log.warning("a takeover action was left out: %s", exc)
        return out


def to_agent(action: dict[str, Any], scaling: Scaling) -> dict[str, Any]:
    """A screen-space canonical action in the agent's space (points off its monitor clamped)."""
    s = scaling.screen

    def conv(x: int, y: int) -> list[int]:
        x = min(max(int(x), s.left), s.right - 1)
        y = min(max(int(y), s.top), s.bottom - 1)
        p = scaling.to_agent(x, y)
        return [p.x, p.y]

    out = dict(action, space="agent")
    if out.get("x") is not None and out.get("y") is not None:
        out["x"], out["y"] = conv(out["x"], out["y"])
    if out.get("path"):
        out["path"] = [conv(px, py) for px, py in out["path"]]
    return out
