"""``Recording``: one shadowing session on one X display, from raw events to stored rows.

Threads: the input observer (capture.recorder.live) only queues events; one worker
thread feeds the merger, lets its timeouts pass, picks frames and writes rows; the frame
ring grabs on a thread of its own. Each action is written (frame file, then its row) as
soon as the merger completes it, so stopping, or being killed after that, loses none of
them. :meth:`Recording.stop` flushes what is still pending (a burst being typed, a
click waiting for its double) before it returns.

Frames: an action stores the last distinct frame first seen before its first event
(held modifiers included); the last action of a burst (no action for ``BURST_GAP_S``,
or the end of the recording) also stores the frame after it. The window title is the
one read with that frame. A click, drag or scroll stores the element under its press
from the accessibility tree (capture.a11y) where it reaches, else none.

Privacy (:mod:`daemon.shadow.privacy`): text typed into a password field is stored
masked; an action in a window whose title is a private one is not stored at all.
``on_action`` hears of each stored action (the daemon publishes it on ``WS /v1/events``);
:meth:`Recording.flush_now` ends every pending action at once (a takeover's end).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from capture.input import Kind
from capture.recorder import (
    Click,
    Drag,
    HumanAction,
    Merger,
    PauseToggled,
    RawEvent,
    Scroll,
    Settings,
    TypeText,
)
from capture.recorder.frames import FrameRing, TimedFrame
from capture.recorder.live import LiveInput, RecordedEvent
from capture.screen import Frame
from daemon.commentary import MASK
from daemon.shadow.convert import canonical
from daemon.shadow.frames import FrameFiles
from daemon.shadow.privacy import PrivateTitles
from daemon.shadow_store import SessionInfo, ShadowStore
from daemon.store import Store

if TYPE_CHECKING:
    from capture.a11y import A11y, Element
    from capture.screen import Screen
    from capture.windows import WindowTitles

__all__ = ["A11Y_TIMEOUT", "BURST_GAP_S", "Desktop", "Recording", "ScreenDesktop", "Summary", "XDesktop"]

log = logging.getLogger(__name__)

BURST_GAP_S = 1.0  # no new action this long after one: it ended a burst (frame after)
# the recorder's own accessibility lookups wait longer than the gate's 80 ms: they block
# only its worker, and a password check that times out is a password recorded in clear
A11Y_TIMEOUT = 0.3
_STOP = object()


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


@dataclass(frozen=True, slots=True)
class Summary:
    session: str
    actions: int
    seconds: float
    bytes: int  # frame files written by this recording
    events: int = 0  # the person's input events seen

    def line(self) -> str:
        return (
            f"recorded {self.actions} action(s) in {self.seconds:.1f} s into session "
            f"{self.session!r}, {self.bytes / 1e6:.2f} MB of frames ({self.events} input events)"
        )


class Desktop(Protocol):
    """What a recording needs of a desktop: the person's events, frames, titles."""

    display_name: str

    def start(self) -> None: ...
    def stop_input(self) -> None: ...
    def close(self) -> None: ...
    def screen_size(self) -> tuple[int, int]: ...
    def grab(self) -> Frame: ...
    def title(self) -> str | None: ...
    def element_at(self, x: int, y: int) -> dict[str, Any] | None: ...
    def password_focused(self) -> bool: ...
    @property
    def failure(self) -> BaseException | None: ...


class ScreenDesktop:
    """What every recording desktop shares: screenshots, the active window's title, and
    the accessibility lookups of one display (opened by the subclass)."""

    display_name: str
    _screen: Screen
    _titles: WindowTitles
    # never our own child processes (the overlay, drawn over the screen during a review)?
    ignore_children = False

    def _open_screen(self, display: str | None) -> None:
        from capture.screen import Screen
        from capture.windows import WindowTitles

        self._screen = Screen(display).open()
        try:
            self._titles = WindowTitles(display)
        except Exception:
            self._screen.close()
            raise
        self._a11y: A11y | None = None

    def close(self) -> None:
        if self._a11y is not None:
            self._a11y.close()
        self._titles.close()
        self._screen.close()

    def grab(self) -> Frame:
        frame: Frame = self._screen.grab(0)
        return frame

    def title(self) -> str | None:
        title: str | None = self._titles.active()
        return title

    def element_at(self, x: int, y: int) -> dict[str, Any] | None:
        """The accessible element at (x, y), as stored; None where the tree does not reach
        (no accessibility bus, an application that exposes nothing, no answer in time)."""
        return element_json(self._lookup().element_at(x, y))

    def password_focused(self) -> bool:
        return self._lookup().password_focused()

    def _lookup(self) -> A11y:
        if self._a11y is None:
            from capture.a11y import A11y

            self._a11y = A11y(ignore_children=self.ignore_children, display=self.display_name or None,
                              timeout=A11Y_TIMEOUT)  # fmt: skip
        return self._a11y


