"""An action's outcome goes on disk on the thread that produced it: no hop on the way.

A move runs in about 0.3 ms. Written from the event loop through ``asyncio.to_thread``,
its outcome cost as much again: a worker thread woken to write, then the loop woken to
go on (two wake-ups, each a scheduling delay on a busy machine). The executor's thread
already holds the outcome when it finishes the action, so it writes it there, in the
future's done callback, before the event loop is told: the row is on disk before the
agent's answer leaves, as before, with one wake-up fewer.

A decoration (the demonstration a takeover left, ``serve`` records them by default) is
added there too, unless the outcome carries the person's activity: only then may a
decoration wait (for the person's last actions to be flushed), and the executor's
thread must not, so such an outcome is handed back unwritten, for a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, NamedTuple

from pydantic import BaseModel

from daemon.outcomes import Outcome
from daemon.store import Store

__all__ = ["Decoration", "Recorded", "recorded"]

Decoration = Callable[[str, Outcome], Outcome]
"""(action id, outcome) -> the outcome with what it follows added. It may block only for an
outcome with ``human_activity``; for any other it returns at once."""


class Recorded(NamedTuple):
    outcome: Outcome
    written: bool  # False: it carries the person's activity and waits for its decoration


def recorded(
    store: Store,
    running: Future[Outcome],
    action_id: str,
    dialect: str,
    ran: BaseModel | dict[str, Any],
    update: dict[str, Any] | None = None,
    decorate: Decoration | None = None,
) -> Future[Recorded]:
    """A future of ``running``'s outcome (with ``update`` applied), set once that outcome is
    recorded for ``action_id`` (``written``), or at once, unwritten, when ``decorate`` is
    given and the outcome carries the person's activity; a failure to run or to record
    is its exception.

    The write happens on the thread that completes ``running`` (the executor's), or at once
    on the caller's if it is already done (an action refused before it was queued)."""
    written: Future[Recorded] = Future()

    def write(done: Future[Outcome]) -> None:
        try:
            outcome = done.result()
            if update:
                outcome = outcome.model_copy(update=update)
            if decorate is not None:
                if outcome.human_activity is not None:
                    written.set_result(Recorded(outcome, False))
                    return
                outcome = decorate(action_id, outcome)
            store.record_action(action_id, dialect, ran, outcome)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            written.set_exception(exc)
        else:
            written.set_result(Recorded(outcome, True))

    running.add_done_callback(write)
    return written
