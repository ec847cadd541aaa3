"""An action's outcome goes on disk on the thread that produced it, or just after its answer.

A move runs in about 0.3 ms. Written from the event loop through ``asyncio.to_thread``,
its outcome cost as much again: a worker thread woken to write, then the loop woken to
go on (two wake-ups, each a scheduling delay on a busy machine). The executor's thread
already holds the outcome when it finishes the action, so it writes it there, in the
future's done callback, before the event loop is told: the row is on disk before the
agent's answer leaves, with one wake-up fewer.

An action no person held, answered by ``POST /v1/actions``, does not wait for that write
at all (:class:`AfterAnswer`): the event loop writes its outcome right after the answer
has left, in the next turn of the loop, before it reads any later request. So a
``GET /v1/actions/{id}`` (which needs the answer's id) always finds the row, and the agent
gets its answer 0.2-0.5 ms sooner. A ``kill -9`` in between leaves the row ``pending``,
which the next start records as ``interrupted`` (it may have run), as for a kill during
the action. A reviewed action's outcome is still on disk before its answer leaves.

A decoration (the demonstration a takeover left, ``serve`` records them by default) is
added on the executor's thread too, unless the outcome carries the person's activity:
only then may a decoration wait (for the person's last actions to be flushed), and the
executor's thread must not, so such an outcome is handed back unwritten, for a worker
thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, NamedTuple

from pydantic import BaseModel

from daemon.outcomes import Outcome
from daemon.store import Store

__all__ = ["AfterAnswer", "Decoration", "Recorded", "recorded"]

log = logging.getLogger(__name__)

Decoration = Callable[[str, Outcome], Outcome]
"""(action id, outcome) -> the outcome with what it follows added. It may block only for an
outcome with ``human_activity``; for any other it returns at once."""


class Recorded(NamedTuple):
    outcome: Outcome
    written: bool  # False: it carries the person's activity and waits for its decoration
    deferred: bool = False  # not written, decorated: the caller writes it after the answer


class AfterAnswer:
    """Writes that wait until an answer has left: the route that answers calls
    :meth:`after_the_answer` as its response's background task (Starlette runs it once the
    body is sent), or :meth:`run` at once when it answers nothing. A write added once they
    ran runs at once. Event loop only; a write that fails is logged (the answer is out)."""

    def __init__(self) -> None:
        self._writes: list[Callable[[], object]] = []
        self._ran = False

    def add(self, write: Callable[[], object]) -> None:
        self._writes.append(write)
        if self._ran:
            self.run()

    def run(self) -> None:
        self._ran = True
        writes, self._writes = self._writes, []
        for write in writes:
            try:
                write()
            except Exception:  # the answer is out: all that is left is to say so
                log.exception("could not record an action's outcome after its answer")

    async def after_the_answer(self) -> None:
        # the answer was gathered for one write at the end of this turn (daemon/api/one_write.py)
        try:
            await asyncio.sleep(0)
        finally:  # cancelled (a shutdown) or not, the outcome is recorded
            self.run()


def recorded(
    store: Store,
    running: Future[Outcome],
    action_id: str,
    dialect: str,
    ran: BaseModel | dict[str, Any],
    update: dict[str, Any] | None = None,
    decorate: Decoration | None = None,
    *,
    defer: bool = False,
    created: float | None = None,
) -> Future[Recorded]:
    """A future of ``running``'s outcome (with ``update`` applied), set once that outcome is
    recorded for ``action_id`` (``written``), or at once, unwritten, when ``decorate`` is
    given and the outcome carries the person's activity; a failure to run or to record
    is its exception. ``defer``: everything but the write (``deferred``, for the caller).
    ``created``: the row's arrival time, when it has no row yet (a look, daemon/service.py).

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
            if defer:
                written.set_result(Recorded(outcome, False, True))
                return
            store.record_action(action_id, dialect, ran, outcome, created)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            written.set_exception(exc)
        else:
            written.set_result(Recorded(outcome, True))

    running.add_done_callback(write)
    return written
