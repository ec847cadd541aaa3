"""The question desk (daemon/ask) without X: real SQLite, real frames on disk, a clock of
the test's own, a takeover fed with input events as the observer would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from capture.coords import Rect, Scaling
from capture.input import InputEvent, Kind, Origin
from daemon.actions import Action
from daemon.ask.desk import BadAnswer, QuestionConflict, QuestionDesk
from daemon.control.view import AgentView
from daemon.errors import ActionError
from daemon.question import AnswerRequest, QuestionRequest
from daemon.store import Store
from tests.daemon.test_gate import PNG

SCALING = Scaling(Rect(0, 0, 1920, 1080), 1366, 768)
VIEW = AgentView(SCALING)
KEYSYMS = {30: ord("o"), 31: ord("k")}  # key code -> keysym, as a keymap would say


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Attention:
    def __init__(self) -> None:
        self.open = 0

    def review_opened(self) -> None:
        self.open += 1

    def review_closed(self) -> None:
        self.open -= 1


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.tmp, self.clock, self.attention = tmp, Clock(), Attention()
        self.store = Store(tmp / "d.db")
        self.published: list[dict[str, object]] = []
        self.desk = self.make()

    def make(self) -> QuestionDesk:
        desk = QuestionDesk(
            self.store, self.tmp / "frames", SCALING, grab_frame=lambda: PNG, clock=self.clock,
            keysym_of=lambda code, shifted: KEYSYMS.get(code, 0), pointer_of=lambda ev: (960, 540),
        )  # fmt: skip
        desk.publish = self.published.append
        desk.attention = self.attention
        return desk

    def ask(self, **body: object) -> str:
        req = QuestionRequest.model_validate({"question": "Which?", **body})
        to_screen: Callable[[Action], Action] = VIEW.to_screen
        return self.desk.ask(req, to_screen).id


@pytest.fixture
def s(tmp_path: Path) -> Iterator[Setup]:
    setup = Setup(tmp_path)
    yield setup
    setup.store.close()


def answer(**body: object) -> AnswerRequest:
    return AnswerRequest.model_validate({"reviewer": "me", **body})


def test_options_are_converted_once_and_bad_ones_keep_nothing(s: Setup) -> None:
    qid = s.ask(options=[{"text": "a", "point": [683, 384]}, {"text": "b", "action": {"action": "click", "x": 10, "y": 10}}])
    q = s.desk.get(qid)
    assert q.options[0].screen_point == (960, 540)
    assert q.options[1].screen_action is not None and q.options[1].screen_action["space"] == "screen"
    with pytest.raises(ActionError, match=r"option 2: point \(1366, 10\) is off the screen"):
        s.ask(options=[{"text": "ok"}, {"text": "x", "point": [1366, 10]}])
    assert [q.id for q in s.desk.pending()] == [qid]
    assert s.published[0]["type"] == "question"


def test_an_answer_resolves_once_and_says_so(s: Setup) -> None:
    qid = s.ask(options=[{"text": "a"}, {"text": "b"}])
    assert s.attention.open == 1  # the person's input answers it, it takes no control
    with pytest.raises(BadAnswer, match="there is no option 3"):
        s.desk.answer(qid, answer(kind="option", option=3))
    q = s.desk.answer(qid, answer(kind="option", option=2))
    assert q.status == "answered" and q.answer is not None and q.answer.option_text == "b"
    assert s.attention.open == 0
    with pytest.raises(QuestionConflict, match="already answered"):
        s.desk.answer(qid, answer(kind="option", option=1))
    assert s.published[-1] == {"type": "question_resolved", "id": qid, "status": "answered"}


def test_a_point_answer_is_in_agent_space_and_off_screen_is_refused(s: Setup) -> None:
    qid = s.ask()
    with pytest.raises(BadAnswer, match="off the question's screen"):
        s.desk.answer(qid, answer(kind="point", point=[1920, 5]))
    q = s.desk.answer(qid, answer(kind="point", point=[960, 540]))
    assert q.answer is not None and q.answer.point == (683, 384)
    assert q.answer.element is not None and q.answer.element.source == "vision"
    agent = s.desk.for_agent(q)
    assert agent.answer is not None and agent.answer.image is not None and agent.answer.image.width == 1366


def test_a_secret_is_handed_over_once_and_never_stored(s: Setup) -> None:
    qid = s.ask(secret=True)
    s.desk.answer(qid, answer(kind="secret", text="s3cr3t-code"))
    assert s.desk.get(qid, reveal=False).answer.text is None  # type: ignore[union-attr]
    first, second = s.desk.get(qid), s.desk.get(qid)
    assert first.answer is not None and first.answer.text == "s3cr3t-code"
    assert second.answer is not None and second.answer.text is None and second.answer.secret_length == 11
    s.store.close()
    for f in (p for p in s.tmp.rglob("*") if p.is_file()):
        assert b"s3cr3t-code" not in f.read_bytes(), f
    assert "s3cr3t-code" not in repr(s.published)


def test_expiry_and_a_restart(s: Setup) -> None:
    stay, leave = s.ask(timeout=100), s.ask(timeout=5)
    s.clock.now += 6
    expired = s.desk.get(leave)
    assert expired.status == "expired" and expired.detail == "nobody answered within 5 s"
    s.desk.answer(stay, answer(kind="takeover"))
    again = s.make()  # a restart: the pending question is back, its takeover starts over
    (q,) = again.pending()
    assert q.id == stay and q.takeover_started is None
    assert again.answer(stay, answer(kind="text", text="fine")).status == "answered"


def _ev(kind: Kind, code: int, t: float, axes: tuple[float, float] | None = None) -> InputEvent:
    return InputEvent(kind, code, Origin.FOREIGN, 0, t, 9, 0, axes)


def test_a_takeover_answers_with_the_persons_actions_in_agent_space(s: Setup) -> None:
    qid, other = s.ask(timeout=5), s.ask(timeout=50)
    assert s.attention.open == 2
    s.desk.answer(qid, answer(kind="takeover"))
    assert s.attention.open == 0  # every question steps aside: the person's input takes control
    for ev in (_ev(Kind.MOTION, 0, 1.0, (960.0, 540.0)), _ev(Kind.BUTTON_DOWN, 1, 1.1),
               _ev(Kind.BUTTON_UP, 1, 1.15), _ev(Kind.KEY_DOWN, 30, 1.3), _ev(Kind.KEY_UP, 30, 1.35),
               _ev(Kind.KEY_DOWN, 31, 1.4), _ev(Kind.KEY_UP, 31, 1.45)):  # fmt: skip
        s.desk.tap(ev)
    s.clock.now += 10  # past its timeout: a takeover under way does not expire
    assert s.desk.get(qid).status == "pending"
    s.desk.on_control("control", {"from": "human", "to": "agent", "human_activity": {"seconds": 1.0, "text": "ok"}})
    q = s.desk.get(qid)
    assert q.status == "answered" and q.answer is not None and q.answer.kind == "takeover"
    click, typed = q.answer.actions
    assert (click["action"], click["x"], click["y"], click["space"]) == ("click", 683, 384, "agent")
    assert (typed["action"], typed["text"], typed["space"]) == ("type", "ok", "agent")
    assert s.attention.open == 1  # the other question is back on the overlay
    assert s.desk.get(other).status == "pending"


def test_a_wait_returns_at_the_answer(s: Setup) -> None:
    qid = s.ask()

    async def main() -> str:
        s.desk.start(asyncio.get_running_loop())
        waiting = asyncio.ensure_future(s.desk.wait(qid, 30))
        await asyncio.sleep(0)
        await asyncio.to_thread(s.desk.answer, qid, answer(kind="text", text="yes"))
        q = await asyncio.wait_for(waiting, 10)
        s.desk.close()
        return q.status

    assert asyncio.run(main()) == "answered"


def test_a_shutdown_ends_every_wait_now_and_later_ones_at_once(s: Setup) -> None:
    qid = s.ask()

    async def main() -> tuple[list[str], list[str]]:
        s.desk.start(asyncio.get_running_loop())
        before = asyncio.ensure_future(s.desk.wait(qid, 30))
        await asyncio.sleep(0)  # (it registered as a waiter)
        s.desk.abort_waiting()
        early = await asyncio.wait_for(before, 5)
        late = await asyncio.wait_for(s.desk.wait(qid, 30), 5)  # one that began afterwards
        s.desk.close()
        return [early.status, late.status], [early.detail, late.detail]

    statuses, details = asyncio.run(main())
    assert statuses == ["pending", "pending"]  # the question stays for the restart
    assert all("shut down before the person answered" in d for d in details)
    assert s.desk.get(qid).detail == "waiting for the person"  # said to the waiters only


def test_without_a_desk_asking_is_refused_with_a_sentence(tmp_path: Path) -> None:
    import httpx

    from capture.input._fake import FakeBackend
    from daemon.api.app import create_app
    from daemon.control.runtime import Runtime
    from daemon.service import Daemon
    from tests.daemon.live import serving

    runtime = Runtime(FakeBackend((1920, 1080)), view=VIEW, step_interval=0.0)
    with Store(tmp_path / "d.db") as store:
        try:
            with serving(create_app(Daemon(runtime, store), "tok")) as url:
                r = httpx.post(url + "/v1/questions", json={"question": "?"}, headers={"Authorization": "Bearer tok"})
        finally:
            runtime.close()
    assert r.status_code == 403 and "--policy off" in r.json()["error"]


def test_a_withdrawn_question_leaves_the_screen_unanswered_and_stays_withdrawn(s: Setup) -> None:
    qid = s.ask(options=[{"text": "a"}, {"text": "b"}])
    q = s.desk.withdraw(qid)
    assert q.status == "withdrawn" and q.answer is None and "withdrew" in q.detail
    assert s.published[-1] == {"type": "question_resolved", "id": qid, "status": "withdrawn"}  # the overlay's cue
    assert s.attention.open == 0 and s.desk.pending() == []
    with pytest.raises(QuestionConflict, match="already withdrawn"):  # the person's late answer
        s.desk.answer(qid, answer(kind="option", option=1))
    assert s.make().get(qid).status == "withdrawn"  # on disk: a restart does not show it again
    assert s.make().pending() == []


def test_only_a_pending_question_can_be_withdrawn(s: Setup) -> None:
    from daemon.ask.errors import UnknownQuestion

    answered, late = s.ask(options=[{"text": "a"}]), s.ask(timeout=5)
    s.desk.answer(answered, answer(kind="option", option=1))
    with pytest.raises(QuestionConflict, match="already answered"):
        s.desk.withdraw(answered)
    s.clock.now += 6
    with pytest.raises(QuestionConflict, match="expired"):
        s.desk.withdraw(late)
    assert s.desk.get(late).status == "expired"
    with pytest.raises(UnknownQuestion):
        s.desk.withdraw("no-such-question")


@pytest.mark.parametrize("shown_at", [-1e308, -1.0, 1e308, 5e9])
def test_an_answer_shown_at_an_impossible_time_is_refused(shown_at: float) -> None:
    """Far in the past, it made the latency infinite (stored, then a 500 on every read)."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="shown_at"):
        AnswerRequest(kind="option", option=1, reviewer="ann", shown_at=shown_at)
    assert AnswerRequest(kind="option", option=1, reviewer="ann", shown_at=1.7e9).shown_at == 1.7e9


