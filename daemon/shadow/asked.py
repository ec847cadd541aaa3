"""``driverseat export --format sft --questions``: the person's answers to the agent's
questions as instruction rows (``source: "question"``).

A question is the agent saying where it was stuck; the answer is what to do there. A row
is made of an answered question whose answer is an action, in the agent's space on the
frame frozen when it asked (at the agent's size, as an approval row's):

- an option with a candidate ``action``: that action; an option with a ``point``: a left
  click there;
- a ``point`` the person clicked that no option named: a left click there;
- a ``takeover``: the first action the person showed (the rest are the demonstration's).

Text answers are not actions and are left out; a secret's question never reaches an
export (its text is never stored, and neither is a row for it). The user turn holds the
goal, the steps, what the agent was stuck on, its question and its options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.actions import Click
from daemon.question import Question
from daemon.question_store import QuestionStore
from daemon.shadow.folder import Folder
from daemon.shadow.preference import REVIEW_FRAMES, frame_writer
from daemon.store import Store

__all__ = ["add_questions", "answered_action", "question_prompt"]


def _click(x: int, y: int) -> dict[str, Any]:
    return Click(x=x, y=y).model_dump(mode="json", exclude_none=True)


def answered_action(q: Question) -> dict[str, Any] | None:
    """The action the person's answer to ``q`` amounts to, in the agent's space; None for
    an answer that is not one (a text, a text-only option) and for any secret question."""
    a = q.answer
    if q.secret or q.status != "answered" or a is None:
        return None
    if a.kind == "option" and a.action is not None:
        return dict(a.action)
    if a.kind in ("option", "point") and a.point is not None:
        return _click(*a.point)
    if a.kind == "takeover" and a.actions:
        return dict(a.actions[0])
    return None


def question_prompt(q: Question) -> str:
    """The user turn: what the agent knew and asked."""
    w, h = q.agent_size
    lines = [f"Goal: {q.goal or '(not given)'}"]
    if q.steps:
        lines.append("Steps so far:")
        lines += [f"{i}. {s}" for i, s in enumerate(q.steps, 1)]
    else:
        lines.append("Steps so far: none")
    if q.stuck:
        lines.append(f"Stuck on: {q.stuck}")
    lines.append(f"You asked the person: {q.question}")
    lines += [f"Option {i}: {o.text}" for i, o in enumerate(q.options, 1)]
    lines.append(
        f"The screenshot is {w}x{h} pixels; coordinates are in its pixels. "
        "Answer with the next action as JSON."
    )
    return "\n".join(lines)


def add_questions(store: Store, data_dir: Path, folder: Folder, row: Any) -> None:
    """One row per answered question whose answer is an action; ``row(image, text, action,
    **meta)`` makes the row (sft's own)."""
    for q, frame in QuestionStore(store).with_status("answered"):
        action = answered_action(q)
        if action is None:
            continue
        src = data_dir / REVIEW_FRAMES / frame
        if not src.is_file():
            folder.skipped += 1
            continue
        w, h = q.agent_size
        name = f"question-{q.id}.png"
        image = folder.frame(name, name, frame_writer(src, (w, h)))
        folder.add(row(
            image, question_prompt(q), action, source="question", session="", step=-1,
            time=round(q.created, 3), window="", screen_width=w, screen_height=h, review_id="",
            question_id=q.id,
        ))  # fmt: skip
