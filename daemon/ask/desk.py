"""The question desk: questions an agent asks the person, persisted, answered, expired, waited on.

A question freezes the screen as a review does (a PNG beside the database, named by its
row) and waits on the overlay, in the same queue as the reviews. Rules:

- options are converted to screen space once, here, with the daemon's own ``to_screen``
  (:meth:`daemon.control.view.AgentView.to_screen`, as for actions): a point or box off
  the agent's screen is an :class:`~daemon.errors.ActionError` (422) and nothing is kept;
- an answer resolves a question at once (``answered``); nobody in time: ``expired``;
- a secret answer's text is never stored, logged or published: it is kept in memory
  until the agent's first read (:meth:`get` / :meth:`wait`), which hands it over once;
  a restart before that read loses it (the agent is told the answer was a secret);
- ``takeover``: the question leaves the screen, every other question steps aside too
  (the person's input must take control, not answer them), and the answer comes when
  control returns to the agent: what the person did, as actions. A takeover under way
  does not expire; one the person never started (no input) expires as usual;
- after a restart every pending question is back on the overlay (a takeover that was
  under way starts over: its input died with the daemon).

Threads: one lock guards the pending questions and the store writes that change them;
waiters are asyncio events set through ``call_soon_threadsafe``; expiry runs on the event
loop bound by :meth:`start`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from capture.a11y import Element
from capture.coords import Scaling
from capture.input import InputEvent
from daemon import timings
from daemon.actions import Action, Move, Zoom, parse_action
from daemon.ask import answers
from daemon.ask.errors import (
    BadAnswer,
    QuestionConflict,
    QuestionError,
    QuestionsOff,
    UnknownQuestion,
)
from daemon.ask.takeover import KeysymOf, PointerOf, TakeoverRecording, to_agent
from daemon.errors import ActionError
from daemon.outcomes import HumanActivity
from daemon.question import AnswerRequest, Option, Question, QuestionAnswer, QuestionRequest
from daemon.question_store import QuestionStore
from daemon.store import Store

__all__ = [
    "BadAnswer", "QuestionConflict", "QuestionDesk", "QuestionError", "QuestionsOff",
    "UnknownQuestion",
]  # fmt: skip

log = logging.getLogger("driverseat.questions")

SHUTDOWN_DETAIL = (
    "driverseat shut down before the person answered; the question stays pending and is on "
    "the screen again after the restart (GET /v1/questions/{id})"
)
ToScreen = Callable[[Action], Action]
Publish = Callable[[dict[str, Any]], None]


class Attention(Protocol):
    def review_opened(self) -> None: ...

    def review_closed(self) -> None: ...


class _Nobody:
    def review_opened(self) -> None:
        pass

    def review_closed(self) -> None:
        pass


@dataclass(slots=True)
class _Entry:
    question: Question
    frame: str
    recording: TakeoverRecording | None = None
    by: str = ""  # who pressed the takeover key


class QuestionDesk:
    """Pending questions in memory and in ``store``; frames as PNG files in ``frames_dir``."""

    def __init__(
        self,
        store: Store,
        frames_dir: str | Path,
        scaling: Scaling,
        *,
        grab_frame: Callable[[], bytes],
        element_at: Callable[[int, int], Element | None] = lambda x, y: None,
        keysym_of: KeysymOf = lambda code, shifted: 0,
        pointer_of: PointerOf = lambda ev: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rows = QuestionStore(store)
        self.frames_dir = Path(frames_dir)
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.scaling = scaling
        self.grab_frame, self.element_at = grab_frame, element_at
        self.keysym_of, self.pointer_of = keysym_of, pointer_of
        self.clock = clock
        self.publish: Publish = lambda message: None  # the daemon's event hub
        self.attention: Attention = _Nobody()  # the intervention: question input is not a takeover
        self._lock = threading.RLock()
        self._pending: dict[str, _Entry] = {}
        self._secrets: dict[str, str] = {}  # answered secrets not yet read by the agent
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._closing = False  # a shutdown began (abort_waiting)
        self._opened = 0  # review_opened() calls not yet matched by review_closed()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: list[asyncio.TimerHandle] = []
        for q, frame in self.rows.with_status("pending"):
            if q.takeover_started is not None:  # its input died with the earlier daemon
                q = q.model_copy(update={"takeover_started": None})
                self.rows.save(q, frame)
            self._pending[q.id] = _Entry(q, frame)

    # -- lifecycle (event loop) --------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Expire on ``loop`` from now on; the questions reloaded are on the screen again."""
        with self._lock:
            self._loop = loop
            for entry in self._pending.values():
                self._schedule(entry.question.expires)
            self._sync_attention()

    def abort_waiting(self) -> None:
        """At shutdown: answer the requests waiting for an answer now, and any that begins
        later at once (their questions stay pending, and are back on the overlay after the
        restart)."""
        with self._lock:
            self._closing = True  # a wait that begins from now on ends as it begins
            for waiters in self._waiters.values():
                for loop, event in waiters:
                    with contextlib.suppress(RuntimeError):
                        loop.call_soon_threadsafe(event.set)

    def close(self) -> None:
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self._loop = None
            self._opened_to(0)

    def _schedule(self, at: float) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def arm() -> None:
            self._timers = [t for t in self._timers if not t.cancelled()]
            self._timers.append(loop.call_later(max(0.0, at - self.clock()) + 0.01, self.expire))

        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(arm)

    # -- asking (a worker thread) ------------------------------------------------------------
    def ask(self, req: QuestionRequest, to_screen: ToScreen) -> Question:
        """Freeze the screen and put ``req`` before the person; returns it pending."""
        options = tuple(self._option(i, o.model_dump(), req.space, to_screen)
                        for i, o in enumerate(req.options, 1))  # fmt: skip
        png = self.grab_frame()
        r = self.scaling.screen
        now = self.clock()
        q = Question(
            id=uuid.uuid4().hex, created=now, expires=now + req.timeout, question=req.question,
            goal=req.goal, steps=req.steps, stuck=req.stuck, options=options, secret=req.secret,
            screen_rect=(r.left, r.top, r.width, r.height), agent_size=self.scaling.agent_size,
            detail="waiting for the person",
        )  # fmt: skip
        frame = f"q-{q.id}.png"
        tmp = self.frames_dir / f".{frame}.tmp"  # write-then-rename, as for reviews
        tmp.write_bytes(png)
        os.replace(tmp, self.frames_dir / frame)
        with self._lock:
            self.rows.save(q, frame)
            self._pending[q.id] = _Entry(q, frame)
            self._sync_attention()
        self._schedule(q.expires)
        self.publish({"type": "question", "question": q.model_dump(mode="json")})
        return q

    @staticmethod
    def _option(n: int, o: dict[str, Any], space: str, to_screen: ToScreen) -> Option:
        try:
            sp = sb = sa = None
            if o["point"] is not None:
                m = to_screen(Move(x=o["point"][0], y=o["point"][1], space=space))
                assert isinstance(m, Move)
                sp = (m.x, m.y)
            if o["box"] is not None:
                z = to_screen(Zoom(region=o["box"], space=space))
                assert isinstance(z, Zoom)
                sb = z.region
            if o["action"] is not None:
                sa = to_screen(parse_action({"space": space, **o["action"]})).model_dump(mode="json")
        except ActionError as exc:
            raise ActionError(f"option {n}: {exc}", option=n, **exc.details) from None
        return Option(number=n, text=o["text"], point=o["point"], box=o["box"], action=o["action"],
                      screen_point=sp, screen_box=sb, screen_action=sa)  # fmt: skip

    # -- reading -------------------------------------------------------------------------------
    def get(self, question_id: str, *, reveal: bool = True) -> Question:
        """The question as it stands (an overdue one expired first). ``reveal``: a secret
        answer not read yet comes with its text, this once."""
        with self._lock:
            entry = self._pending.get(question_id)
            if entry is not None:
                if self._overdue(entry):
                    return self._resolve(entry, "expired", None, None)
                return entry.question
            found = self.rows.get(question_id)
            if found is None:
                raise UnknownQuestion(f"no question with id {question_id!r}")
            q = found[0]
            secret = self._secrets.pop(question_id, None) if reveal else None
        if secret is not None and q.answer is not None:
            return q.model_copy(update={"answer": q.answer.model_copy(update={"text": secret})})
        return q

    def pending(self) -> list[Question]:
        """Every pending question, oldest first (overdue ones expired first); those in a
        takeover included (``takeover_started``: the overlay shows none meanwhile)."""
        self.expire()
        with self._lock:
            return sorted((e.question for e in self._pending.values()), key=lambda q: q.created)

    def seen(self, question_id: str, moment: timings.Moment) -> Question:
        """Note that the overlay showed the question (``shown``) or that the person first
        turned to it (``looked``), on the daemon's clock, first report only (the timings
        the notifications and the report read, shared with reviews by id)."""
        with self._lock:
            entry = self._pending.get(question_id)
            if entry is None and self.rows.get(question_id) is None:
                raise UnknownQuestion(f"no question with id {question_id!r}")
            timings.record(self.rows.store, "question", question_id, moment, self.clock())
        return self.get(question_id, reveal=False)

    def screenshot(self, question_id: str) -> bytes:
        found = self.rows.get(question_id)  # the row names the file: ids never build paths
        if found is None:
            raise UnknownQuestion(f"no question with id {question_id!r}")
        try:
            return (self.frames_dir / found[1]).read_bytes()
        except FileNotFoundError:
            raise UnknownQuestion(f"the screenshot of question {question_id!r} is gone") from None

    def frame(self, question_id: str) -> np.ndarray | None:
        """The frozen frame as a BGR array, or None if it cannot be read."""
        with contextlib.suppress(UnknownQuestion):
            png = np.frombuffer(self.screenshot(question_id), np.uint8)
            return cv2.imdecode(png, cv2.IMREAD_COLOR)
        return None

    def for_agent(self, q: Question) -> Question:
        """``q`` as the agent reads it: a point answer carries the frame annotated at the
        agent's size (made again from the frame at each read: never stored)."""
        a = q.answer
        if a is None or a.kind != "point" or (frame := self.frame(q.id)) is None:
            return q
        image = answers.annotated_frame(q, frame, a)
        return q.model_copy(update={"answer": a.model_copy(update={"image": image})})

    # -- answering (a worker thread) -------------------------------------------------------------
    def answer(self, question_id: str, req: AnswerRequest) -> Question:
        """Apply the person's answer; returns the question after it (without a secret's text).

        Raises :class:`UnknownQuestion` (404), :class:`QuestionConflict` (409) or
        :class:`BadAnswer` (422)."""
        with self._lock:
            entry = self._live(question_id)
            if req.kind == "takeover":
                return self._start_takeover(entry, req.reviewer)
            q = entry.question
        now = self.clock()
        if req.shown_at is None:  # the answer's latency from when the overlay showed it
            shown = timings.timing(self.rows.store, question_id).shown
            req = req.model_copy(update={"shown_at": shown})
        secret: str | None = None
        try:
            if req.kind == "option":
                ans = answers.option_answer(q, req, now)
            elif req.kind in ("text", "secret"):
                ans, secret = answers.text_answer(q, req, now)
            else:
                assert req.point is not None
                x, y = int(req.point[0]), int(req.point[1])
                left, top, width, height = q.screen_rect
                inside = left <= x < left + width and top <= y < top + height
                el = self.element_at(x, y) if inside else None  # bounded: never hangs the answer
                ans = answers.point_answer(q, req, now, self.frame(q.id) if inside else None, el)
        except ValueError as exc:
            raise BadAnswer(str(exc)) from None
        with self._lock:
            return self._resolve(self._live(question_id), "answered", ans, secret)

    def withdraw(self, question_id: str) -> Question:
        """The agent gave up waiting: the question leaves the person's screen, unanswered.
        A takeover that was showing it ends with it. Raises :class:`UnknownQuestion` (404)
        or :class:`QuestionConflict` (409: answered or expired first)."""
        with self._lock:
            entry = self._pending.get(question_id)
            if entry is None or self._overdue(entry):
                self._live(question_id)  # raises the 404 or the 409 (expiring it first) that says why
            assert entry is not None
            return self._resolve(entry, "withdrawn", None, None)

    def _live(self, question_id: str) -> _Entry:
        """Lock held: the pending entry, or the error saying why there is none."""
        entry = self._pending.get(question_id)
        if entry is None:
            found = self.rows.get(question_id)
            if found is None:
                raise UnknownQuestion(f"no question with id {question_id!r}")
            raise QuestionConflict(f"question {question_id} is already {found[0].status}")
        if self._overdue(entry):
            self._resolve(entry, "expired", None, None)
            raise QuestionConflict(f"question {question_id} expired before this answer came")
        if entry.recording is not None:
            raise QuestionConflict(f"question {question_id} is being answered by a takeover")
        return entry

    def _start_takeover(self, entry: _Entry, by: str) -> Question:
        entry.by = by
        entry.recording = TakeoverRecording(self.keysym_of, self.pointer_of)
        entry.question = entry.question.model_copy(
            update={"takeover_started": self.clock(), "detail": "the person is showing it (a takeover)"}
        )
        self.rows.save(entry.question, entry.frame)
        self._sync_attention()
        self.publish({"type": "question_takeover", "id": entry.question.id})
        return entry.question

    def _resolve(
        self, entry: _Entry, status: str, ans: QuestionAnswer | None, secret: str | None
    ) -> Question:
        """Lock held: answer or expire a pending question, wake its waiters, tell everyone."""
        q = entry.question
        if status == "expired":
            detail = (
                "the person pressed the takeover key but did nothing before the question expired"
                if entry.recording is not None
                else f"nobody answered within {q.expires - q.created:g} s"
            )
        elif status == "withdrawn":
            detail = "the agent withdrew it before the person answered"
        else:
            detail = ans.summary if ans is not None else ""
        q = q.model_copy(update={"status": status, "answer": ans, "answered": self.clock(), "detail": detail})
        self.rows.save(q, entry.frame)  # raises, and keeps it pending, if a secret would be stored
        self._pending.pop(q.id, None)
        if secret is not None:
            self._secrets[q.id] = secret
        for loop, event in self._waiters.pop(q.id, ()):
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                loop.call_soon_threadsafe(event.set)
        self._sync_attention()
        self.publish({"type": "question_resolved", "id": q.id, "status": status})
        return q

    # -- expiry ----------------------------------------------------------------------------
    def _overdue(self, entry: _Entry) -> bool:
        showing = entry.recording is not None and entry.recording.events > 0
        return not showing and self.clock() >= entry.question.expires

    def expire(self) -> list[Question]:
        """Expire every overdue pending question; returns them."""
        with self._lock:
            overdue = [e for e in self._pending.values() if self._overdue(e)]
            return [self._resolve(e, "expired", None, None) for e in overdue]

    # -- the takeover -------------------------------------------------------------------------
    def tap(self, ev: InputEvent, person: bool = True) -> None:
        """Observer thread: input that is not the agent's (Intervention.taps); only the
        person's own (not review input, not the kill switch) is what they show."""
        if not person:
            return
        with self._lock:
            recordings = [e.recording for e in self._pending.values() if e.recording is not None]
        for recording in recordings:
            recording.feed(ev)

    def on_control(self, kind: str, payload: dict[str, Any]) -> None:
        """A control change (Intervention.listeners): back to the agent ends a takeover."""
        if kind != "control" or payload.get("to") != "agent":
            return
        activity = payload.get("human_activity")
        summary = HumanActivity.model_validate(activity).summary() if activity else ""
        with self._lock:
            shown = [e for e in self._pending.values() if e.recording is not None and e.recording.events]
        for entry in shown:
            assert entry.recording is not None
            done = [to_agent(a, self.scaling) for a in entry.recording.finish()]
            ans = answers.takeover_answer(entry.question, entry.by, self.clock(), done, summary)
            with self._lock:
                if self._pending.get(entry.question.id) is entry:
                    self._resolve(entry, "answered", ans, None)

    def _sync_attention(self) -> None:
        """Lock held: the person's input answers the questions on the overlay, unless one
        is answered by a takeover (then their input must take control)."""
        taking_over = any(e.recording is not None for e in self._pending.values())
        self._opened_to(0 if taking_over else len(self._pending))

    def _opened_to(self, want: int) -> None:
        while self._opened < want:
            self.attention.review_opened()
            self._opened += 1
        while self._opened > want:
            self.attention.review_closed()
            self._opened -= 1

    # -- waiting ---------------------------------------------------------------------------
    async def wait(self, question_id: str, timeout: float) -> Question:
        """The question once it is no longer pending, or as it stands after ``timeout`` s."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            entry = self._pending.get(question_id)
            if entry is not None:
                self._waiters.setdefault(question_id, set()).add(waiter)
                expires = entry.question.expires
            closing = self._closing
        if entry is None:
            return self.get(question_id)
        limit = 0.0 if closing else max(0.0, min(timeout, expires - self.clock() + 0.01))
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), limit)
        finally:
            with self._lock:
                waiting = self._waiters.get(question_id, set())
                waiting.discard(waiter)
                if not waiting:
                    self._waiters.pop(question_id, None)
        q = self.get(question_id)
        if self._closing and q.status == "pending":
            return q.model_copy(update={"detail": SHUTDOWN_DETAIL.format(id=q.id)})
        return q

    @property
    def closing(self) -> bool:
        """A shutdown began: waits end at once (:meth:`abort_waiting`)."""
        return self._closing
