"""The executor's logic against the fake backend: plans, progress, yielding, releasing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from capture.input import Kind, Primitive
from capture.input._fake import FakeBackend
from capture.input.keys import keysym_for_name
from daemon.actions import parse_action
from daemon.control.runtime import Runtime
from daemon.errors import ActionError
from tests.daemon.live import poll


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def rt(fake: FakeBackend) -> Iterator[Runtime]:
    r = Runtime(fake, resume_after=0.2, step_interval=0.0)
    yield r
    r.close()


def kinds(prims: list[Primitive]) -> list[tuple[str, int]]:
    return [(p.kind.value, p.code) for p in prims]


def test_type_sends_every_character(rt: Runtime, fake: FakeBackend) -> None:
    out = rt.run(parse_action({"action": "type", "text": "héllo ✓ 你好"}))
    assert out.status == "executed"
    assert out.progress is not None and out.progress.done == out.progress.total == 10
    assert fake.typed() == "héllo ✓ 你好"
    assert fake.held() == ((), ())


def test_click_with_modifier_is_wrapped_and_balanced(rt: Runtime, fake: FakeBackend) -> None:
    rt.run(parse_action({"action": "click", "x": 5, "y": 6, "count": 2, "modifiers": ["shift"]}))
    shift = keysym_for_name("shift")
    assert kinds(fake.sent) == [
        ("key_down", shift), ("motion", 0),
        ("button_down", 1), ("button_up", 1), ("button_down", 1), ("button_up", 1),
        ("key_up", shift),
    ]  # fmt: skip
    assert fake.cursor == (5, 6)


def test_scroll_uses_wheel_buttons(rt: Runtime, fake: FakeBackend) -> None:
    rt.run(parse_action({"action": "scroll", "x": 1, "y": 1, "dy": 2, "dx": -1}))
    downs = [p.code for p in fake.sent if p.kind is Kind.BUTTON_DOWN]
    assert downs == [5, 5, 6]


def test_drag_interpolates_and_releases(rt: Runtime, fake: FakeBackend) -> None:
    out = rt.run(parse_action({"action": "drag", "path": [[0, 0], [100, 0], [100, 50]], "duration": 0}))
    assert out.status == "executed" and out.progress and out.progress.done == 3
    assert fake.sent[1].kind is Kind.BUTTON_DOWN
    assert fake.sent[-1].kind is Kind.BUTTON_UP
    assert fake.cursor == (100, 50)


def test_takeover_mid_type_stops_reports_progress_and_releases(rt: Runtime, fake: FakeBackend) -> None:
    count = 0

    def on_send(p: Primitive) -> None:
        nonlocal count
        if p.kind is Kind.KEY_DOWN:
            count += 1
            if count == 37:
                fake.human(Kind.BUTTON_DOWN, 1)

    fake.on_send = on_send
    out = rt.run(parse_action({"action": "type", "text": "x" * 120}))
    assert out.status == "interrupted"
    assert out.progress is not None and (out.progress.done, out.progress.total) == (37, 120)
    assert "37 of 120" in out.detail
    assert fake.typed() == "x" * 37
    # the 37th key went down and was released by the interruption, not left held
    assert fake.sent[-1] == Primitive(Kind.KEY_UP, ord("x"))
    assert fake.held() == ((), ())


def test_takeover_mid_drag_releases_the_button(rt: Runtime, fake: FakeBackend) -> None:
    def on_send(p: Primitive) -> None:
        if p.kind is Kind.MOTION and p.x == 50:
            fake.human(Kind.MOTION)

    fake.on_send = on_send
    path = [[0, 0], [25, 0], [50, 0], [75, 0], [100, 0]]
    out = rt.run(parse_action({"action": "drag", "path": path, "modifiers": ["ctrl"]}))
    assert out.status == "interrupted"
    assert [p.kind for p in fake.sent[-2:]] == [Kind.BUTTON_UP, Kind.KEY_UP]
    assert fake.held() == ((), ())
    assert not any(p.kind is Kind.MOTION and p.x > 50 for p in fake.sent)


def test_actions_while_human_return_at_once_never_queued(rt: Runtime, fake: FakeBackend) -> None:
    fake.human(Kind.MOTION)
    before = len(fake.sent)
    fut = rt.executor.submit(parse_action({"action": "key", "keys": "Return"}))
    assert fut.done()  # answered synchronously, not queued behind the person
    out = fut.result()
    assert out.status == "interrupted" and out.control == "human"
    assert "not started" in out.detail
    assert len(fake.sent) == before


def test_wait_is_interruptible(rt: Runtime, fake: FakeBackend) -> None:
    fut = rt.executor.submit(parse_action({"action": "wait", "duration": 30}))
    fake.human(Kind.KEY_DOWN, 97)
    assert fut.result(timeout=2).status == "interrupted"


def test_next_outcome_after_resume_carries_the_summary(rt: Runtime, fake: FakeBackend) -> None:
    fake.human(Kind.BUTTON_DOWN, 1)
    fake.human(Kind.BUTTON_UP, 1)
    fake.human(Kind.KEY_DOWN, ord("q"))
    fake.human(Kind.KEY_UP, ord("q"))
    import time

    deadline = time.monotonic() + 3
    while rt.intervention.state != "agent" and time.monotonic() < deadline:
        time.sleep(0.01)
    out = rt.run(parse_action({"action": "move", "x": 3, "y": 3}))
    assert out.status == "executed"
    assert out.human_activity is not None and out.human_activity.text == "q"
    assert "clicked 1 time(s)" in out.detail
    again = rt.run(parse_action({"action": "move", "x": 4, "y": 4}))
    assert again.human_activity is None


def test_off_screen_is_rejected_before_anything_is_sent(rt: Runtime, fake: FakeBackend) -> None:
    with pytest.raises(ActionError, match="off the screen"):
        rt.executor.submit(parse_action({"action": "click", "x": 1920, "y": 5}))
    with pytest.raises(ActionError):
        rt.executor.submit(parse_action({"action": "drag", "path": [[0, 0], [5000, 5]]}))
    assert fake.sent == []


def test_shutdown_releases_held_keys(fake: FakeBackend) -> None:
    r = Runtime(fake, step_interval=0.0)
    r.run(parse_action({"action": "mouse_down", "x": 1, "y": 1}))
    assert fake.held() == ((), (1,))
    r.close()
    assert fake.held() == ((), ())
    assert fake.sent[-1] == Primitive(Kind.BUTTON_UP, 1)


def test_input_failure_stops_and_releases(rt: Runtime, fake: FakeBackend) -> None:
    from capture import CaptureError

    def on_send(p: Primitive) -> None:
        if p.kind is Kind.BUTTON_DOWN:
            raise CaptureError("X server went away")

    fake.on_send = on_send
    out = rt.run(parse_action({"action": "click", "x": 1, "y": 1, "modifiers": ["ctrl"]}))
    assert out.status == "error" and "X server went away" in out.detail
    assert rt.intervention.state == "stopped"  # no promise to yield any more: stop
    fake.on_send = None
    assert fake.held() == ((), ())


def test_unexpected_error_keeps_the_executor_alive(rt: Runtime, fake: FakeBackend) -> None:
    def on_send(p: Primitive) -> None:
        raise RuntimeError("boom")

    fake.on_send = on_send
    out = rt.run(parse_action({"action": "key", "keys": "a"}))
    assert out.status == "error" and "boom" in out.detail
    fake.on_send = None
    assert rt.run(parse_action({"action": "key", "keys": "b"})).status == "executed"


def test_failed_screenshot_is_an_error_not_a_stop(fake: FakeBackend) -> None:
    from capture import CaptureError

    def shot():  # type: ignore[no-untyped-def]
        raise CaptureError("no screen")

    with Runtime(fake, screenshot=shot) as r:
        out = r.run(parse_action({"action": "screenshot"}))
        assert out.status == "error" and "screenshot failed" in out.detail
        assert r.intervention.state == "agent"


def test_an_open_review_never_hides_a_takeover_from_a_running_action(rt: Runtime, fake: FakeBackend) -> None:
    """Another action runs while a review waits: the person's input must still stop it."""
    rt.intervention.review_opened()
    count = 0

    def on_send(p: Primitive) -> None:
        nonlocal count
        if p.kind is Kind.KEY_DOWN:
            count += 1
            if count == 5:
                fake.human(Kind.BUTTON_DOWN, 1)

    fake.on_send = on_send
    out = rt.run(parse_action({"action": "type", "text": "x" * 50}))
    assert out.status == "interrupted" and out.progress is not None and out.progress.done == 5
    rt.intervention.review_closed()


