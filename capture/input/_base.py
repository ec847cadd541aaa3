"""What every input backend provides: primitives in, classified events out.

A *primitive* is the smallest thing the executor sends: one key down or up, one
button down or up, one pointer motion. Each primitive is written to the
:class:`Ledger` before it is sent; the backend's observer matches the events it
sees against the ledger to tell our own input from a person's.
"""

from __future__ import annotations

import abc
import enum
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Kind(enum.Enum):
    KEY_DOWN = "key_down"
    KEY_UP = "key_up"
    BUTTON_DOWN = "button_down"
    BUTTON_UP = "button_up"
    MOTION = "motion"


class Origin(enum.Enum):
    """Who produced an input event."""

    OURS = "ours"  # injected by this process, matched in the ledger
    HUMAN = "human"  # a physical device
    FOREIGN = "foreign"  # another injector: VNC, remote desktop, xdotool (treated as human)


@dataclass(frozen=True, slots=True)
class Primitive:
    """One injected input: ``code`` is a backend key code or a button number."""

    kind: Kind
    code: int = 0
    x: int = 0
    y: int = 0


@dataclass(frozen=True, slots=True)
class InputEvent:
    """One observed input event, classified.

    ``keysym`` is resolved for key events (0 when unknown); ``time`` is the input
    system's own timestamp in ms; ``received`` is ``time.monotonic()`` on arrival;
    ``axes`` a motion's raw x and y as the device reported them (deltas for a mouse,
    screen pixels for an absolute XTest motion), None when the backend has none.
    """

    kind: Kind
    code: int
    origin: Origin
    time: int
    received: float
    device: int = 0
    keysym: int = 0
    axes: tuple[float, float] | None = None


Observer = Callable[[InputEvent], None]


class HoldWatch(Protocol):
    """Told of every press before it is sent and of every release after it was sent, on
    the executor thread: keep it to microseconds (the guard process is one, see
    :mod:`capture.input.guard`)."""

    def pressing(self, kind: Kind, code: int) -> None: ...

    def released(self, kind: Kind, code: int) -> None: ...


