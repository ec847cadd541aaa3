"""The person's answer to a question, as the agent reads it: in its own space, in a sentence.

Pure functions of a :class:`~daemon.question.Question`, the overlay's
:class:`~daemon.question.AnswerRequest` and (for a point) the frozen frame and the
accessible element under the point: no I/O, no clock. A point answer names the element
under the spot where the accessibility tree knows one (its box the application's own),
else the box the pixels suggest (:func:`capture.vision.locate`), and comes with the
frame annotated at the agent's size.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from capture.a11y import Element
from capture.coords import Rect, Scaling
from capture.vision import Box, annotate, locate
from daemon.outcomes import FeedbackElement, Image
from daemon.question import AnswerRequest, Question, QuestionAnswer

__all__ = ["annotated_frame", "option_answer", "point_answer", "takeover_answer", "text_answer"]

# roles that only group others: they name nothing the box does not (as in review feedback)
_VAGUE = frozenset({"filler", "panel", "frame", "dialog", "window", "scroll pane", "unknown",
                    "application", "desktop frame", "redundant object", "invalid"})  # fmt: skip


def scaling_of(q: Question) -> Scaling:
    return Scaling(Rect(*q.screen_rect), *q.agent_size)


def _latency(req: AnswerRequest, now: float) -> float | None:
    return None if req.shown_at is None else round(max(0.0, (now - req.shown_at) * 1e3), 1)


def option_answer(q: Question, req: AnswerRequest, now: float) -> QuestionAnswer:
    """Option ``req.option`` (1-based); ValueError if the question has no such option."""
    number = req.option or 0
    if not 1 <= number <= len(q.options):
        have = f"options 1 to {len(q.options)}" if q.options else "no options"
        raise ValueError(f"there is no option {number}: this question has {have}")
    opt = q.options[number - 1]
    return QuestionAnswer(
        kind="option", by=req.reviewer, at=now, option=number, option_text=opt.text,
        action=opt.action, point=opt.point, latency_ms=_latency(req, now),
        summary=f"The person chose option {number}: {opt.text!r}.",
    )  # fmt: skip


def text_answer(q: Question, req: AnswerRequest, now: float) -> tuple[QuestionAnswer, str | None]:
    """A typed answer; for a secret, the answer to store (no text) and the secret apart."""
    text = req.text or ""
    if req.kind == "secret" or q.secret:
        stored = QuestionAnswer(
            kind="secret", by=req.reviewer, at=now, secret_length=len(text),
            latency_ms=_latency(req, now),
            summary=f"The person typed a secret of {len(text)} characters (in 'text'; it is "
            "given to you once and never stored).",
        )  # fmt: skip
        return stored, text
    said = text if len(text) <= 200 else text[:200] + "..."
    return QuestionAnswer(
        kind="text", by=req.reviewer, at=now, text=text, latency_ms=_latency(req, now),
        summary=f"The person answered: {said!r}.",
    ), None  # fmt: skip


def _element(el: Element | None, p: tuple[int, int]) -> Element | None:
    if el is None or el.box is None:
        return None
    b = el.box
    if not (b.left <= p[0] < b.right and b.top <= p[1] < b.bottom) or (el.role in _VAGUE and not el.name):
        return None
    return el


def _box_of(q: Question, frame: np.ndarray | None, p: tuple[int, int], el: Element | None) -> Rect | None:
    """The screen box of what is under ``p``: the element's, else the pixels' guess."""
    if el is not None and el.box is not None:
        return el.box
    if frame is None:
        return None
    left, top = q.screen_rect[0], q.screen_rect[1]
    h, w = frame.shape[:2]
    b = locate(frame, min(max(p[0] - left, 0), w - 1), min(max(p[1] - top, 0), h - 1))
    return Rect(left + b.x0, top + b.y0, max(1, b.width), max(1, b.height))


def point_answer(
    q: Question, req: AnswerRequest, now: float, frame: np.ndarray | None, el: Element | None
) -> QuestionAnswer:
    """A spot on the screen (``req.point``, screen space) no option named, in agent space,
    with the element under it. ValueError if the spot is off the question's screen."""
    assert req.point is not None
    x, y = int(req.point[0]), int(req.point[1])
    left, top, width, height = q.screen_rect
    if not (left <= x < left + width and top <= y < top + height):
        raise ValueError(f"point ({x}, {y}) is off the question's screen {q.screen_rect}")
    s = scaling_of(q)
    a = s.to_agent(x, y)
    el = _element(el, (x, y))
    box = _box_of(q, frame, (x, y), el)
    element = None
    named = ""
    if box is not None:
        clipped = Rect(max(box.left, left), max(box.top, top),
                       max(1, min(box.right, left + width) - max(box.left, left)),
                       max(1, min(box.bottom, top + height) - max(box.top, top)))  # fmt: skip
        r = s.rect_to_agent(clipped)
        agent_box = (r.left, r.top, r.right, r.bottom)
        if el is not None:
            win = el.window
            element = FeedbackElement(
                source="a11y", box=agent_box, role=el.role, name=el.name or None,
                window_role=win.role if win else None, window_name=(win.name or None) if win else None,
            )  # fmt: skip
            named = f", on {el.describe()}"
        else:
            element = FeedbackElement(source="vision", box=agent_box)
    return QuestionAnswer(
        kind="point", by=req.reviewer, at=now, point=(a.x, a.y), element=element,
        latency_ms=_latency(req, now),
        summary=f"The person pointed at ({a.x}, {a.y}) on your screenshot{named}.",
    )  # fmt: skip


def takeover_answer(
    q: Question, by: str, now: float, actions: Sequence[dict[str, Any]], summary: str
) -> QuestionAnswer:
    """What the person did after pressing the takeover key, as actions in agent space."""
    said = f"The person took over and showed it ({len(actions)} action(s)): {summary}"
    return QuestionAnswer(kind="takeover", by=by, at=now, actions=tuple(actions), summary=said)


def annotated_frame(q: Question, frame: np.ndarray, answer: QuestionAnswer) -> Image | None:
    """The frame at the agent's size with the answer's point (and element box) marked."""
    if answer.point is None:
        return None
    w, h = q.agent_size
    small = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    box = Box(*answer.element.box) if answer.element is not None else None
    marked = annotate(small, answer.point, None, box)
    ok, buf = cv2.imencode(".png", marked, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        return None
    data = base64.b64encode(buf.tobytes()).decode("ascii")
    return Image(media_type="image/png", data=data, width=w, height=h, space="agent")
