"""X11 input backend: XTest injection, XInput2 raw-event provenance.

Why not pynput here (measured, see docs/x11-input.md): pynput's ``injected`` flag is
always False for XTest input on X11, its keyboard Controller types characters with
XSendEvent (no device event, ignored by some apps) and its XRecord listener can stall
for hundreds of ms on a quiet server. XInput2 raw events instead name the slave device
each event came from (``sourceid``), arrive 1:1 with XTest requests and reach us even
while another client holds a grab.

Classification of a raw event:
- from a slave that is not an XTEST device -> a person (physical device);
- from the core XTEST slaves and matching our ledger -> ours;
- from any XTEST slave otherwise -> another injector (xdotool, VNC): treated as human.

Three connections: one for injection (executor thread), one for the observer thread,
and none shared between threads (python-xlib connections are not thread-safe).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from Xlib import XK, X, display, error
from Xlib.ext import xinput, xtest
from Xlib.ext.ge import GenericEventCode

from capture.errors import CaptureError, UnsupportedPlatform
from capture.input._base import InputBackend, InputEvent, Kind, Observer, Origin, Primitive
from capture.input._xi2 import (
    HIERARCHY_MASK,
    RAW_KINDS,
    RAW_MASK,
    RawEventData,
    _XIQueryPointer,
    _XIQueryVersion,
    raw_axes,
)
from capture.input.announce import InjectionAnnouncer, announcements_enabled
from capture.input.keys import keysym_for_char

_X_KIND = {
    Kind.KEY_DOWN: X.KeyPress,
    Kind.KEY_UP: X.KeyRelease,
    Kind.BUTTON_DOWN: X.ButtonPress,
    Kind.BUTTON_UP: X.ButtonRelease,
}


# A remapped spare key is reused only this long after its last use: a client that
# lags behind looks the keycode up when it handles the event, with the map of then.
REMAP_REUSE_AFTER = 0.05


def _open(name: str) -> display.Display:
    try:
        return display.Display(name)
    except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
        raise CaptureError(f"cannot open X display {name!r}: {exc}", display=name) from exc


class XorgBackend(InputBackend):
    """Inject through XTest and observe XInput2 raw events on one X display."""

    name = "xorg"

    def __init__(self, display_name: str | None = None, *, strict_order: bool = True) -> None:
        super().__init__()
        self.strict_order = strict_order
        name = display_name or os.environ.get("DISPLAY", "")
        if not name:
            raise UnsupportedPlatform(
                "no X display: DISPLAY is not set (use --display :N, or `make run`, "
                "which starts a virtual display)"
            )
        self.display_name = name
        self._inj = _open(name)
        self._obs = _open(name)
        try:
            self._check_extensions()
        except Exception:
            self._inj.close()
            self._obs.close()
            raise
        self._xi_opcode = self._obs.display.get_extension_major(xinput.extname)
        for t in RAW_KINDS:
            self._obs.ge_add_event_data(self._xi_opcode, t, RawEventData)
        self._ours: frozenset[int] = frozenset()
        self._xtest: frozenset[int] = frozenset()
        self._refresh_devices()
        # keysym -> (keycode, level); spare keycodes (empty at start) remapped on demand
        self._keymap: dict[int, tuple[int, int]] = {}
        self._spares: OrderedDict[int, tuple[int, float]] = OrderedDict()
        self._spare_codes: list[int] = []
        self._remapped: set[int] = set()
        self._keymap_dirty = threading.Event()
        self._load_keymap(initial=True)
        self._shift_code = self.key_code(XK.XK_Shift_L)
        self._obs_mapping_events: list[Any] = []
        # observer thread state
        self._busy = False
        self._drained = threading.Condition()
        self._stop_r, self._stop_w = os.pipe()
        # after_observed: callbacks, and a pipe that wakes the observer for them
        self._after: list[Callable[[], None]] = []
        self._after_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._observer_done = False
        self._thread: threading.Thread | None = None
        self._observer: Observer | None = None
        self.failure: BaseException | None = None
        self.on_failure: Callable[[BaseException], None] | None = None
        self.ours_seen = 0
        # a recorder in another process learns which core-XTEST events are ours
        self._announcer = InjectionAnnouncer(name) if announcements_enabled() else None
        self._closed = False

    # -- setup -------------------------------------------------------------------
    def _check_extensions(self) -> None:
        for d in (self._inj, self._obs):
            for ext in ("XTEST", xinput.extname):
                if not d.query_extension(ext):
                    raise CaptureError(f"the X server has no {ext} extension", display=self.display_name)
        reply = _XIQueryVersion(
            display=self._obs.display,
            opcode=self._obs.display.get_extension_major(xinput.extname),
            major_version=2,
            minor_version=2,
        )
        if (reply.major_version, reply.minor_version) < (2, 2):
            raise CaptureError(
                f"XInput {reply.major_version}.{reply.minor_version} is too old: raw events "
                "with source devices need XInput 2.2",
                display=self.display_name,
            )

    def _refresh_devices(self) -> None:
        devices = self._obs.xinput_query_device(xinput.AllDevices).devices
        by_name = {d.name: d.deviceid for d in devices}
        core = {by_name.get("Virtual core pointer"), by_name.get("Virtual core keyboard")}
        xtest_ids = {d.deviceid for d in devices if "XTEST" in d.name}
        self._xtest = frozenset(xtest_ids)
        self._ours = frozenset(
            d.deviceid for d in devices if d.deviceid in xtest_ids and d.attachment in core
        )

    def _load_keymap(self, initial: bool = False) -> None:
        info = self._inj.display.info
        lo, hi = info.min_keycode, info.max_keycode
        rows = self._inj.get_keyboard_mapping(lo, hi - lo + 1)
        keymap: dict[int, tuple[int, int]] = {}
        for level in (0, 1):
            for i, row in enumerate(rows):
                code = lo + i
                if code in self._remapped or len(row) <= level:
                    continue
                ks = row[level]
                if ks and ks not in keymap:
                    keymap[ks] = (code, level)
        self._per_code = max(2, len(rows[0]))
        if initial:
            self._spare_codes = [lo + i for i, row in enumerate(rows) if not any(row)]
        self._keymap = keymap
        self._keymap_dirty.clear()

    # -- injection (executor thread, or run_now's caller under its run lock) -----------
    def _inject(self, p: Primitive) -> None:
        if self._announcer is not None:
            # before the request: see capture/input/announce.py for why this order is exact
            self._announcer.announce(p.kind, p.code if p.kind is not Kind.MOTION else 0)
        if p.kind is Kind.MOTION:
            xtest.fake_input(self._inj, X.MotionNotify, x=p.x, y=p.y)
        else:
            xtest.fake_input(self._inj, _X_KIND[p.kind], p.code)
        self._inj.flush()

    def barrier(self) -> None:
        # The round trip returns after the server handled every request sent before it
        # and flushed its output, so a person's event that came earlier is now on the
        # observer's socket, or already handled by the observer.
        self._inj.sync()
        self._await_observer()

    def _await_observer(self) -> None:
        """Wait for the observer to handle what is on its socket."""
        if self.failure is not None:
            raise CaptureError(f"the input observer stopped: {self.failure!r}")
        if not self._pending_observation():
            return
        with self._drained:
            self._drained.wait_for(lambda: not self._pending_observation(), timeout=0.05)

    def send_guarded(self, p: Primitive, halted: Callable[[], bool]) -> bool:
        if not self.strict_order:
            return super().send_guarded(p, halted)
        # Under a server grab no other client's request runs between our check and our
        # primitive, so input from any XTEST injector (VNC, remote desktop, xdotool)
        # cannot slip in between. Events from physical devices are still processed
        # during a grab: for them the window is the ~0.1 ms from the reply to our
        # primitive. The grab is dropped while waiting for the observer, which may
        # itself need a round trip (XIQueryPointer) to finish its work.
        inj = self._inj
        try:
            while True:
                inj.grab_server()
                inj.sync()
                if self.failure is not None:
                    raise CaptureError(f"the input observer stopped: {self.failure!r}")
                if not self._pending_observation():
                    break
                inj.ungrab_server()
                inj.flush()
                self._await_observer()
            if halted():
                return False
            self.send(p)
            return True
        finally:
            inj.ungrab_server()
            inj.flush()

    def observing(self) -> bool:
        return self._thread is not None and self._pending_observation()

    def _pending_observation(self) -> bool:
        if self._busy:
            return True
        readable, _, _ = select.select([self._obs.fileno()], [], [], 0)
        return bool(readable)

    def key_code(self, keysym: int) -> int:
        if self._keymap_dirty.is_set():
            self._load_keymap()
        hit = self._keymap.get(keysym)
        if hit is not None:
            return hit[0]
        if keysym in {ks for ks, _ in self._spares.values()}:
            return next(c for c, (ks, _) in self._spares.items() if ks == keysym)
        code = self._remap(keysym, lambda s: False)
        assert code is not None
        return code

    def plan_char(self, ch: str, pause: Callable[[float], bool]) -> list[Primitive] | None:
        ks = keysym_for_char(ch)
        if self._keymap_dirty.is_set():
            self._load_keymap()
        hit = self._keymap.get(ks)
        if hit is not None:
            code, level = hit
        else:
            remapped = self._remap(ks, pause)
            if remapped is None:
                return None
            code = remapped
            level = 0
        if level == 1:
            return [
                Primitive(Kind.KEY_DOWN, self._shift_code),
                Primitive(Kind.KEY_DOWN, code),
                Primitive(Kind.KEY_UP, code),
                Primitive(Kind.KEY_UP, self._shift_code),
            ]
        return [Primitive(Kind.KEY_DOWN, code), Primitive(Kind.KEY_UP, code)]

    def _remap(self, keysym: int, pause: Callable[[float], bool]) -> int | None:
        """Put ``keysym`` on a spare keycode (as xdotool does), least recently used first."""
        for code, (ks, _) in self._spares.items():
            if ks == keysym:
                self._spares[code] = (ks, time.monotonic())
                self._spares.move_to_end(code)
                return code
        free = [c for c in self._spare_codes if c not in self._spares]
        if free:
            code = free[0]
        elif self._spares:
            code, (_, last) = next(iter(self._spares.items()))
            wait = last + REMAP_REUSE_AFTER - time.monotonic()
            if wait > 0 and pause(wait):
                return None
            del self._spares[code]
        else:
            raise CaptureError("no spare keycode to type this character", keysym=keysym)
        per = self._per_code
        self._inj.change_keyboard_mapping(code, [(keysym,) * 2 + (0,) * (per - 2)])
        self._remapped.add(code)
        self._spares[code] = (keysym, time.monotonic())
        return code

    # -- observation (observer thread) ---------------------------------------------
    def start(self, observer: Observer) -> None:
        if self._thread is not None:
            raise CaptureError("observer already started")
        self._observer = observer
        root = self._obs.screen().root
        root.xinput_select_events(
            [(xinput.AllMasterDevices, RAW_MASK), (xinput.AllDevices, HIERARCHY_MASK)]
        )
        self._obs.sync()
        self._thread = threading.Thread(target=self._run, name="driverseat-x11-observer", daemon=True)
        self._thread.start()

    def after_observed(self, fn: Callable[[], None]) -> None:
        # An event that caused our caller's news (a person's Enter that decided a review,
        # seen by the overlay) is on the observer's socket by now: the server flushes it
        # with the overlay's copy. The observer runs ``fn`` once it has drained the socket.
        thread = self._thread
        if thread is None or threading.current_thread() is thread or not self._pending_observation():
            fn()  # nothing waits to be observed (the usual case: no hand-off)
            return
        with self._after_lock:
            stopped = self._observer_done
            if not stopped:
                self._after.append(fn)
        if stopped:  # nobody observes any more: nothing can come before it
            fn()
            return
        with contextlib.suppress(OSError):  # a full pipe wakes it as well; closed: it ran
            os.write(self._wake_w, b"a")

    def _take_after(self, *, last: bool = False) -> list[Callable[[], None]]:
        with self._after_lock:
            taken, self._after = self._after, []
            self._observer_done = self._observer_done or last
        return taken

    @staticmethod
    def _run_after(callbacks: list[Callable[[], None]]) -> None:
        for fn in callbacks:
            fn()

    def _run(self) -> None:
        fd = self._obs.fileno()
        try:
            while True:
                ready, _, _ = select.select([fd, self._stop_r, self._wake_r], [], [])
                if self._stop_r in ready:
                    return
                self._busy = True
                try:
                    # the callbacks asked for before this drain run after it: every event
                    # on the socket when one was asked for is handled first (one asked for
                    # later wakes the next select; no syscall here for plain input)
                    after: list[Callable[[], None]] = []
                    if self._wake_r in ready:
                        with contextlib.suppress(BlockingIOError):
                            os.read(self._wake_r, 4096)
                        after = self._take_after()
                    try:
                        while self._obs.pending_events():
                            self._handle(self._obs.next_event())
                    finally:
                        self._run_after(after)
                finally:
                    self._busy = False
                    with self._drained:
                        self._drained.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the owner, as pynput does
            self.failure = exc
            if self.on_failure is not None:
                self.on_failure(exc)
        finally:
            self._run_after(self._take_after(last=True))  # late, but never lost

    def _handle(self, ev: Any) -> None:
        if ev.type == GenericEventCode and ev.extension == self._xi_opcode:
            kind = RAW_KINDS.get(ev.evtype)
            if kind is not None:
                data = ev.data
                src = data.sourceid
                code = data.detail if kind is not Kind.MOTION else 0
                if src in self._ours and self.ledger.match(kind, code):
                    self.ours_seen += 1
                    return
                origin = Origin.FOREIGN if src in self._xtest else Origin.HUMAN
                axes = raw_axes(data.rest, data.valuators_len) if kind is Kind.MOTION else None
                assert self._observer is not None
                self._observer(
                    InputEvent(kind, code, origin, data.time, time.monotonic(), data.deviceid, axes=axes)
                )
            elif ev.evtype == xinput.HierarchyChanged:
                self._refresh_devices()
        elif ev.type == X.MappingNotify:
            self._obs_mapping_events.append(ev)
            self._keymap_dirty.set()

    # -- queries (observer thread, after the takeover is signalled) -------------------
    def keysym_of(self, code: int, shifted: bool = False) -> int:
        events, self._obs_mapping_events = self._obs_mapping_events, []
        for ev in events:
            self._obs.refresh_keyboard_mapping(ev)
        ks = int(self._obs.keycode_to_keysym(code, 1 if shifted else 0))
        if ks == 0 and shifted:
            ks = int(self._obs.keycode_to_keysym(code, 0))
        return ks

    def pointer_of(self, event: InputEvent) -> tuple[int, int] | None:
        reply = self._query_pointer(event)
        return None if reply is None else (int(reply.root_x), int(reply.root_y))

    def window_of(self, event: InputEvent) -> int | None:
        # ``child`` is the root's child under that device's pointer: the server's own
        # answer, with the stacking order applied (0 when the pointer is on the root)
        reply = self._query_pointer(event)
        if reply is None:
            return None
        child = reply.child  # a Window resource, or a plain id
        wid = int(child if isinstance(child, int) else child.id)
        return wid or None

    def _query_pointer(self, event: InputEvent) -> Any:
        try:
            return _XIQueryPointer(
                display=self._obs.display,
                opcode=self._xi_opcode,
                window=self._obs.screen().root,
                deviceid=event.device,
            )
        except error.XError:
            return None

    # -- executor-thread queries (or run_now's caller, under the executor's run lock) ---
    def cursor_position(self) -> tuple[int, int]:
        p = self._inj.screen().root.query_pointer()
        return int(p.root_x), int(p.root_y)

    def screen_size(self) -> tuple[int, int]:
        s = self._inj.screen()
        return int(s.width_in_pixels), int(s.height_in_pixels)

    # -- teardown ----------------------------------------------------------------------
    def close(self) -> None:
        """Release what we hold, restore remapped keys, stop the observer. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.release_all()
            for code in sorted(self._remapped):
                self._inj.change_keyboard_mapping(code, [(0,) * self._per_code])
            self._inj.sync()
        except (error.XError, error.ConnectionClosedError, OSError):
            pass  # the server is gone: nothing is held on it any more
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
            self._run_after(self._take_after(last=True))  # if it did not stop in time
        for fd in (self._stop_r, self._stop_w, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._announcer is not None:
            self._announcer.close()
        for d in (self._inj, self._obs):
            try:
                d.close()
            except (error.XError, error.ConnectionClosedError, OSError):
                pass