def test_input_from_before_an_action_is_judged_before_it_starts(rt: Runtime, fake: FakeBackend) -> None:
    """The Enter that approved a review, not yet read by a lagging observer when the
    approved action starts, is review input: the action runs."""
    enter = keysym_for_name("Return")
    unread = [(Kind.KEY_DOWN, enter), (Kind.KEY_UP, enter)]  # on the observer's socket
    later: list[Callable[[], None]] = []

    def caught_up(timeout: float = 1.0) -> None:  # as the X observer: the events, then the news
        while unread:
            fake.human(*unread.pop(0))
        while later:
            later.pop(0)()

    rt.intervention._after_observed = later.append  # what Runtime wired to the backend's
    fake.catch_up = caught_up  # type: ignore[method-assign]
    fake.barrier = caught_up  # type: ignore[method-assign]  # read by the first primitive at the latest
    rt.intervention.review_opened()
    rt.intervention.review_closed()  # decided by that Enter
    out = rt.run(parse_action({"action": "type", "text": "ok"}))
    assert unread == [] and out.status == "executed", out
    assert fake.typed() == "ok" and rt.intervention.takeovers == 0


def test_the_start_hook_runs_first_and_may_keep_an_action_from_running(rt: Runtime, fake: FakeBackend) -> None:
    seen: list[str] = []

    def on_start(action_id: str) -> str | None:
        seen.append(action_id)
        assert fake.sent == []  # before the first primitive
        return None if action_id == "go" else "it had started before a restart"

    rt.executor.on_start = on_start
    kept = rt.executor.submit(parse_action({"action": "type", "text": "no"}), "kept").result(5)
    assert kept.status == "interrupted" and kept.detail == "it had started before a restart"
    assert fake.sent == []
    ran = rt.executor.submit(parse_action({"action": "type", "text": "ok"}), "go").result(5)
    assert ran.status == "executed" and fake.typed() == "ok"
    assert seen == ["kept", "go"]


