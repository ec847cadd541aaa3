"""An action's outcome goes on disk on the thread that produced it: no hop on the way.

A move runs in about 0.3 ms. Written from the event loop through ``asyncio.to_thread``,
its outcome cost as much again: a worker thread woken to write, then the loop woken to
go on (two wake-ups, each a scheduling delay on a busy machine). The executor's thread
already holds the outcome when it finishes the action, so it writes it there, in the
future's done callback, before the event loop is told: the row is on disk before the
agent's answer leaves, as before, with one wake-up fewer.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from pydantic import BaseModel

from daemon.outcomes import Outcome
from daemon.store import Store

__all__ = ["recorded"]


def recorded(
    store: Store,
    running: Future[Outcome],
    action_id: str,
    dialect: str,
    ran: BaseModel | dict[str, Any],
    update: dict[str, Any] | None = None,
) -> Future[Outcome]:
    """A future of ``running``'s outcome (with ``update`` applied), set once that outcome is
    recorded for ``action_id``; a failure to run or to record is its exception.

    The write happens on the thread that completes ``running`` (the executor's), or at once
    on the caller's if it is already done (an action refused before it was queued)."""
    written: Future[Outcome] = Future()

    def write(done: Future[Outcome]) -> None:
        try:
            outcome = done.result()
            if update:
                outcome = outcome.model_copy(update=update)
            store.record_action(action_id, dialect, ran, outcome)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            written.set_exception(exc)
        else:
            written.set_result(outcome)

    running.add_done_callback(write)
    return written
