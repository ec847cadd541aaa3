"""The overlay's side of questions: events in, answers out, one window (issue 10).

:class:`QuestionLink` is owned by :class:`overlay.app.OverlayApp`: it keeps the
:class:`~overlay.questions.QuestionPresenter` and the
:class:`~overlay.widgets.question.QuestionWindow`, fetches each question's frame and
posts answers from a one-worker pool, handing results to the Qt thread through signals.
The app decides which of a review and a question is first in line
(:func:`~overlay.questions.first_in_line`): one item at a time, in arrival order.

Events: ``{"type": "question", "question": {...}}`` adds one; ``question_resolved`` (answered
or expired, here or elsewhere) and ``question_takeover`` (the person is showing the answer:
nothing of ours may cover the screen) change it. An answer's text is never logged here.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from daemon.client import Client, ClientError
from daemon.errors import DaemonError
from daemon.question import AnswerRequest, Question
from overlay.attention import SeenReporter
from overlay.questions import QuestionPresenter
from overlay.widgets.question import QuestionWindow

__all__ = ["QuestionLink", "parse_question_event"]

log = logging.getLogger("driverseat.overlay")


def parse_question_event(data: dict[str, Any]) -> tuple[str, Any] | None:
    """A question event as ``(kind, payload)``, or None if it is not one."""
    kind = data.get("type")
    if kind == "question" and isinstance(data.get("question"), dict):
        return ("question", Question.model_validate(data["question"]))
    if kind in ("question_resolved", "question_takeover") and isinstance(data.get("id"), str):
        return (str(kind), data["id"])
    return None


def fetch_questions(client: Client) -> list[tuple[Question, bytes | None]]:
    """The pending questions and their frames (none under --policy off, a 403, nor from a
    daemon older than questions, a 404)."""
    try:
        questions = client.questions()
    except ClientError as exc:
        if exc.details.get("status") in (403, 404):
            return []
        raise
    return [(q, fetch_frame(client, q)) for q in questions]


def fetch_frame(client: Client, q: Question) -> bytes | None:
    try:
        return client.question_screenshot(q.id)
    except DaemonError as exc:
        log.warning("no screenshot for question %s: %s", q.id, exc)
        return None


class QuestionLink(QObject):
    """Questions on the overlay: the presenter, the window, the posting of answers."""

    sent = Signal(str, object)  # question id, the Question the daemon answered (or None)
    failed = Signal(str, str)  # question id, why the answer was not sent
    frame = Signal(str, bytes)

    def __init__(self, client: Client, reviewer: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.presenter = QuestionPresenter(reviewer)
        self.window = QuestionWindow(self.presenter)
        self._client = client
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="overlay-answer")
        self.window.answered.connect(self.answer)
        self.sent.connect(self._on_sent)
        self.failed.connect(self._on_failed)
        self.frame.connect(self._on_frame)
        # shown / looked, as for reviews (overlay/attention.py): the report splits waiting
        # for the person from answering
        self.seen = SeenReporter(self.window, self.presenter, self._report_seen)  # type: ignore[arg-type]

    def on_event(self, kind: str, payload: Any) -> None:
        if kind == "question":
            self.presenter.add(payload)
        elif kind == "question_resolved":
            self.presenter.remove(payload)
            self.window.forget(payload)
        elif kind == "question_takeover":
            self.presenter.taking_over(payload)
        elif kind == "question_snapshot":
            self.presenter.sync(q for q, _ in payload)
            for q, png in payload:
                if png is not None:
                    self._on_frame(q.id, png)

    def _on_frame(self, question_id: str, png: bytes) -> None:
        self.window.set_screenshot(question_id, QImage.fromData(png))

    def answer(self, question_id: str, request: AnswerRequest) -> None:
        self._pool.submit(self._post, question_id, request)

    def _post(self, question_id: str, request: AnswerRequest) -> None:
        try:
            answer = self._client.answer(question_id, request)
        except DaemonError as exc:  # refused, conflict, daemon gone: the person sees it
            self.failed.emit(question_id, str(exc))
            return
        self.sent.emit(question_id, answer)

    def _report_seen(self, question_id: str, moment: str) -> None:
        self._pool.submit(self._post_seen, question_id, moment)  # after the answers before it

    def _post_seen(self, question_id: str, moment: str) -> None:
        try:
            self._client.question_seen(question_id, moment)
        except DaemonError as exc:  # an older daemon, or one gone: only the figure lacks it
            log.info("could not report question %s %s: %s", question_id, moment, exc)

    def _on_sent(self, question_id: str, q: Question | None) -> None:
        self.presenter.confirm(question_id, q)
        self.window.refresh()

    def _on_failed(self, question_id: str, message: str) -> None:
        self.presenter.send_failed(question_id, message)
        self.window.refresh()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()
