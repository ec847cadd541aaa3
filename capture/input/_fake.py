"""An in-memory backend for unit tests of the executor and intervention logic.

Key codes are keysyms. ``sent`` records every injected primitive; ``human()`` plays a
person's event into the observer, and ``on_send`` lets a test act between primitives
(e.g. take over after the 10th keystroke).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from capture.input._base import InputBackend, InputEvent, Kind, Observer, Origin, Primitive
from capture.input.keys import char_for_keysym, keysym_for_char


class FakeBackend(InputBackend):
    name = "fake"

    def __init__(self, size: tuple[int, int] = (1920, 1080)) -> None:
        super().__init__()
        self.size = size
        self.sent: list[Primitive] = []
        self.cursor = (0, 0)
        self.human_cursor = (0, 0)
        self.on_send: Callable[[Primitive], None] | None = None
        self._observer: Observer | None = None
        self.closed = False

    def _inject(self, p: Primitive) -> None:
        self.sent.append(p)
        if p.kind is Kind.MOTION:
            self.cursor = (p.x, p.y)
        # the echo of our own input, consumed like the real observer does
        self.ledger.match(p.kind, p.code if p.kind is not Kind.MOTION else 0)
        if self.on_send is not None:
            self.on_send(p)

    def key_code(self, keysym: int) -> int:
        return keysym

    def plan_char(self, ch: str, pause: Callable[[float], bool]) -> list[Primitive] | None:
        ks = keysym_for_char(ch)
        return [Primitive(Kind.KEY_DOWN, ks), Primitive(Kind.KEY_UP, ks)]

    def keysym_of(self, code: int, shifted: bool = False) -> int:
        return code

    def start(self, observer: Observer) -> None:
        self._observer = observer

    def close(self) -> None:
        self.release_all()
        self.closed = True

    def cursor_position(self) -> tuple[int, int]:
        return self.cursor

    def pointer_of(self, event: InputEvent) -> tuple[int, int] | None:
        return self.human_cursor

    def screen_size(self) -> tuple[int, int]:
        return self.size

    # -- test helpers --------------------------------------------------------------------
    def human(self, kind: Kind, code: int = 0, origin: Origin = Origin.HUMAN) -> None:
        """Deliver a person's input event to the observer, as the observer thread would."""
        assert self._observer is not None, "start() the backend first"
        self._observer(InputEvent(kind, code, origin, int(time.monotonic() * 1000), time.monotonic()))

    def typed(self) -> str:
        """The text our key-down primitives spell (for assertions)."""
        out = []
        for p in self.sent:
            if p.kind is Kind.KEY_DOWN:
                ch = char_for_keysym(p.code)
                if ch is not None:
                    out.append(ch)
        return "".join(out)