def test_a_failing_start_hook_means_the_action_does_not_run(rt: Runtime, fake: FakeBackend) -> None:
    def on_start(action_id: str) -> str | None:
        raise OSError("disk full")

    rt.executor.on_start = on_start
    out = rt.executor.submit(parse_action({"action": "type", "text": "no"})).result(5)
    assert out.status == "error" and "disk full" in out.detail and fake.sent == []


# -- a job's cancel (its client went away) ---------------------------------------------------
def test_a_cancel_stops_at_the_next_primitive_and_releases(rt: Runtime, fake: FakeBackend) -> None:
    cancel = threading.Event()
    count = 0

    def on_send(p: Primitive) -> None:
        nonlocal count
        if p.kind is Kind.KEY_DOWN:
            count += 1
            if count == 37:
                cancel.set()

    fake.on_send = on_send
    out = rt.executor.submit(parse_action({"action": "type", "text": "x" * 120}), cancel=cancel).result(5)
    assert out.status == "interrupted" and "client went away" in out.detail
    assert out.progress is not None and out.progress.done == 37
    assert fake.typed() == "x" * 37 and fake.held() == ((), ())
    assert rt.intervention.state == "agent"  # not a takeover: the next agent goes on
    assert rt.run(parse_action({"action": "type", "text": "y"})).status == "executed"


def test_a_cancel_wakes_a_pause_and_a_takeover_still_does(rt: Runtime, fake: FakeBackend) -> None:
    cancel = threading.Event()
    fut = rt.executor.submit(parse_action({"action": "hold_key", "keys": "shift", "duration": 30}), cancel=cancel)
    assert poll(lambda: fake.held()[0] != ())
    cancel.set()
    assert fut.result(timeout=5).status == "interrupted" and fake.held() == ((), ())
    # a job with a cancel that is never set still yields to a person at once
    fut = rt.executor.submit(parse_action({"action": "wait", "duration": 30}), cancel=threading.Event())
    assert poll(lambda: rt.intervention.executing)
    fake.human(Kind.KEY_DOWN, 97)
    out = fut.result(timeout=5)
    assert out.status == "interrupted" and out.control == "human" and "client" not in out.detail


def test_a_cancelled_job_in_the_queue_never_starts(rt: Runtime, fake: FakeBackend) -> None:
    first = rt.executor.submit(parse_action({"action": "wait", "duration": 0.3}))
    cancel = threading.Event()
    queued = rt.executor.submit(parse_action({"action": "type", "text": "abandoned"}), cancel=cancel)
    cancel.set()
    assert first.result(timeout=5).status == "executed"
    out = queued.result(timeout=5)
    assert out.status == "interrupted" and out.detail == "not started: its client went away"
    assert fake.sent == []


