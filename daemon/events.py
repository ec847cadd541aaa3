"""The event hub: one stream of JSON messages fanned out to every subscriber.

Control changes come from the observer and resume threads, outcomes and reviews from
the event loop and worker threads: :meth:`EventHub.publish` may be called from any
thread and hands the message to the loop. Each subscriber has a bounded queue; one that
falls behind is cut loose (its queue gets the ``None`` sentinel), never buffered
without limit, so a stalled subscriber slows nobody down.

:attr:`EventHub.news_at` is when the hub last had something the overlay may show a
window for (any message but a plain outcome), or a new overlay subscriber (an overlay
that (re)connects lists what is pending and shows it; another subscriber, such as the
notifications' or a dashboard's, shows nothing): the clearance asks the X server
itself for a while after that, because a window mapped a moment ago may not have
reached the daemon's window watch yet (daemon/service.py).

Every message gets ``seq``, its place in the stream (1, 2, ...). An overlay (a subscriber
that said so: ``?role=overlay``) answers ``{"type": "ack", "seq": n}`` once it has
handled every message up to ``n``. Before an approved action runs,
:meth:`EventHub.overlays_caught_up` waits (bounded) until every overlay has handled all
that was sent before, its decision included: from then on that overlay shows no window
until the action's outcome comes, so no window of its can appear under the action's
input after the clearance has looked (daemon/control/clearance.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from typing import Any

__all__ = ["QUEUE_SIZE", "EventHub", "Message", "Subscription"]

QUEUE_SIZE = 256
Message = dict[str, Any]


class Subscription(asyncio.Queue[Message | None]):
    """A subscriber's queue; ``cut`` is set when the hub hangs up on it. Its sender may be
    stuck writing to a client that stopped reading, and never see the sentinel: ``cut``
    is what wakes whoever must then reset that connection."""

    def __init__(self, maxsize: int = QUEUE_SIZE) -> None:
        super().__init__(maxsize)
        self.cut = asyncio.Event()
        self.overflowed = False  # cut for falling behind (not for a shutdown)
        self.overlay = False  # an overlay: acknowledges what it has handled
        self.acked = 0  # the last seq it has handled (or the stream's seq when it came)
        self.late = False  # an overlay that missed a deadline: not waited for until it acks


class EventHub:
    """Fan-out of messages to subscribers; bound to one event loop while it runs."""

    def __init__(self) -> None:
        self._clients: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.news_at = -math.inf  # time.monotonic() of the last news for the overlay
        self.seq = 0  # of the last message delivered (loop thread)
        self._acked: asyncio.Event | None = None  # set when an overlay acks or leaves
        self.waiting_for_overlays = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` from now on (called on that loop's thread)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def subscribe(self, *, overlay: bool = False) -> Subscription:
        q = Subscription()
        q.overlay, q.acked = overlay, self.seq  # nothing sent before it came is its to handle
        self._clients.add(q)
        if overlay:  # only an overlay shows windows; the rest (a dashboard, the notifier) only listen
            self.news_at = time.monotonic()
        return q

    def unsubscribe(self, q: Subscription) -> None:
        self._clients.discard(q)
        self._changed()

    def ack(self, q: Subscription, seq: object) -> None:
        """Loop thread: overlay ``q`` has handled every message up to ``seq``."""
        if type(seq) is int and q.acked < seq <= self.seq:
            q.acked, q.late = seq, False
            self._changed()

    async def overlays_caught_up(self, timeout: float) -> bool:
        """Wait until every overlay subscribed now has handled every message delivered so
        far (or has left); False after ``timeout`` seconds with one still behind. One that
        missed the deadline is marked late and not waited for again until it acks: a hung
        overlay costs one action ``timeout``, not every action after it."""
        loop = asyncio.get_running_loop()
        # An approval's own review_decided is delivered by now: the deciding thread
        # schedules the gate's wake-up and then this delivery on the loop, and the woken
        # task runs only after both (on the loop, a decision is delivered at once).
        # tests/daemon/test_service.py holds an ack one short of it to be not enough.
        target, deadline = self.seq, loop.time() + timeout
        self.waiting_for_overlays += 1
        try:
            while behind := [q for q in self._clients if q.overlay and not q.late and q.acked < target]:
                if (left := deadline - loop.time()) <= 0:
                    break
                if self._acked is None:
                    self._acked = asyncio.Event()
                try:
                    await asyncio.wait_for(self._acked.wait(), left)
                except TimeoutError:
                    break
            else:
                return True
            for q in behind:
                q.late = True
            return False
        finally:
            self.waiting_for_overlays -= 1

    def _changed(self) -> None:
        if self._acked is not None:
            self._acked.set()
            self._acked = None

    @property
    def subscribers(self) -> int:
        return len(self._clients)

    def publish(self, message: Message) -> None:
        """Any thread. Dropped when no loop is bound (nobody can be listening)."""
        if message.get("type") != "outcome" or message.get("review_id"):
            self.news_at = time.monotonic()  # before anyone can have heard of it
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._deliver(message)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(self._deliver, message)

    def _deliver(self, message: Message) -> None:
        """Loop thread only. A full queue means a stuck subscriber: cut it loose."""
        self.seq += 1
        message = {**message, "seq": self.seq}
        for q in list(self._clients):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:
                self._clients.discard(q)
                q.overflowed = True
                _hang_up(q)
                self._changed()

    def close(self) -> None:
        """Hang up on every subscriber and unbind from the loop (loop thread)."""
        for q in list(self._clients):
            _hang_up(q)
        self._clients.clear()
        self._changed()
        self._loop = None
        self._loop_thread = None


def _hang_up(q: Subscription) -> None:
    """Replace whatever is queued by the sentinel that makes its sender close the socket."""
    while not q.empty():
        q.get_nowait()
    q.put_nowait(None)
    q.cut.set()
