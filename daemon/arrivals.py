"""Arrival order, kept from the moment the daemon takes an action in to the executor.

Between arrival (:meth:`Daemon.act`, on the event loop) and the executor's queue an
action crosses the store and the policy on worker threads, which finish in any order:
eight agents at once would be served in a shuffled order. Each proposal takes a ticket
when it arrives; it reaches the executor only after every earlier ticket has left, and
a ticket leaves when its action is queued, refused, or held for a person (a review must
never make later agents wait behind it).
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Arrivals"]


class Arrivals:
    """Tickets in arrival order. Event loop thread only, except :meth:`leave_soon`."""

    def __init__(self) -> None:
        self._open: dict[str, asyncio.Event] = {}  # insertion order is arrival order
        self._loop: asyncio.AbstractEventLoop | None = None

    def enter(self, ticket: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._open[ticket] = asyncio.Event()

    def leave(self, ticket: str) -> None:
        """Idempotent: the first leave counts."""
        done = self._open.pop(ticket, None)
        if done is not None:
            done.set()

    def leave_soon(self, ticket: str) -> None:
        """Any thread (the review queue's listeners run on worker threads)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self.leave, ticket)

    async def turn(self, ticket: str) -> None:
        """Return once every ticket that arrived before ``ticket`` has left."""
        while ticket in self._open:
            first = next(iter(self._open))
            if first == ticket:
                return
            await self._open[first].wait()

    @property
    def waiting(self) -> int:
        return len(self._open)