# -- run_now: a quick action on the caller's thread, while the executor is idle ---------------
def test_a_quick_action_runs_on_the_callers_thread_while_the_executor_is_idle(
    rt: Runtime, fake: FakeBackend
) -> None:
    threads: list[int] = []
    fake.on_send = lambda p: threads.append(threading.get_ident())
    fut = rt.executor.run_now(parse_action({"action": "move", "x": 30, "y": 40}), "m1")
    assert fut is not None and fut.done()  # done on return: nothing to wait for
    out = fut.result()
    assert out.status == "executed" and out.id == "m1" and out.progress is not None and out.progress.done == 1
    assert fake.cursor == (30, 40) and threads == [threading.get_ident()]
    assert rt.executor.primitives_sent == 1 and not rt.intervention.executing
    pos = rt.executor.run_now(parse_action({"action": "cursor_position"}))
    assert pos is not None and pos.done() and pos.result().cursor == (30, 40)
    # the executor's own thread takes what comes next as before
    assert rt.run(parse_action({"action": "move", "x": 5, "y": 6})).status == "executed"
    assert len(threads) == 2 and threads[1] != threading.get_ident()


def test_run_now_takes_only_quick_actions(rt: Runtime, fake: FakeBackend) -> None:
    for body in (
        {"action": "click", "x": 1, "y": 1},
        {"action": "type", "text": "no"},
        {"action": "screenshot"},
        {"action": "wait", "duration": 0.01},
    ):
        assert rt.executor.run_now(parse_action(body)) is None
    assert fake.sent == [] and rt.executor.primitives_sent == 0


def test_run_now_waits_its_turn_behind_a_queued_or_running_action(rt: Runtime, fake: FakeBackend) -> None:
    go_on = threading.Event()
    fake.on_send = lambda p: go_on.wait(5) if p.kind is Kind.KEY_DOWN else None
    running = rt.executor.submit(parse_action({"action": "type", "text": "a"}))
    queued = rt.executor.submit(parse_action({"action": "type", "text": "b"}))
    assert poll(lambda: len(fake.sent) == 1)  # the first type's key is down, and it waits
    move = parse_action({"action": "move", "x": 9, "y": 9})
    assert rt.executor.run_now(move) is None  # declined: it would jump the queue
    go_on.set()
    assert running.result(5).status == "executed"
    assert queued.result(5).status == "executed" and fake.typed() == "ab"
    assert all(p.kind is not Kind.MOTION for p in fake.sent)  # the declined move never ran
    fut = rt.executor.run_now(move)  # idle again
    assert fut is not None and fut.result().status == "executed" and fake.cursor == (9, 9)


def test_an_action_submitted_while_run_now_runs_waits_for_it_whole(rt: Runtime, fake: FakeBackend) -> None:
    inside = threading.Event()
    let_go = threading.Event()
    order: list[tuple[int, int]] = []

    def on_send(p: Primitive) -> None:
        order.append((p.x, p.y))
        if (p.x, p.y) == (1, 1):
            inside.set()
            assert let_go.wait(5)

    fake.on_send = on_send
    quick: list[object] = []
    t = threading.Thread(target=lambda: quick.append(rt.executor.run_now(parse_action({"action": "move", "x": 1, "y": 1}))))
    t.start()
    assert inside.wait(5)
    later = rt.executor.submit(parse_action({"action": "move", "x": 2, "y": 2}))
    with pytest.raises(TimeoutError):  # the executor's thread may not touch the backend meanwhile
        later.result(timeout=0.2)
    assert order == [(1, 1)]
    let_go.set()
    t.join(5)
    assert later.result(5).status == "executed" and order == [(1, 1), (2, 2)]
    assert quick and quick[0] is not None


def test_run_now_keeps_every_promise_of_a_submitted_action(rt: Runtime, fake: FakeBackend) -> None:
    move = parse_action({"action": "move", "x": 7, "y": 7})
    fake.human(Kind.MOTION)  # a person has control: refused at once, nothing sent
    refused = rt.executor.run_now(move)
    assert refused is not None and refused.result().status == "interrupted" and fake.sent == []
    assert refused.result().detail.startswith("not started:")
    rt.intervention.resume(by="test")
    rt.intervention.take_summary()  # (else the next outcome is not a quick one: see below)
    gone = threading.Event()
    gone.set()  # its client went away before it started
    out = rt.executor.run_now(move, cancel=gone)
    assert out is not None and out.result().detail == "not started: its client went away" and fake.sent == []
    rt.executor.on_start = lambda action_id: None if action_id == "go" else "it had started before a restart"
    kept = rt.executor.run_now(move, "kept")
    assert kept is not None and kept.result().detail == "it had started before a restart" and fake.sent == []
    ran = rt.executor.run_now(move, "go")
    assert ran is not None and ran.result().status == "executed" and fake.cursor == (7, 7)
    with pytest.raises(ActionError):  # off the screen: nothing run
        rt.executor.run_now(parse_action({"action": "move", "x": 5000, "y": 7}))
    rt.executor.shutdown()
    closed = rt.executor.run_now(move)
    assert closed is not None and closed.result().status == "error" and len(fake.sent) == 1


