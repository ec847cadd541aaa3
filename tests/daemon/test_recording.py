"""An outcome goes on disk on the executor's thread, its decoration too unless it may wait."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from daemon.actions import Move
from daemon.outcomes import HumanActivity, Outcome
from daemon.recording import AfterAnswer, recorded
from daemon.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _done_on_a_thread(outcome: Outcome) -> tuple[Future[Outcome], threading.Thread]:
    running: Future[Outcome] = Future()
    worker = threading.Thread(target=running.set_result, args=(outcome,), name="executor-like")
    return running, worker


def test_an_outcome_and_its_decoration_are_written_by_the_thread_that_ran_it(tmp_path: Path) -> None:
    calls: list[str] = []

    def decorate(action_id: str, outcome: Outcome) -> Outcome:
        calls.append(threading.current_thread().name)
        return outcome.model_copy(update={"detail": "decorated"})

    with Store(tmp_path / "d.db") as store:
        running, worker = _done_on_a_thread(Outcome(id="a1", action="move", status="executed"))
        future = recorded(store, running, "a1", "canonical", Move(x=1, y=2), {"review_id": "r1"}, decorate)
        worker.start()
        done = future.result(timeout=5)
        worker.join()
        assert done.written and done.outcome.detail == "decorated" and done.outcome.review_id == "r1"
        assert calls == ["executor-like"]
        row = store.get_action("a1")
        assert row is not None and row["status"] == "executed" and row["outcome"]["detail"] == "decorated"


def test_an_outcome_with_the_persons_activity_is_handed_back_unwritten(tmp_path: Path) -> None:
    # its decoration may wait for the takeover's last actions: not on the executor's thread
    def decorate(action_id: str, outcome: Outcome) -> Outcome:
        raise AssertionError("decorated on the executor's thread")

    with Store(tmp_path / "d.db") as store:
        store.record_action("a2", "canonical", Move(x=1, y=2))
        took = Outcome(id="a2", action="move", status="executed", human_activity=HumanActivity(seconds=1.0))
        running, worker = _done_on_a_thread(took)
        future = recorded(store, running, "a2", "canonical", Move(x=1, y=2), None, decorate)
        worker.start()
        done = future.result(timeout=5)
        worker.join()
        assert not done.written and done.outcome.human_activity is not None
        row = store.get_action("a2")
        assert row is not None and row["status"] == "pending"  # the worker thread writes it


def test_every_action_kind_is_complete_at_import() -> None:
    # a kind left for pydantic to complete lazily builds the union's schema (~30 ms) inside
    # the first request that serialises it: asked in a fresh interpreter, where no earlier
    # test has serialised one
    code = (
        "import typing, daemon.actions as a\n"
        "kinds = typing.get_args(typing.get_args(a.Action)[0])\n"
        "print(sorted(k.__name__ for k in kinds if not k.__pydantic_complete__))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_a_deferred_outcome_is_decorated_but_left_to_write(tmp_path: Path) -> None:
    with Store(tmp_path / "d.db") as store:
        store.record_action("a3", "canonical", Move(x=1, y=2))
        running, worker = _done_on_a_thread(Outcome(id="a3", action="move", status="executed"))
        future = recorded(store, running, "a3", "canonical", Move(x=1, y=2), None,
                          lambda aid, o: o.model_copy(update={"detail": "decorated"}), defer=True)  # fmt: skip
        worker.start()
        done = future.result(timeout=5)
        worker.join()
        assert done.deferred and not done.written and done.outcome.detail == "decorated"
        row = store.get_action("a3")
        assert row is not None and row["status"] == "pending"  # the caller writes it, after the answer


def test_after_the_answer_writes_wait_for_it_and_none_is_lost(caplog: pytest.LogCaptureFixture) -> None:
    done: list[str] = []
    later = AfterAnswer()
    later.add(lambda: done.append("first"))

    def broken() -> None:
        raise OSError("disk full")

    later.add(broken)
    later.add(lambda: done.append("third"))
    assert done == []  # nothing before the answer is out
    with caplog.at_level(logging.ERROR, logger="daemon.recording"):
        asyncio.run(later.after_the_answer())
    assert done == ["first", "third"]  # one that fails is said and the rest still run
    assert "could not record an action's outcome" in caplog.text and "disk full" in caplog.text
    later.add(lambda: done.append("late"))  # the answer is out already: at once
    assert done == ["first", "third", "late"]


def test_a_cancelled_answer_still_writes() -> None:
    done: list[str] = []

    async def main() -> None:
        later = AfterAnswer()
        later.add(lambda: done.append("row"))
        task = asyncio.ensure_future(later.after_the_answer())
        await asyncio.sleep(0)  # it waits for the turn in which the answer leaves
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert done == ["row"]
