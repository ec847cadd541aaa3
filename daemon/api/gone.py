"""Notice, while a request is being served, that its client has hung up.

uvicorn delivers ``http.disconnect`` on ``receive()`` once the body has been read and the
connection is lost; a task awaiting it costs nothing until then (no polling, unlike
``Request.is_disconnected()`` in a loop). The routes that run actions pass the event on,
so an abandoned action stops at its next primitive and a batch stops running.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

from starlette.requests import Request

__all__ = ["abandonment"]


@contextlib.asynccontextmanager
async def abandonment(request: Request) -> AsyncIterator[threading.Event]:
    """A threading event (the executor checks it) set when ``request``'s client is gone."""
    gone = threading.Event()

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass  # an empty trailing body chunk: keep waiting

    async def watched() -> None:
        with contextlib.suppress(Exception):  # a server that cannot tell: never set
            await watch()
            gone.set()

    task = asyncio.create_task(watched())
    try:
        yield gone
    finally:
        # not awaited: its end would take a turn of the loop before the answer leaves; the
        # loop keeps the cancelled task until it has ended, a moment later
        task.cancel()