def test_a_takeover_during_run_now_stops_it_before_its_primitive(rt: Runtime, fake: FakeBackend) -> None:
    real = fake.send_guarded

    def person_first(p: Primitive, halted: Callable[[], bool]) -> bool:
        fake.human(Kind.KEY_DOWN, 97)  # the person's key reaches the observer first
        return real(p, halted)

    fake.send_guarded = person_first  # type: ignore[method-assign]
    fut = rt.executor.run_now(parse_action({"action": "move", "x": 7, "y": 7}))
    assert fut is not None
    out = fut.result()
    assert out.status == "interrupted" and out.control == "human" and fake.sent == []


def test_run_now_leaves_the_first_outcome_after_a_takeover_to_the_executor(rt: Runtime, fake: FakeBackend) -> None:
    """That outcome brings the person's summary and a fresh screenshot: not quick work."""
    fake.human(Kind.KEY_DOWN, ord("q"))
    fake.human(Kind.KEY_UP, ord("q"))
    assert poll(lambda: rt.intervention.state == "agent", timeout=3)
    move = parse_action({"action": "move", "x": 3, "y": 3})
    assert rt.intervention.summary_waiting and rt.executor.run_now(move) is None and fake.sent == []
    out = rt.run(move)
    assert out.human_activity is not None and out.human_activity.text == "q"
    assert not rt.intervention.summary_waiting
    fut = rt.executor.run_now(move)
    assert fut is not None and fut.result().human_activity is None


def test_run_now_leaves_an_action_to_the_executor_while_input_waits_to_be_observed(
    rt: Runtime, fake: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catching up on it may take up to a second: the executor's thread waits, never the
    event loop's. Once the observer is idle again, the next one runs here."""
    monkeypatch.setattr(fake, "observing", lambda: True)
    move = parse_action({"action": "move", "x": 4, "y": 4})
    assert rt.executor.run_now(move) is None and fake.sent == []
    assert rt.run(move).status == "executed" and len(fake.sent) == 1
    monkeypatch.setattr(fake, "observing", lambda: False)
    fut = rt.executor.run_now(move)
    assert fut is not None and fut.result().status == "executed" and len(fake.sent) == 2


def test_both_paths_time_their_work_and_tell_the_outcome_hook(fake: FakeBackend) -> None:
    heard: list[tuple[str, str]] = []
    r = Runtime(fake, step_interval=0.0, on_outcome=lambda a, o: heard.append((a.action, o.status)))
    try:
        quick = r.executor.run_now(parse_action({"action": "move", "x": 1, "y": 1}))
        assert quick is not None and quick.result().elapsed_ms > 0
        assert r.run(parse_action({"action": "type", "text": "a"})).elapsed_ms > 0
        assert heard == [("move", "executed"), ("type", "executed")]
        r.executor.on_outcome = lambda a, o: 1 / 0  # a failing hook changes no outcome
        again = r.executor.run_now(parse_action({"action": "move", "x": 2, "y": 2}))
        assert again is not None and again.result().status == "executed"
    finally:
        r.close()


def test_what_is_queued_at_shutdown_is_answered_not_run(fake: FakeBackend) -> None:
    r = Runtime(fake, step_interval=0.0)
    running = r.executor.submit(parse_action({"action": "wait", "duration": 30}), "w")
    queued = r.executor.submit(parse_action({"action": "type", "text": "never"}), "q")
    assert poll(lambda: r.intervention.executing)
    r.close()
    assert running.result(5).status == "interrupted"
    out = queued.result(5)
    assert (out.id, out.action, out.status) == ("q", "type", "interrupted") and out.detail.startswith("not started")
    assert fake.sent == []
    late = r.executor.submit(parse_action({"action": "move", "x": 1, "y": 1}), "late").result(5)
    assert (late.id, late.status, late.detail, late.elapsed_ms) == ("late", "error", "driverseat is shutting down", 0.0)
