"""The review queue (daemon/reviews.py) on a real SQLite store: rules, persistence, waiting."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from daemon.actions import Click, Drag, Key, Type
from daemon.outcomes import DecisionRequest, Review
from daemon.review.queue import (
    BadDecision,
    DuplicateApproval,
    ReviewConflict,
    ReviewError,
    ReviewQueue,
    UnknownReview,
)
from daemon.store import _MIGRATIONS, SCHEMA_VERSION, Store

RECT = (0, 0, 1920, 1080)
AGENT = (1366, 768)
T0 = 1_000_000.0


def _png() -> bytes:
    img = np.zeros((8, 12, 3), np.uint8)
    img[2:5, 3:9] = (0, 0, 255)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


PNG = _png()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "d.db") as s:
        yield s


@pytest.fixture
def queue(store: Store, tmp_path: Path) -> ReviewQueue:
    return ReviewQueue(store, tmp_path / "frames")


def _create(q: ReviewQueue, action: Any = None, tier: str = "approve", **kw: Any) -> Review:
    action = action if action is not None else Click(x=100, y=200, reason="open it")
    screen = kw.pop("screen_action", action)
    return q.create("act-1", action, screen, tier, "rule-1", PNG, RECT, AGENT, **kw)  # type: ignore[arg-type]


def _req(verdict: str = "approve", reviewer: str = "ann", **kw: Any) -> DecisionRequest:
    return DecisionRequest(verdict=verdict, reviewer=reviewer, **kw)  # type: ignore[arg-type]


def test_create_freezes_everything_and_saves_the_frame(queue: ReviewQueue, store: Store) -> None:
    action = Click(
        x=100, y=200, reason="submit", confidence=0.4, goal="file the form",
        steps=("opened the form", "filled it"), screen_text="Submit (irreversible)",
    )  # fmt: skip
    screen = action.model_copy(update={"x": 141, "y": 281, "space": "screen"})
    r = queue.create("act-9", action, screen, "approve2", "money", PNG, RECT, AGENT, now=T0)
    assert (r.status, r.tier, r.rule, r.needed, r.created, r.expires) == (
        "pending", "approve2", "money", 2, T0, None,
    )  # fmt: skip
    assert (r.reason, r.confidence, r.goal, r.screen_text) == (
        "submit", 0.4, "file the form", "Submit (irreversible)",
    )  # fmt: skip
    assert r.steps == ("opened the form", "filled it")
    assert r.action["x"] == 100 and r.screen_action["x"] == 141
    assert (r.screen_rect, r.agent_size, r.action_id) == (RECT, AGENT, "act-9")
    assert queue.screenshot(r.id) == PNG
    row = store.get_review(r.id)
    assert row is not None and row["review"]["status"] == "pending"
    assert (queue.frames_dir / row["frame"]).read_bytes() == PNG
    assert queue.get(r.id) == r and queue.pending() == [r]


def test_create_refuses_what_is_not_reviewable(queue: ReviewQueue) -> None:
    with pytest.raises(ValueError, match="never reviewed"):
        _create(queue, tier="auto")
    with pytest.raises(ValueError, match="^the review's screenshot must be a PNG image$"):
        queue.create("a", Click(x=1, y=1), Click(x=1, y=1), "approve", "r", b"GIF89a", RECT, AGENT)
    assert queue.pending() == []


def test_approve_resolves_with_latency(queue: ReviewQueue) -> None:
    r = _create(queue, now=T0)
    done = queue.decide(r.id, _req(shown_at=T0 + 1.0), now=T0 + 2.5)
    assert done.status == "approved"
    (d,) = done.decisions
    assert (d.reviewer, d.verdict, d.at, d.review_id) == ("ann", "approve", T0 + 2.5, r.id)
    assert d.latency_ms == pytest.approx(1500.0)
    assert len(d.id) == 32
    assert queue.pending() == [] and queue.get(r.id) == done
    with pytest.raises(ReviewConflict, match="already approved") as exc:
        queue.decide(r.id, _req("reject", "bob"))
    assert exc.value.status == 409


def test_unknown_review_is_a_404(queue: ReviewQueue) -> None:
    assert queue.get("nope") is None
    for call in (lambda: queue.decide("nope", _req()), lambda: queue.screenshot("nope")):
        with pytest.raises(UnknownReview, match="no review with id 'nope'") as exc:
            call()
        assert exc.value.status == 404


def test_approve2_needs_two_distinct_reviewers(queue: ReviewQueue) -> None:
    r = _create(queue, tier="approve2")
    first = queue.decide(r.id, _req(reviewer="ann"))
    assert first.status == "pending" and len(first.decisions) == 1
    with pytest.raises(
        DuplicateApproval,
        match=f"^ann already approved review {r.id}; the second approval must come from another reviewer$",
    ) as exc:
        queue.decide(r.id, _req(reviewer="ann"))
    assert exc.value.status == 409
    assert queue.get(r.id) == first  # the refused approval left no trace
    done = queue.decide(r.id, _req(reviewer="bob"))
    assert done.status == "approved"
    assert [d.reviewer for d in done.decisions] == ["ann", "bob"]


def test_approve2_rejected_by_anyone_at_once(queue: ReviewQueue) -> None:
    r = _create(queue, tier="approve2")
    queue.decide(r.id, _req(reviewer="ann"))
    done = queue.decide(r.id, _req("reject", "ann", rationale="changed my mind"))
    assert done.status == "rejected" and done.decisions[-1].rationale == "changed my mind"


def test_correction_points(queue: ReviewQueue) -> None:
    r = _create(queue)
    for points, match in (
        ((), "needs 1 point, got 0"),
        (((1, 1), (2, 2)), "needs 1 point, got 2"),
        (((1920, 5),), r"off the reviewed screen area \(0, 0\) 1920x1080"),
    ):
        with pytest.raises(BadDecision, match=match) as exc:
            queue.decide(r.id, _req("correct", points=points))
        assert exc.value.status == 422
    done = queue.decide(r.id, _req("correct", points=((1919, 1079),)))
    assert done.status == "corrected" and done.decisions[0].points == ((1919, 1079),)

    drag = _create(queue, Drag(path=((10, 10), (50, 50), (90, 90))))
    with pytest.raises(BadDecision, match=r"drag needs 2 points \(start and end\), got 1"):
        queue.decide(drag.id, _req("correct", points=((5, 5),)))
    assert queue.decide(drag.id, _req("correct", points=((5, 5), (7, 7)))).status == "corrected"

    typed = _create(queue, Type(text="hi"))
    with pytest.raises(BadDecision, match="type action has no point to correct"):
        queue.decide(typed.id, _req("correct", points=((5, 5),)))


def test_edit_is_revalidated_against_the_action(queue: ReviewQueue) -> None:
    r = _create(queue, Type(text="x", reason="say x"))
    for edited, match in (
        (None, "^an edit needs the fields it changes in 'edited', like text or keys$"),
        ({"action": "key"}, r"^an edit cannot change the kind of action \(type\); reject it$"),
        ({"text": ""}, "the edit is not valid: type.text: String should have at least 1"),
        ({"colour": "red"}, "the edit is not valid: type.colour"),
        ({"reason": "mine"}, "cannot change reason"),
        ({"text": "x"}, "^the edit changes nothing; approve the action instead$"),
    ):
        with pytest.raises(BadDecision, match=match):
            queue.decide(r.id, _req("edit", edited=edited))
    done = queue.decide(r.id, _req("edit", edited={"text": "y"}))
    assert done.status == "edited" and done.decisions[0].edited == {"text": "y"}

    key = _create(queue, Key(keys="ctrl+s"))
    with pytest.raises(BadDecision, match="the edit is not valid: key.keys"):
        queue.decide(key.id, _req("edit", edited={"keys": "ctrl+nosuchkey"}))
    click = _create(queue)
    with pytest.raises(BadDecision, match="cannot move x; correct the point instead"):
        queue.decide(click.id, _req("edit", edited={"x": 5}))
    assert queue.decide(key.id, _req("edit", edited={"keys": "ctrl+shift+s"})).status == "edited"


def test_rationale_where_the_policy_asks(queue: ReviewQueue) -> None:
    why = ("needed for the task", "checked on screen")
    r = _create(queue, rationales_required=True, rationales=why)
    with pytest.raises(BadDecision, match="needs a rationale: one of 'needed for the task', 'checked on screen'"):
        queue.decide(r.id, _req("approve"))
    with pytest.raises(BadDecision, match="'meh' is not one of"):
        queue.decide(r.id, _req("approve", rationale="meh"))
    assert queue.decide(r.id, _req("approve", rationale="checked on screen")).status == "approved"

    typed = _create(queue, tier="approve", rationales_required=True, rationales=why)
    with pytest.raises(BadDecision, match="needs a rationale"):  # an edit lets it run too
        queue.decide(typed.id, _req("edit", edited={"keys": "ctrl+shift+s"}))

    # stopping an action is the safe side: a reason in the person's own words, or none
    stop = _create(queue, rationales_required=True, rationales=why)
    assert queue.decide(stop.id, _req("reject", rationale="this deletes the draft")).status == "rejected"
    stop = _create(queue, rationales_required=True, rationales=why)
    assert queue.decide(stop.id, _req("reject")).status == "rejected"

    free = _create(queue, rationales=why)  # not required: a free-text reason is fine
    done = queue.decide(free.id, _req("reject", rationale="this deletes the draft"))
    assert done.decisions[0].rationale == "this deletes the draft"


def test_cancel_is_for_grace_reviews(queue: ReviewQueue) -> None:
    grace = _create(queue, tier="grace")
    assert queue.decide(grace.id, _req("cancel")).status == "cancelled"
    held = _create(queue)
    with pytest.raises(
        BadDecision, match="^only a grace-window review can be cancelled; reject this one$"
    ):
        queue.decide(held.id, _req("cancel"))


def test_expiry(queue: ReviewQueue, store: Store) -> None:
    r = _create(queue, expires_in=10, now=T0)
    keep = _create(queue, now=T0)
    assert r.expires == T0 + 10
    assert queue.expire(T0 + 9.99) == []
    (gone,) = queue.expire(T0 + 10)
    assert gone.id == r.id and gone.status == "expired"
    assert queue.pending(T0 + 100) == [keep]
    with pytest.raises(ReviewConflict, match="already expired"):
        queue.decide(r.id, _req(), now=T0 + 11)
    row = store.get_review(r.id)
    assert row is not None and row["review"]["status"] == "expired" and row["decided"] == T0 + 10


def test_a_late_decision_expires_the_review(queue: ReviewQueue) -> None:
    r = _create(queue, expires_in=5, now=T0)
    with pytest.raises(ReviewConflict, match="expired before this decision"):
        queue.decide(r.id, _req(), now=T0 + 6)
    got = queue.get(r.id)
    assert got is not None and got.status == "expired"


def test_restart_reloads_pending_reviews(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    with Store(tmp_path / "d.db") as store:
        q = ReviewQueue(store, frames)
        waiting = _create(q, tier="approve2", rationales_required=True, rationales=("ok",))
        q.decide(waiting.id, _req(reviewer="ann", rationale="ok"))
        decided = _create(q)
        q.decide(decided.id, _req("reject", "bob"))
        before = q.get(waiting.id)
    with Store(tmp_path / "d.db") as store:
        again = ReviewQueue(store, frames)
        assert again.pending() == [before]
        assert again.screenshot(waiting.id) == PNG
        old = again.get(decided.id)
        assert old is not None and old.status == "rejected" and old.decisions[0].reviewer == "bob"
        # the policy's demands and the first approval survive the restart
        with pytest.raises(BadDecision, match="needs a rationale"):
            again.decide(waiting.id, _req(reviewer="cy"))
        with pytest.raises(DuplicateApproval):
            again.decide(waiting.id, _req(reviewer="ann", rationale="ok"))
        with pytest.raises(BadDecision, match="^rationale 'meh' is not one of 'ok'$"):
            again.decide(waiting.id, _req(reviewer="cy", rationale="meh"))
        assert again.decide(waiting.id, _req(reviewer="cy", rationale="ok")).status == "approved"


def test_migrates_a_v1_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    _MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO actions VALUES ('old', 1.0, 'click', 'canonical', '{}', 'executed', NULL, 1.0)"
    )
    db.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 2
        assert store.get_action("old") is not None
        r = _create(ReviewQueue(store, tmp_path / "frames"))
        assert store.get_review(r.id) is not None


def test_concurrent_decisions_resolve_once(queue: ReviewQueue) -> None:
    r = _create(queue)
    results: list[str] = []
    start = threading.Barrier(8)

    def decide(n: int) -> None:
        start.wait()
        try:
            queue.decide(r.id, _req(reviewer=f"r{n}"))
            results.append("ok")
        except ReviewError as exc:
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ReviewConflict"] * 7 + ["ok"]
    got = queue.get(r.id)
    assert got is not None and len(got.decisions) == 1


def test_wait_wakes_on_a_decision_from_another_thread(queue: ReviewQueue) -> None:
    r = _create(queue)

    async def scenario() -> tuple[Review, float]:
        t0 = time.monotonic()
        task = asyncio.create_task(queue.wait(r.id, 30))
        await asyncio.sleep(0)  # one loop turn: the task registers before its first await
        assert r.id in queue._waiters
        worker = threading.Thread(target=queue.decide, args=(r.id, _req()))
        worker.start()
        done = await asyncio.wait_for(task, 10)
        worker.join()
        return done, time.monotonic() - t0

    done, took = asyncio.run(scenario())
    assert done.status == "approved" and took < 10
    assert queue._waiters == {}


def test_wait_times_out_pending_and_returns_resolved_at_once(queue: ReviewQueue) -> None:
    r = _create(queue, tier="approve2")

    async def scenario() -> None:
        await asyncio.to_thread(queue.decide, r.id, _req(reviewer="ann"))
        t0 = time.monotonic()
        still = await queue.wait(r.id, 0.2)  # a first approval of two does not wake it
        assert still.status == "pending" and len(still.decisions) == 1
        assert time.monotonic() - t0 >= 0.19
        await asyncio.to_thread(queue.decide, r.id, _req(reviewer="bob"))
        assert (await queue.wait(r.id, 30)).status == "approved"
        with pytest.raises(UnknownReview, match="^no review with id 'nope'$"):
            await queue.wait("nope", 1)

    asyncio.run(scenario())


def test_wait_returns_expired_at_the_expiry(queue: ReviewQueue) -> None:
    r = _create(queue, expires_in=0.2)

    async def scenario() -> Review:
        return await asyncio.wait_for(queue.wait(r.id, 30), 10)

    assert asyncio.run(scenario()).status == "expired"


def test_listeners_hear_create_decide_expire(queue: ReviewQueue) -> None:
    heard: list[tuple[str, str]] = []
    queue.listeners.append(lambda kind, review: heard.append((kind, review.status)))

    def broken(kind: str, review: Review) -> None:
        raise RuntimeError("subscriber bug")

    queue.listeners.append(broken)
    a = _create(queue, tier="approve2", now=T0)
    queue.decide(a.id, _req(reviewer="ann"))
    queue.decide(a.id, _req("correct", "bob", points=((5, 5),)))
    _create(queue, expires_in=1, now=T0)
    queue.expire(T0 + 2)
    assert heard == [
        ("created", "pending"),
        ("decided", "pending"),
        ("decided", "corrected"),
        ("created", "pending"),
        ("expired", "expired"),
    ]


# -- expiry: an expired review must never come back approved ------------------------------------


def test_every_path_expires_at_the_boundary_not_after(queue: ReviewQueue, store: Store) -> None:
    # T0 is long past in real time: each call must judge by the `now` it is given
    by_get, by_pending, by_decide, approved = (
        _create(queue, expires_in=5, now=T0) for _ in range(4)
    )
    assert queue.decide(approved.id, _req(), now=T0 + 4.999).status == "approved"
    got = queue.get(by_get.id, now=T0 + 4.999)
    assert got is not None and got.status == "pending"
    assert {r.id for r in queue.pending(T0 + 4.999)} == {by_get.id, by_pending.id, by_decide.id}

    gone = queue.get(by_get.id, now=T0 + 5)
    assert gone is not None and gone.status == "expired"
    with pytest.raises(ReviewConflict, match="expired before this decision came"):
        queue.decide(by_decide.id, _req(), now=T0 + 5)
    assert queue.pending(T0 + 5) == []
    for r in (by_get, by_pending, by_decide):
        row = store.get_review(r.id)
        assert row is not None and row["review"]["status"] == "expired"
        assert row["decided"] == T0 + 5  # when it expired, by the caller's clock


def test_expiry_in_real_time_records_when(queue: ReviewQueue, store: Store) -> None:
    before = time.time()
    r = _create(queue, expires_in=1, now=before - 10)
    (gone,) = queue.expire()
    row = store.get_review(gone.id)
    assert gone.id == r.id and row is not None
    assert before <= row["decided"] <= time.time()


def test_expire_now_cuts_a_review_short(queue: ReviewQueue, store: Store) -> None:
    heard: list[tuple[str, str]] = []
    queue.listeners.append(lambda kind, review: heard.append((kind, review.id)))
    grace = _create(queue, tier="grace", expires_in=30, now=T0)
    gone = queue.expire_now(grace.id, now=T0 + 1)  # long before its deadline
    assert gone.status == "expired" and queue.pending(T0 + 1) == []
    row = store.get_review(grace.id)
    assert row is not None and row["review"]["status"] == "expired" and row["decided"] == T0 + 1
    assert heard[-1] == ("expired", grace.id)
    with pytest.raises(ReviewConflict, match="already expired"):
        queue.decide(grace.id, _req("cancel"), now=T0 + 2)
    # a review no longer pending comes back as it is, and an unknown one is a 404
    done = _create(queue)
    queue.decide(done.id, _req())
    again = queue.expire_now(done.id)
    assert again.status == "approved" and again == queue.get(done.id)
    assert queue.expire_now(grace.id).status == "expired"
    with pytest.raises(UnknownReview, match="^no review with id 'nope'$"):
        queue.expire_now("nope")


def test_expire_now_wakes_its_waiter(queue: ReviewQueue) -> None:
    r = _create(queue)

    async def scenario() -> Review:
        task = asyncio.create_task(queue.wait(r.id, 30))
        await asyncio.sleep(0)  # registered
        await asyncio.to_thread(queue.expire_now, r.id)
        return await asyncio.wait_for(task, 10)

    assert asyncio.run(scenario()).status == "expired"


def test_pending_is_oldest_first(queue: ReviewQueue) -> None:
    late = _create(queue, now=T0 + 5)
    early = _create(queue, now=T0)
    middle = _create(queue, now=T0 + 1)
    assert [r.id for r in queue.pending(T0)] == [early.id, middle.id, late.id]


@pytest.mark.parametrize("expires_in", [0, -1, float("inf"), float("nan")])
def test_expires_in_must_be_a_positive_finite_time(queue: ReviewQueue, expires_in: float) -> None:
    with pytest.raises(ValueError, match="^expires_in must be a positive number of seconds: "):
        _create(queue, expires_in=expires_in)
    assert queue.pending() == []


# -- creating ------------------------------------------------------------------------------------


def test_create_from_plain_dicts_with_the_policys_demands(queue: ReviewQueue) -> None:
    action = {"action": "click", "x": 5, "y": 6, "reason": "ok", "space": "agent"}
    screen = {"action": "click", "x": 7, "y": 8, "space": "screen"}
    r = queue.create(
        "a", action, screen, "approve", "r", PNG, RECT, AGENT,
        rationales_required=True, rationales=["fine", "wrong"],
    )  # fmt: skip
    assert r.action == action and r.screen_action == screen and r.reason == "ok"
    assert (r.rationales_required, r.rationales) == (True, ("fine", "wrong"))


def test_a_failed_store_write_leaves_no_frame(queue: ReviewQueue, store: Store) -> None:
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        _create(queue)
    assert list(queue.frames_dir.iterdir()) == []
    assert queue._pending == {}


def test_a_nested_frames_dir_is_made(store: Store, tmp_path: Path) -> None:
    q = ReviewQueue(store, tmp_path / "a" / "b" / "frames")
    r = _create(q)
    assert q.screenshot(r.id) == PNG


def test_a_missing_frame_is_a_404(queue: ReviewQueue) -> None:
    r = _create(queue)
    (queue.frames_dir / f"{r.id}.png").unlink()
    with pytest.raises(UnknownReview, match=f"^the screenshot of review '{r.id}' is gone$"):
        queue.screenshot(r.id)


def test_listener_failures_are_logged_with_what_and_which(
    queue: ReviewQueue, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(kind: str, review: Review) -> None:
        raise RuntimeError("subscriber bug")

    queue.listeners.append(broken)
    r = _create(queue)
    (record,) = [rec for rec in caplog.records if rec.name == "driverseat.reviews"]
    assert record.getMessage() == f"review listener failed on created of {r.id}"
    assert record.exc_info is not None


# -- deciding ------------------------------------------------------------------------------------


def test_cancel_needs_no_rationale(queue: ReviewQueue) -> None:
    grace = _create(queue, tier="grace", rationales_required=True, rationales=("why",))
    assert queue.decide(grace.id, _req("cancel")).status == "cancelled"
    bare = _create(queue, rationales_required=True)  # no list: any words, but some
    with pytest.raises(BadDecision, match=r"^this review \(rule .*\) needs a rationale$"):
        queue.decide(bare.id, _req("approve"))


def test_correction_points_on_an_offset_monitor(queue: ReviewQueue) -> None:
    rect = (1920, 100, 1920, 1080)  # right monitor, 100 px lower
    for off in ((1919, 500), (2000, 99), (2000, 1180), (3840, 500)):
        r = queue.create("a", Click(x=1, y=1), Click(x=1, y=1), "approve", "r", PNG, rect, AGENT)
        with pytest.raises(
            BadDecision, match=r"off the reviewed screen area \(1920, 100\) 1920x1080"
        ):
            queue.decide(r.id, _req("correct", points=(off,)))
    for edge in ((1920, 100), (3839, 1179)):
        r = queue.create("a", Click(x=1, y=1), Click(x=1, y=1), "approve", "r", PNG, rect, AGENT)
        assert queue.decide(r.id, _req("correct", points=(edge,))).decisions[0].points == (edge,)


def test_latency_is_never_negative_and_points_belong_to_corrections(queue: ReviewQueue) -> None:
    now = _create(queue, now=T0)
    (d,) = queue.decide(now.id, _req(shown_at=T0 + 3, points=((4, 4),)), now=T0 + 3).decisions
    assert d.latency_ms == 0.0 and d.points == ()
    skewed = _create(queue, now=T0)  # the reviewer's clock is ahead of ours
    (d,) = queue.decide(skewed.id, _req(shown_at=T0 + 9), now=T0 + 3).decisions
    assert d.latency_ms == 0.0
    unshown = _create(queue, now=T0)
    assert queue.decide(unshown.id, _req(), now=T0 + 3).decisions[0].latency_ms is None


def test_edits_compare_and_record_json(queue: ReviewQueue) -> None:
    drag = _create(queue, Drag(path=((1, 1), (9, 9)), modifiers=("shift",)))
    with pytest.raises(BadDecision, match="changes nothing"):
        queue.decide(drag.id, _req("edit", edited={"modifiers": ["shift"]}))
    done = queue.decide(drag.id, _req("edit", edited={"modifiers": ["ctrl"]}))
    assert done.decisions[0].edited == {"modifiers": ["ctrl"]}


def test_edit_refusals_name_every_field(queue: ReviewQueue) -> None:
    drag = _create(queue, Drag(path=((1, 1), (9, 9))))
    with pytest.raises(
        BadDecision, match="^an edit cannot move path, x; correct the point instead$"
    ):
        queue.decide(drag.id, _req("edit", edited={"x": 1, "path": [[2, 2], [3, 3]]}))
    with pytest.raises(
        BadDecision, match="^an edit cannot change goal, reason: they are the agent's$"
    ):
        queue.decide(drag.id, _req("edit", edited={"reason": "r", "goal": "g"}))


# -- waiting -------------------------------------------------------------------------------------


def test_a_waiter_on_a_closed_loop_does_not_break_a_decision(queue: ReviewQueue) -> None:
    r = _create(queue)
    loop = asyncio.new_event_loop()
    task = loop.create_task(queue.wait(r.id, 30))
    loop.run_until_complete(asyncio.sleep(0))  # the waiter registers, then its loop goes away
    assert r.id in queue._waiters
    loop.close()  # with the task still pending: its `finally` never ran
    assert queue.decide(r.id, _req()).status == "approved"
    del task  # asyncio logs the abandoned task when it is collected: here, under capture
    gc.collect()


def test_waiters_clean_up_after_themselves(queue: ReviewQueue) -> None:
    r = _create(queue)

    async def scenario() -> Review:
        long = asyncio.create_task(queue.wait(r.id, 30))
        short = await queue.wait(r.id, 0.05)  # times out while the long one still waits
        assert short.status == "pending" and len(queue._waiters[r.id]) == 1
        await asyncio.to_thread(queue.decide, r.id, _req())
        return await asyncio.wait_for(long, 10)  # the long one is still woken

    assert asyncio.run(scenario()).status == "approved"
    assert queue._waiters == {}
    alone = _create(queue)
    assert asyncio.run(queue.wait(alone.id, 0.05)).status == "pending"
    assert queue._waiters == {}


def test_latency_without_shown_at_counts_from_when_the_overlay_showed_the_review(queue: ReviewQueue) -> None:
    """The overlay reports ``shown``; a reviewer (curl, the CLI) that sends no ``shown_at``
    still gets a latency, so the honesty figures count its decisions."""
    r = _create(queue, now=T0)
    queue.seen(r.id, "shown", now=T0 + 1)
    (d,) = queue.decide(r.id, _req(), now=T0 + 3.5).decisions
    assert d.latency_ms == pytest.approx(2500.0)
    own = _create(queue, now=T0)  # the reviewer's own shown_at wins
    queue.seen(own.id, "shown", now=T0 + 1)
    assert queue.decide(own.id, _req(shown_at=T0 + 3), now=T0 + 3.5).decisions[0].latency_ms == pytest.approx(500.0)
