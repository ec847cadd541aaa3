"""The event hub: one stream of JSON messages fanned out to every subscriber.

Control changes come from the observer and resume threads, outcomes and reviews from
the event loop and worker threads: :meth:`EventHub.publish` may be called from any
thread and hands the message to the loop. Each subscriber has a bounded queue; one that
falls behind is cut loose (its queue gets the ``None`` sentinel), never buffered
without limit, so a stalled subscriber slows nobody down.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
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


class EventHub:
    """Fan-out of messages to subscribers; bound to one event loop while it runs."""

    def __init__(self) -> None:
        self._clients: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` from now on (called on that loop's thread)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def subscribe(self) -> Subscription:
        q = Subscription()
        self._clients.add(q)
        return q

    def unsubscribe(self, q: Subscription) -> None:
        self._clients.discard(q)

    @property
    def subscribers(self) -> int:
        return len(self._clients)

    def publish(self, message: Message) -> None:
        """Any thread. Dropped when no loop is bound (nobody can be listening)."""
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
        for q in list(self._clients):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:
                self._clients.discard(q)
                q.overflowed = True
                _hang_up(q)

    def close(self) -> None:
        """Hang up on every subscriber and unbind from the loop (loop thread)."""
        for q in list(self._clients):
            _hang_up(q)
        self._clients.clear()
        self._loop = None
        self._loop_thread = None


def _hang_up(q: Subscription) -> None:
    """Replace whatever is queued by the sentinel that makes its sender close the socket."""
    while not q.empty():
        q.get_nowait()
    q.put_nowait(None)
    q.cut.set()