class XDesktop(ScreenDesktop):
    """An X display: the person's input (LiveInput), screenshots, the active window title."""

    def __init__(self, display: str | None, on_event: Callable[[RecordedEvent], None]) -> None:
        self.input = LiveInput(display, on_event)
        self.display_name = self.input.backend.display_name
        try:
            self._open_screen(self.display_name)
        except Exception:
            self.input.close()
            raise

    def start(self) -> None:
        self._lookup().focused()  # connects to the bus now: the first key's check is answered
        self.input.start()

    def stop_input(self) -> None:
        self.input.close()

    def screen_size(self) -> tuple[int, int]:
        return self.input.screen_size()

    @property
    def failure(self) -> BaseException | None:
        return self.input.failure


def element_json(el: Element | None) -> dict[str, Any] | None:
    if el is None:
        return None
    window = el.window
    return {
        "source": "a11y",
        "role": el.role,
        "name": el.name,
        "description": el.description,
        "box": None if el.box is None else [el.box.left, el.box.top, el.box.width, el.box.height],
        "window": None if window is None else {"role": window.role, "name": window.name},
        "application": el.application,
    }


class Recording:
    """Record the person on ``display`` into ``store`` (frames in ``frames_dir``)."""

    def __init__(
        self,
        store: Store,
        frames_dir: Path,
        *,
        display: str | None,
        session: str,
        settings: Settings | None = None,
        frame_interval: float = 0.25,
        desktop: Callable[[Callable[[RecordedEvent], None]], Desktop] | None = None,
        clock: Callable[[], float] = time.monotonic,
        private_titles: PrivateTitles | None = None,
        on_action: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._clock = clock
        self.private = private_titles if private_titles is not None else PrivateTitles()
        self.on_action = on_action
        self._mask = False  # the typing burst under way went (in part) to a password field
        self.private_skipped = 0  # actions not stored: done in a private window
        self.shadow = ShadowStore(store)
        self.files = FrameFiles(self.shadow, frames_dir)
        self.merger = Merger(settings)
        self._events: queue.Queue[object] = queue.Queue()
        self.desktop = (desktop or (lambda on_event: XDesktop(display, on_event)))(self._events.put)
        self.ring = FrameRing(self.desktop.grab, title=self.desktop.title, interval=frame_interval)
        self.info: SessionInfo = self.shadow.open_session(
            session, self.desktop.display_name, self.desktop.screen_size()
        )
        self._seq = self.shadow.next_seq(self.info.id)
        # epoch = monotonic + offset: events and frames are stamped on the monotonic clock
        self._offset = time.time() - time.monotonic()
        self._pins: dict[float, TimedFrame | None] = {}
        self._last: tuple[str, float] | None = None  # (row id, end) still owed a frame after
        self._origins: dict[float, str] = {}  # event time -> origin, for pending actions
        # (x, y) -> the element under a press of a pending action, looked up at the press
        self._elements: dict[tuple[int, int], dict[str, Any] | None] = {}
        self.actions = 0
        self.events = 0
        self.paused = False
        self._worker = threading.Thread(target=self._run, name="driverseat-recorder", daemon=True)
        self._started = 0.0
        self._stopped = threading.Event()
        self.failure: BaseException | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, *, grab_frames: bool = True) -> None:
        """Start; ``grab_frames=False`` leaves the ring to whoever adds frames (tests)."""
        self._started = self._clock()
        if grab_frames:
            self.ring.grab_now()  # every action has a frame from before it, the first included
            self.ring.start()
        self._worker.start()
        self.desktop.start()

    def stop(self) -> Summary:
        """Stop observing, flush every pending action, store the last frame after."""
        if not self._stopped.is_set():
            self._stopped.set()
            self.desktop.stop_input()  # every event seen so far is queued after this
            self._events.put(_STOP)
            self._worker.join(timeout=30)
            self.ring.stop()
            self.desktop.close()
            self.shadow.add_seconds(self.info.id, self._clock() - self._started)
        return self.summary()

    def summary(self) -> Summary:
        return Summary(
            self.info.name, self.actions, self._clock() - self._started,
            self.files.bytes_written, self.events,
        )  # fmt: skip

    @property
    def input_failure(self) -> BaseException | None:
        return self.desktop.failure

    def put(self, event: RecordedEvent) -> None:
        """One of the person's events (any thread; a desktop's observer calls it)."""
        self._events.put(event)

    def flush_now(self, timeout: float = 5.0) -> bool:
        """End every pending action now (as if the person had paused for long), once every
        event queued before this call is handled; True when done within ``timeout``."""
        if self._stopped.is_set() or not self._worker.is_alive():
            return False
        marker = _Flush()
        self._events.put(marker)
        return marker.done.wait(timeout)

    # -- the worker ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                deadline = self._deadline()
                timeout = None if deadline is None else max(0.0, deadline - self._clock())
                try:
                    item = self._events.get(timeout=timeout)
                except queue.Empty:
                    self._tick(self._clock())
                    continue
                if item is _STOP:
                    break
                if isinstance(item, _Flush):
                    for pending in self.merger.flush():
                        self._handle(pending)
                    self._pin()
                    item.done.set()
                    continue
                assert isinstance(item, RecordedEvent)
                self._tick(item.event.t)  # a burst that ended before this event ends first
                self._origins[item.event.t] = item.origin.value
                self.events += 1
                self._look_up(item.event)
                if self._typed_in_password(item.event):
                    self._mask = True  # before the feed: this key may end the burst
                for out in self.merger.feed(item.event):
                    self._handle(out)
                if not self.merger.typing:
                    self._mask = False
                self._pin()
            for out in self.merger.flush():
                self._handle(out)
            if self._last is not None:
                self._frame_after(self.ring.grab_now())
        except BaseException as exc:  # handed to the owner through .failure
            self.failure = exc
            log.exception("the recorder stopped")

    def _deadline(self) -> float | None:
        times = [t for t in (self.merger.next_deadline(),) if t is not None]
        if self._last is not None:
            times.append(self._last[1] + BURST_GAP_S)
        return min(times) if times else None

    def _tick(self, now: float) -> None:
        for out in self.merger.tick(now):
            self._handle(out)
        if self._last is None or now < self._last[1] + BURST_GAP_S:
            return
        end = self._last[1]
        since = self.merger.pending_since()
        if since is not None and since < end + BURST_GAP_S:
            self._last = None  # the burst goes on: the pending action will be its last
        elif self.ring.last_grab > end:
            entry = self.ring.before(since) if since is not None else self.ring.latest()
            if entry is not None:
                self._frame_after(entry)
        else:
            self.ring.poke()  # no grab since the action ended yet: look again shortly
            self._last = (self._last[0], now + 0.05 - BURST_GAP_S)

    def _pin(self) -> None:
        """Hold on to the frame from before the pending action's start: the ring may
        have dropped it by the time a long burst is complete."""
        since = self.merger.pending_since()
        if since is None:
            self._pins.clear()
            self._origins.clear()
            self._elements.clear()
            return
        for t in [t for t in self._pins if t < since]:
            del self._pins[t]
        for t in [t for t in self._origins if t < since]:
            del self._origins[t]
        if since not in self._pins:
            self._pins[since] = self.ring.before(since)

    def _look_up(self, ev: RawEvent) -> None:
        """The element under a press, asked when the press is handled (milliseconds after
        it, before its release can have closed the window it was on)."""
        if ev.kind is not Kind.BUTTON_DOWN or ev.x is None or ev.y is None or self.merger.paused:
            return
        if (ev.x, ev.y) not in self._elements:
            self._elements[(ev.x, ev.y)] = self.desktop.element_at(ev.x, ev.y)

    def _typed_in_password(self, ev: RawEvent) -> bool:
        """A key typed while a password field has the focus (asked at every key that may
        type: the focus can move between two keys of one burst)."""
        if ev.kind is not Kind.KEY_DOWN or self.merger.paused or self.merger.is_modifier(ev):
            return False
        return self.desktop.password_focused()

    def _element_of(self, out: HumanAction) -> dict[str, Any] | None:
        if isinstance(out, Click | Scroll):
            return self._elements.get((out.x, out.y))
        if isinstance(out, Drag) and out.path:
            return self._elements.get(out.path[0])
        return None

    def _handle(self, out: HumanAction | PauseToggled) -> None:
        if isinstance(out, PauseToggled):
            self.paused = out.paused
            log.info("recording %s", "paused" if out.paused else "resumed")
            return
        try:
            action = canonical(out)
        except ValueError as exc:
            log.warning("not recorded: %s", exc)
            return
        if isinstance(out, TypeText) and self._mask:
            action["text"] = MASK
            self._mask = False
        entry = self._pins.get(out.start) or self.ring.before(out.start) or self.ring.latest()
        if self.private.match(entry.title if entry is not None else None, self.desktop.title()):
            self.private_skipped += 1
            log.info("not recorded: a %s in a private window", action["action"])
            if self._last is not None and self.private.match(self.desktop.title()):
                self._last = None  # its frame after would show the private window
            return
        digest = self.files.put(entry.frame) if entry is not None else None
        # the origin of the action's first event (one person's action has one source)
        origin = self._origins.get(out.start, "human")
        row = self.shadow.add_action(
            self.info.id,
            self._seq,
            (out.start + self._offset, out.end + self._offset),
            action,
            origin=origin,
            window=entry.title if entry is not None else None,
            frame_before=digest,
            element=self._element_of(out),
        )
        self._seq += 1
        self.actions += 1
        self._last = (row, out.end)  # owed a frame after, unless the burst goes on
        self.ring.poke()
        if self.on_action is not None:
            self.on_action({
                "id": row, "session": self.info.name, "seq": self._seq - 1,
                "started": out.start + self._offset, "ended": out.end + self._offset,
                "action": action, "origin": origin, "window": entry.title if entry is not None else None,
                "element": self._element_of(out), "frame": digest,
                "screen": [self.info.screen_w, self.info.screen_h],
            })  # fmt: skip

    def _frame_after(self, entry: TimedFrame) -> None:
        assert self._last is not None
        if self.private.match(entry.title):
            self._last = None  # a private window came up after it: no frame of it
            return
        self.shadow.set_frame_after(self._last[0], self.files.put(entry.frame))
        self._last = None
