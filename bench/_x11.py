"""Bench helpers: a witness that logs every raw input event in the X server's order."""

from __future__ import annotations

import select
import threading
import time
from dataclasses import dataclass

from Xlib import display
from Xlib.ext import xinput
from Xlib.ext.ge import GenericEventCode

from capture.input._xi2 import RAW_KINDS, RAW_MASK, RawEventData


@dataclass(frozen=True, slots=True)
class Raw:
    evtype: int
    detail: int
    sourceid: int
    received: float


class Witness:
    """Every raw key/button/motion event on the server, in server order, with sourceid."""

    def __init__(self, name: str) -> None:
        self.d = display.Display(name)
        self.opcode = self.d.display.get_extension_major(xinput.extname)
        for t in RAW_KINDS:
            self.d.ge_add_event_data(self.opcode, t, RawEventData)
        self.d.screen().root.xinput_select_events([(xinput.AllMasterDevices, RAW_MASK)])
        self.d.sync()
        self.events: list[Raw] = []
        self.lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd = self.d.fileno()
        while not self._stop:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                continue
            while self.d.pending_events():
                ev = self.d.next_event()
                if ev.type == GenericEventCode and ev.extension == self.opcode and ev.evtype in RAW_KINDS:
                    with self.lock:
                        self.events.append(Raw(ev.evtype, ev.data.detail, ev.data.sourceid, time.perf_counter()))

    def take(self) -> list[Raw]:
        with self.lock:
            out, self.events = self.events, []
        return out

    def close(self) -> None:
        self._stop = True
        self._thread.join(1)
        self.d.close()