def test_a_kept_infinite_latency_reads_as_none() -> None:
    """Rows an earlier daemon wrote with ``"latency_ms": Infinity`` read back as no latency."""
    from daemon.outcomes import Decision
    from daemon.question import QuestionAnswer

    d = Decision(id="d", review_id="r", reviewer="ann", verdict="approve", at=1.0, latency_ms=float("inf"))
    a = QuestionAnswer(kind="text", summary="s", by="ann", at=1.0, text="t", latency_ms=float("-inf"))
    assert d.latency_ms is None and a.latency_ms is None
    assert Decision(id="d", review_id="r", reviewer="ann", verdict="approve", at=1.0, latency_ms=5.0).latency_ms == 5.0
    d.model_dump_json()  # no ValueError: nothing out of JSON's range


def test_an_answer_without_shown_at_counts_from_when_the_overlay_showed_it(s: Setup) -> None:
    qid = s.ask(options=[{"text": "a"}, {"text": "b"}])
    s.desk.seen(qid, "shown")
    s.clock.now += 2.0
    q = s.desk.answer(qid, answer(kind="option", option=1))
    assert q.answer is not None and q.answer.latency_ms == pytest.approx(2000.0)
    unshown = s.ask(options=[{"text": "a"}, {"text": "b"}])
    q = s.desk.answer(unshown, answer(kind="option", option=1))
    assert q.answer is not None and q.answer.latency_ms is None
