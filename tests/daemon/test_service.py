"""The Daemon object end to end without X: the gate in front of a real executor (fake
backend), real SQLite, the event hub. What the gate holds never reaches the hands.

The same promises are tested on a real X server with a real target window in
tests/e2e/; these run in milliseconds and so guard the logic under mutation testing.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from capture.coords import Monitor
from capture.input import Kind
from capture.input._fake import FakeBackend
from daemon import service
from daemon.actions import parse_action
from daemon.control.runtime import Runtime
from daemon.control.view import AgentView
from daemon.errors import ActionError
from daemon.events import EventHub
from daemon.outcomes import DecisionRequest, Outcome
from daemon.recording import AfterAnswer
from daemon.review.gate import Gate, OpenGate, ReviewsOff
from daemon.review.policy_file import default_policy, parse_policy
from daemon.review.queue import ReviewQueue
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.test_gate import PNG, POLICY


class Setup:
    def __init__(self, tmp: Path, policy: str | None = POLICY) -> None:
        self.fake = FakeBackend((1920, 1080))
        view = AgentView.for_monitor(Monitor(0, 0, 1920, 1080, 1), 1)  # seen at 1366x768
        self.runtime = Runtime(self.fake, view=view, step_interval=0.0, resume_after=0.2)
        self.store = Store(tmp / "d.db")
        gate = None
        if policy is not None:
            queue = ReviewQueue(self.store, tmp / "frames")
            gate = Gate(parse_policy(policy), queue, view.scaling, grab_frame=lambda: PNG)
        self.hub = EventHub()
        self.daemon = Daemon(self.runtime, self.store, gate, hub=self.hub)

    def close(self) -> None:
        self.runtime.close()
        self.store.close()


@pytest.fixture
def s(tmp_path: Path) -> Iterator[Setup]:
    setup = Setup(tmp_path)
    yield setup
    setup.close()


def act(
    s: Setup, body: dict[str, Any], decide: DecisionRequest | None = None, later: AfterAnswer | None = None
) -> tuple[Outcome, list[dict[str, Any]]]:
    """Run one action through the daemon (deciding its review, if given); the outcome and
    every event published meanwhile."""

    async def main() -> tuple[Outcome, list[dict[str, Any]]]:
        await s.daemon.start()
        events = s.hub.subscribe()
        try:
            task = asyncio.ensure_future(s.daemon.act(parse_action(body), later=later))
            if decide is not None:
                queue = s.daemon.reviews
                assert queue is not None
                for _ in range(2000):  # a bounded poll: the gate's task runs meanwhile
                    if queue.pending() or task.done():
                        break
                    await asyncio.sleep(0.005)
                assert queue.pending(), f"no review was opened: {task.result() if task.done() else 'timed out'}"
                await asyncio.to_thread(queue.decide, queue.pending()[0].id, decide)
            outcome = await asyncio.wait_for(task, 10)
            seen = []
            while not events.empty():
                msg = events.get_nowait()
                if msg is not None:
                    seen.append(msg)
            return outcome, seen
        finally:
            await s.daemon.close()

    return asyncio.run(main())


def test_a_denied_action_never_reaches_the_hands(s: Setup) -> None:
    out, events = act(s, {"action": "type", "text": ":(){ :|:& };:"})
    assert out.status == "denied" and out.rule == "no-fork-bombs"
    assert s.fake.sent == [] and s.runtime.executor.primitives_sent == 0
    row = s.store.get_action(out.id)
    assert row is not None and row["status"] == "denied"
    assert [e["type"] for e in events] == ["outcome"]


def test_an_expired_review_never_runs(tmp_path: Path) -> None:
    s = Setup(tmp_path, POLICY.replace("rationale_required = []", "rationale_required = []\nreview_expiry_seconds = 0.1"))
    try:
        out, _ = act(s, {"action": "click", "x": 10, "y": 10, "confidence": 0.1})
        assert out.status == "expired" and "did not run" in out.detail
        assert s.fake.sent == []
    finally:
        s.close()


def test_a_rejected_action_never_runs_and_an_approved_one_does(s: Setup) -> None:
    body = {"action": "click", "x": 683, "y": 384, "confidence": 0.1}
    out, _ = act(s, body, DecisionRequest(verdict="reject", reviewer="ann"))
    assert out.status == "rejected" and s.fake.sent == []
    out, _ = act(s, body, DecisionRequest(verdict="approve", reviewer="ann"))
    assert out.status == "executed" and out.tier == "approve" and out.review_id
    assert [p.kind for p in s.fake.sent] == [Kind.MOTION, Kind.BUTTON_DOWN, Kind.BUTTON_UP]
    assert (s.fake.sent[0].x, s.fake.sent[0].y) == (960, 540)  # agent 683,384 on the screen


def test_notify_runs_and_is_published(s: Setup) -> None:
    out, events = act(s, {"action": "key", "keys": "ctrl+s"})
    assert out.status == "executed" and out.tier == "notify"
    assert [e["type"] for e in events] == ["notify", "outcome"]
    assert events[0]["action_id"] == out.id and s.fake.sent


def test_an_agent_space_drag_is_scaled_to_the_screen(s: Setup) -> None:
    out, _ = act(s, {"action": "drag", "path": [[0, 0], [683, 384], [1365, 767]], "duration": 0.0})
    assert out.status == "executed"
    motions = [(p.x, p.y) for p in s.fake.sent if p.kind is Kind.MOTION]
    assert motions[0] == (0, 0) and (960, 540) in motions
    assert abs(motions[-1][0] - 1918) <= 1 and abs(motions[-1][1] - 1078) <= 1


def test_an_edit_runs_the_edited_action_and_the_record_says_so(s: Setup) -> None:
    out, _ = act(s, {"action": "type", "text": "helo", "confidence": 0.1},
                 DecisionRequest(verdict="edit", reviewer="ann", edited={"text": "hello"}))  # fmt: skip
    assert out.status == "executed" and s.fake.typed() == "hello"
    row = s.store.get_action(out.id)
    assert row is not None and row["action"]["text"] == "hello"
    assert out.feedback is not None and "helo" in out.feedback.text


def test_off_screen_is_refused_before_anything_is_stored(s: Setup) -> None:
    with pytest.raises(ActionError, match="off the screen"):
        act(s, {"action": "click", "x": 1366, "y": 10})  # agent space is 1366 wide
    assert s.store.recent_actions() == [] and s.fake.sent == []


def test_ask_under_policy_off_refuses_and_stores_nothing(tmp_path: Path) -> None:
    s = Setup(tmp_path, policy=None)
    try:
        with pytest.raises(ReviewsOff):
            asyncio.run(s.daemon.ask(parse_action({"action": "click", "x": 1, "y": 1}), "openai",
                                     rule="safety", why="flagged"))  # fmt: skip
        assert s.store.recent_actions() == [] and s.fake.sent == [] and s.daemon.reviews is None
    finally:
        s.close()


class JustShownOverlay:
    """An overlay that showed the next review a moment ago: the cheap check (what the
    watch has heard) says clear; asking the X server (``wait_clear``) finds the window."""

    def __init__(self) -> None:
        self.asked_server = 0

    def under(self, ev: Any) -> bool:
        return False

    def remember_focus(self) -> None:
        return None

    def clear(self) -> bool:
        return True

    def wait_clear(self, timeout: float = 5.0) -> bool:
        self.asked_server += 1
        return False

    def close(self) -> None:
        return None


def test_an_approved_action_asks_the_x_server_not_the_cheap_check(
    s: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overlay may have mapped the next review just before the approval: an approved
    action runs only once the server itself says no overlay window is up; so does any
    action soon after news the overlay shows a window for."""
    overlay = JustShownOverlay()
    s.runtime.intervention.overlay = overlay
    body = {"action": "click", "x": 683, "y": 384, "confidence": 0.1}
    out, _ = act(s, body, DecisionRequest(verdict="approve", reviewer="ann"))
    assert out.status == "error" and "still covered the screen" in out.detail, out
    assert s.fake.sent == [] and overlay.asked_server == 1
    # a plain action right after a review (news for the overlay) asks the server too
    out, _ = act(s, {"action": "move", "x": 10, "y": 10})
    assert out.status == "error" and s.fake.sent == [] and overlay.asked_server == 2
    # long after any news, a plain action takes the cheap check's word (no round trip)
    monkeypatch.setattr(service, "OVERLAY_SETTLE_S", 0.0)
    out, _ = act(s, {"action": "move", "x": 10, "y": 10})
    assert out.status == "executed" and overlay.asked_server == 2