class Ledger:
    """Primitives we sent and have not yet seen come back, first in first out.

    Matching is on (kind, code), so an event only proves itself ours if we sent a
    primitive of the same kind and code no longer than ``expiry`` seconds ago.
    """

    def __init__(self, expiry: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.expiry = expiry
        self._clock = clock
        self._pending: dict[tuple[Kind, int], deque[float]] = {}
        self._lock = threading.Lock()

    def add(self, kind: Kind, code: int) -> None:
        now = self._clock()
        with self._lock:
            self._pending.setdefault((kind, code), deque()).append(now)

    def match(self, kind: Kind, code: int) -> bool:
        """Consume the oldest live entry of this kind and code; False if none."""
        cutoff = self._clock() - self.expiry
        with self._lock:
            q = self._pending.get((kind, code))
            while q and q[0] < cutoff:
                q.popleft()
            if q:
                q.popleft()
                return True
            return False

    def __len__(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._pending.values())


class InputBackend(abc.ABC):
    """Inject and observe input on one desktop.

    Threading: ``send``/``plan_*``/``release_all``/``barrier`` are called by one thread at
    a time (the executor's, or a caller of ``Executor.run_now`` under its lock); the observer runs on a thread of the backend's own and calls the
    callback there, so the callback must be quick and must not block.
    """

    name: str = "base"

    def __init__(self) -> None:
        self.ledger = Ledger()
        self._held_keys: dict[int, None] = {}
        self._held_buttons: dict[int, None] = {}
        # whoever must know what we hold even if this process dies (set before any send)
        self.watch: HoldWatch | None = None

    # -- injection ---------------------------------------------------------------
    def send(self, p: Primitive) -> None:
        """Write ``p`` to the ledger, then inject it; tracks held keys and buttons.

        The watch hears of a press before it is sent and of a release after it was, so
        whatever moment this process dies at, the watch knows at least what is held.
        """
        kind = p.kind
        self.ledger.add(kind, p.code if kind is not Kind.MOTION else 0)
        watch = self.watch
        if watch is not None and (kind is Kind.KEY_DOWN or kind is Kind.BUTTON_DOWN):
            watch.pressing(kind, p.code)
        self._inject(p)
        if kind is Kind.KEY_DOWN:
            self._held_keys[p.code] = None
        elif kind is Kind.KEY_UP:
            self._held_keys.pop(p.code, None)
        elif kind is Kind.BUTTON_DOWN:
            self._held_buttons[p.code] = None
        elif kind is Kind.BUTTON_UP:
            self._held_buttons.pop(p.code, None)
        if watch is not None and (kind is Kind.KEY_UP or kind is Kind.BUTTON_UP):
            watch.released(kind, p.code)

    @abc.abstractmethod
    def _inject(self, p: Primitive) -> None: ...

    def held(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(key codes, buttons) this backend pressed and has not released."""
        return tuple(self._held_keys), tuple(self._held_buttons)

    def release_all(self) -> int:
        """Release every key and button we hold (last pressed first); returns how many."""
        n = 0
        for b in reversed(list(self._held_buttons)):
            self.send(Primitive(Kind.BUTTON_UP, b))
            n += 1
        for k in reversed(list(self._held_keys)):
            self.send(Primitive(Kind.KEY_UP, k))
            n += 1
        return n

    def barrier(self) -> None:
        """Return once every input event the system produced so far was observed.

        Backends whose observer cannot lag may leave it empty.
        """

    def observing(self) -> bool:
        """Whether an input event that reached this process still waits for the observer
        (it is handling one, or one is unread): then :meth:`catch_up` and
        :meth:`send_guarded` would wait for it. No round trip. Always False for a backend
        whose observer cannot lag."""
        return False

    def after_observed(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` once the observer has handled every input event that reached this
        process so far (on the observer's thread; here and now for a backend whose
        observer cannot lag). For news whose cause is such an event: the review a
        person just decided with Enter closes only after their Enter was seen."""
        fn()

    def catch_up(self, timeout: float = 1.0) -> None:
        """Return once the observer handled every input event that reached this process
        so far (at most ``timeout`` s). No round trip: for events that already caused
        something here, such as the Enter that decided the review whose action starts."""
        done = threading.Event()
        self.after_observed(done.set)
        done.wait(timeout)

    def send_guarded(self, p: Primitive, halted: Callable[[], bool]) -> bool:
        """Send ``p`` unless ``halted()`` is true once every earlier input event is observed.

        This is the executor's one call per primitive: a person's event that reached
        the input system before our primitive is always seen (and halts us) first.
        """
        self.barrier()
        if halted():
            return False
        self.send(p)
        return True

    @abc.abstractmethod
    def key_code(self, keysym: int) -> int:
        """The key code that produces ``keysym`` at level 0 (for shortcuts)."""

    @abc.abstractmethod
    def plan_char(self, ch: str, pause: Callable[[float], bool]) -> list[Primitive] | None:
        """The primitives that type ``ch``; may remap a spare key first.

        ``pause(seconds)`` waits interruptibly and returns True if interrupted, in
        which case this returns None.
        """

    # -- sensing -----------------------------------------------------------------
    @abc.abstractmethod
    def start(self, observer: Observer) -> None:
        """Start observing; ``observer`` gets every event that is not ours."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the observer and release what the backend changed (keymap)."""

    @abc.abstractmethod
    def cursor_position(self) -> tuple[int, int]: ...

    @abc.abstractmethod
    def pointer_of(self, event: InputEvent) -> tuple[int, int] | None:
        """Where the pointer that produced ``event`` is now (for activity summaries)."""

    def window_of(self, event: InputEvent) -> int | None:
        """The top-level window under the pointer that produced ``event`` (None: unknown).

        Observer thread only, like :meth:`pointer_of`.
        """
        return None

    @abc.abstractmethod
    def screen_size(self) -> tuple[int, int]: ...

    def keysym_of(self, code: int, shifted: bool = False) -> int:
        """The keysym a key code produces (for summaries and hotkeys)."""
        return 0