def test_only_an_unheld_actions_outcome_waits_for_its_answer_to_be_written(s: Setup) -> None:
    later = AfterAnswer()
    out, _ = act(s, {"action": "move", "x": 10, "y": 10}, later=later)
    row = s.store.get_action(out.id)
    assert out.status == "executed" and row is not None and row["status"] == "pending"
    later.run()  # the answer is out
    row = s.store.get_action(out.id)
    assert row is not None and row["status"] == "executed" and row["outcome"]["elapsed_ms"] == out.elapsed_ms
    # a reviewed action's outcome is on disk before its answer, as its decision was
    reviewed = AfterAnswer()
    out, _ = act(s, {"action": "click", "x": 9, "y": 9, "confidence": 0.1},
                 DecisionRequest(verdict="approve", reviewer="ann"), later=reviewed)  # fmt: skip
    row = s.store.get_action(out.id)
    assert out.status == "executed" and out.review_id and row is not None and row["status"] == "executed"
    # and without a place to wait (a batch, the dialects), the write is before the answer
    out, _ = act(s, {"action": "move", "x": 11, "y": 11})
    row = s.store.get_action(out.id)
    assert row is not None and row["status"] == "executed"


def test_a_move_runs_on_the_loop_while_the_executor_is_idle_and_queues_behind_a_busy_one(s: Setup) -> None:
    """No hop to the executor's thread and back for a quick action that nothing is ahead
    of; behind one that runs, it waits its turn on the executor's thread."""
    threads: list[tuple[int, int]] = []  # (x, thread) of each motion sent
    s.fake.on_send = lambda p: threads.append((p.x, threading.get_ident()))

    async def main() -> tuple[int, Outcome, Outcome, Outcome]:
        await s.daemon.start()
        try:
            loop_thread = threading.get_ident()
            alone = await s.daemon.act(parse_action({"action": "move", "x": 683, "y": 384}))
            waiting = asyncio.ensure_future(s.daemon.act(parse_action({"action": "wait", "duration": 0.3})))
            for _ in range(2000):  # a bounded poll: the wait is running on the executor
                if s.runtime.intervention.executing:
                    break
                await asyncio.sleep(0.001)
            behind = await s.daemon.act(parse_action({"action": "move", "x": 0, "y": 0}))
            return loop_thread, alone, await waiting, behind
        finally:
            await s.daemon.close()

    loop_thread, alone, waited, behind = asyncio.run(main())
    assert alone.status == waited.status == behind.status == "executed", (alone, waited, behind)
    assert threads[0] == (960, loop_thread)  # in screen space, sent by the loop's own thread
    assert threads[1][0] == 0 and threads[1][1] != loop_thread  # after the wait, by the executor
    for out in (alone, behind):
        row = s.store.get_action(out.id)
        assert row is not None and row["status"] == "executed" and row["outcome"]["elapsed_ms"] == out.elapsed_ms


def test_a_look_no_rule_can_hold_is_written_once_with_its_outcome_at_its_arrival(s: Setup) -> None:
    later = AfterAnswer()
    before = time.time()
    out, _ = act(s, {"action": "cursor_position"}, later=later)
    assert out.status == "executed" and s.store.get_action(out.id) is None  # no pending row first
    time.sleep(0.01)  # a row written "now" would say so
    later.run()
    row = s.store.get_action(out.id)
    assert row is not None and row["status"] == "executed" and before <= row["created"] < before + 0.01
    assert s.daemon._arrived == {}  # nothing kept once it is recorded


def test_a_looks_row_says_when_it_arrived_on_either_path(s: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    # the daemon's clock when the look arrives; the store's own clock is the real one
    monkeypatch.setattr(service, "time", SimpleNamespace(time=lambda: 1000.0, monotonic=time.monotonic))
    later = AfterAnswer()
    deferred, _ = act(s, {"action": "cursor_position"}, later=later)
    later.run()
    direct, _ = act(s, {"action": "cursor_position"})  # no answer to wait for: written before it
    for out in (deferred, direct):
        row = s.store.get_action(out.id)
        assert row is not None and row["status"] == "executed" and row["created"] == 1000.0, out


def test_a_refusal_is_on_record_before_its_answer_even_where_an_answer_could_wait(s: Setup) -> None:
    later = AfterAnswer()
    out, _ = act(s, {"action": "type", "text": ":(){ :|:& };:"}, later=later)
    row = s.store.get_action(out.id)
    assert out.status == "denied" and row is not None and row["status"] == "denied"


def test_open_gate_lets_every_look_by_and_nothing_else() -> None:
    gate = OpenGate()
    assert gate.lets_look(parse_action({"action": "screenshot"}))
    assert gate.lets_look(parse_action({"action": "cursor_position"}))
    assert not gate.lets_look(parse_action({"action": "move", "x": 1, "y": 1}))


def test_a_look_a_rule_can_hold_has_its_row_before_it_is_judged(tmp_path: Path) -> None:
    s = Setup(tmp_path, POLICY + '\n[[rule]]\nname = "no-peeking"\ntier = "deny"\nkinds = ["cursor_position"]\n')
    try:
        seen: list[Any] = []
        admit = s.daemon.gate.admit

        async def admit_and_look(p: Any) -> Any:
            seen.append(s.store.get_action(p.id))  # what a review of it would find
            return await admit(p)

        s.daemon.gate.admit = admit_and_look  # type: ignore[method-assign]
        out, _ = act(s, {"action": "cursor_position"})
        assert out.status == "denied" and seen[0] is not None and seen[0]["status"] == "pending"
    finally:
        s.close()


def test_a_look_cut_short_by_a_shutdown_points_to_no_record(s: Setup) -> None:
    judging = asyncio.Event()

    async def never(p: Any) -> Any:
        judging.set()
        await asyncio.Event().wait()  # a gate still judging when driverseat shuts down

    s.daemon.gate.admit = never  # type: ignore[method-assign]

    async def main() -> Outcome:
        await s.daemon.start()
        task = asyncio.ensure_future(s.daemon.act(parse_action({"action": "cursor_position"})))
        await asyncio.wait_for(judging.wait(), 5)
        await s.daemon.close()
        return await asyncio.wait_for(task, 5)

    out = asyncio.run(main())
    assert out.status == "error" and "look" in out.detail and "/v1/actions" not in out.detail, out
    assert s.store.get_action(out.id) is None  # and there is none
    assert (out.control, out.space) == ("agent", "agent")


def test_an_action_cut_short_by_a_shutdown_points_to_its_record(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    try:
        judging = asyncio.Event()

        async def never(p: Any) -> Any:
            judging.set()
            await asyncio.Event().wait()

        s.daemon.gate.admit = never  # type: ignore[method-assign]

        async def main() -> Outcome:
            await s.daemon.start()
            task = asyncio.ensure_future(s.daemon.act(parse_action({"action": "move", "x": 5, "y": 5})))
            await asyncio.wait_for(judging.wait(), 5)
            await s.daemon.close()
            return await asyncio.wait_for(task, 5)

        out = asyncio.run(main())
        assert out.status == "error" and (out.action, out.control, out.space) == ("move", "agent", "agent")
        assert out.detail.startswith("driverseat shut down before a person answered") and f"/v1/actions/{out.id}" in out.detail
        row = s.store.get_action(out.id)
        assert row is not None and row["status"] == "pending"  # adopted or settled by the next start
    finally:
        s.close()


def test_which_looks_the_gate_lets_by_without_a_row(tmp_path: Path) -> None:
    view = AgentView.for_monitor(Monitor(0, 0, 1920, 1080, 1), 1)
    with Store(tmp_path / "d.db") as store:
        queue = ReviewQueue(store, tmp_path / "frames")

        def lets(policy: Any, body: dict[str, Any]) -> bool:
            return Gate(policy, queue, view.scaling, grab_frame=lambda: PNG).lets_look(parse_action(body))

        shipped = default_policy()
        assert lets(shipped, {"action": "screenshot"}) and lets(shipped, {"action": "cursor_position"})
        assert lets(shipped, {"action": "zoom", "region": [0, 0, 10, 10]})
        assert not lets(shipped, {"action": "move", "x": 1, "y": 1})
        assert not lets(shipped, {"action": "wait", "duration": 0.1})  # it takes its time
        for tier in ("notify", "approve", "deny"):  # held, or its id told before it runs
            naming = parse_policy(f'[[rule]]\nname = "r"\ntier = "{tier}"\nkinds = ["screenshot"]\n')
            assert not lets(naming, {"action": "screenshot"}), tier
            assert lets(naming, {"action": "cursor_position"}), tier
        auto = parse_policy('[[rule]]\nname = "r"\ntier = "auto"\nkinds = ["screenshot"]\n')
        assert lets(auto, {"action": "screenshot"})


def test_news_for_the_overlay_is_any_message_but_a_plain_outcome() -> None:
    hub = EventHub()
    assert hub.news_at == -math.inf
    hub.publish({"type": "outcome", "status": "executed"})
    assert hub.news_at == -math.inf  # the agent's own steady stream is no news
    for message in ({"type": "outcome", "review_id": "r1"}, {"type": "review"}, {"type": "question"}):
        hub.news_at = -math.inf
        hub.publish(message)
        assert hub.news_at > -math.inf, message
    hub.news_at = -math.inf
    hub.subscribe()  # a listener (the notifications, a dashboard) shows no window
    assert hub.news_at == -math.inf
    hub.subscribe(overlay=True)  # an overlay (re)connects: it shows what is pending
    assert hub.news_at > -math.inf


async def _held_click_approved(s: Setup) -> asyncio.Future[Outcome]:
    """A click the gate holds, approved once it is pending: the action's task."""
    task = asyncio.ensure_future(s.daemon.act(parse_action({"action": "click", "x": 683, "y": 384, "confidence": 0.1})))
    queue = s.daemon.reviews
    assert queue is not None
    for _ in range(2000):  # a bounded poll: the gate's task runs meanwhile
        if queue.pending():
            break
        await asyncio.sleep(0.005)
    await asyncio.to_thread(queue.decide, queue.pending()[0].id, DecisionRequest(verdict="approve", reviewer="ann"))
    return task


def test_an_approved_action_runs_only_once_every_overlay_has_handled_the_decision(s: Setup) -> None:
    """An overlay about to show the next review when the decision came could map it under
    the action's input after the clearance looked: the action waits for its ack."""

    async def main() -> None:
        await s.daemon.start()
        overlay = s.hub.subscribe(overlay=True)
        try:
            task = await _held_click_approved(s)
            for _ in range(2000):  # the action is waiting for the overlay
                if s.hub.waiting_for_overlays:
                    break
                await asyncio.sleep(0.005)
            assert s.hub.waiting_for_overlays == 1 and s.fake.sent == [] and not task.done()
            seen = []
            while not overlay.empty():  # the overlay reads and handles what came
                seen.append(await overlay.get())
            [decided] = [m["seq"] for m in seen if m and m["type"] == "review_decided"]  # type: ignore[index]
            s.hub.ack(overlay, decided - 1)  # everything but the decision: not enough
            for _ in range(20):
                await asyncio.sleep(0)
            assert s.hub.waiting_for_overlays == 1 and s.fake.sent == [] and not task.done()
            s.hub.ack(overlay, decided)
            out = await asyncio.wait_for(task, 10)
            assert out.status == "executed" and len(s.fake.sent) == 3
        finally:
            await s.daemon.close()

    asyncio.run(main())


def test_a_look_runs_while_a_review_covers_the_screen(s: Setup) -> None:
    """A look sends no input: the overlay over the screen is no reason to refuse it."""
    s.runtime.intervention.overlay = JustShownOverlay()
    out, _ = act(s, {"action": "cursor_position"})
    assert out.status == "executed", out


def test_an_overlay_that_never_acks_delays_an_approved_action_by_the_bound_only(
    s: Setup, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(service, "OVERLAY_ACK_S", 0.05)

    async def main() -> Outcome:
        await s.daemon.start()
        s.hub.subscribe(overlay=True)  # hung: reads nothing, acks nothing
        try:
            task = await _held_click_approved(s)
            return await asyncio.wait_for(task, 10)
        finally:
            await s.daemon.close()

    with caplog.at_level("WARNING", logger="driverseat.daemon"):
        out = asyncio.run(main())
    assert out.status == "executed" and len(s.fake.sent) == 3
    [warning] = [r for r in caplog.records if "had not handled the decision" in r.getMessage()]
    assert out.review_id in warning.getMessage() and "after 0 s" in warning.getMessage()
