"""``driverseat export --format sft``: the person's recorded actions as instruction examples.

One row per action a person did in a recorded session (``origin`` ``human``; another
injector's, such as VNC, is left out: it may be a script), in the conversational layout
TRL's ``SFTTrainer`` reads for vision-language models::

    images:   [the frame from just before the action]      (from ``file_names``)
    messages: [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": ...}]},
               {"role": "assistant", "content": [{"type": "text", "text": <action JSON>}]}]

The user turn holds the goal (``--goal``, else the session's name), the session's
previous actions (the last ``HISTORY``) and the screen size; the answer is the canonical
action in screen pixels, the frame's own. ``pyautogui`` carries the same action as code.

With ``approvals``, every approved review is a row too (``source: "approval"``): the
agent's own action, which a person confirmed, after the prompt a preference row has
(goal, steps, the agent's reasoning), in the agent's space with its frame at the agent's
size. Recorded rows have ``source: "recording"``. With ``questions``, every answered
question whose answer is an action is a row too (``source: "question"``,
:mod:`daemon.shadow.asked`); ``question_id`` names it (empty on the other rows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from daemon.honeypot_store import honeypot_ids
from daemon.shadow.asked import add_questions
from daemon.shadow.convert import pyautogui_code
from daemon.shadow.export import ExportError
from daemon.shadow.folder import Folder, action_text, progress_bar
from daemon.shadow.preference import REVIEW_FRAMES, frame_writer, prompt_text
from daemon.shadow_store import SessionInfo, ShadowStore
from daemon.store import Store

__all__ = ["HISTORY", "export_sft", "instruction"]

HISTORY = 8  # previous actions shown: enough for the task's thread, short enough for a prompt


def instruction(goal: str, history: list[dict[str, Any]], size: tuple[int, int]) -> str:
    lines = [f"Goal: {goal}"]
    if history:
        lines.append("Previous actions:")
        lines += [f"{i}. {action_text(a)}" for i, a in enumerate(history, 1)]
    else:
        lines.append("Previous actions: none")
    lines.append(
        f"The screenshot is {size[0]}x{size[1]} pixels; coordinates are in its pixels. "
        "Answer with the next action as JSON."
    )
    return "\n".join(lines)


def _chosen(shadow: ShadowStore, sessions: list[str] | None) -> list[SessionInfo]:
    known = {s.name: s for s in shadow.sessions()}
    if sessions is None:
        return list(known.values())
    missing = [n for n in sessions if n not in known]
    if missing:
        raise ExportError(
            f"no recorded session {', '.join(map(repr, missing))}; known: "
            + (", ".join(sorted(known)) or "none")
        )
    return [known[n] for n in sessions]


def _row(image: str, text: str, action: dict[str, Any], **meta: Any) -> dict[str, Any]:
    try:
        code = pyautogui_code(action)
    except (ValueError, KeyError):
        code = ""  # a kind pyautogui has no call for (an agent's mouse_down, wait...)
    return {
        "file_names": [image],
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]},
            {"role": "assistant", "content": [{"type": "text", "text": action_text(action)}]},
        ],
        "action": json.dumps(action, ensure_ascii=False),
        "pyautogui": code,
        "question_id": "",  # every row has every column (a dataset's schema is its first row's)
        **meta,
    }


def _approvals(store: Store, data_dir: Path, folder: Folder) -> None:
    """One row per approved review: the agent's own action, confirmed by a person, with
    the prompt of a preference row (goal, steps, reasoning) and the frame at the agent's size."""
    tests = honeypot_ids(store)  # made-up wrong actions are never training data
    for row in store.reviews_with_status("approved"):
        review = row["review"]
        if review["id"] in tests:
            continue
        src = data_dir / REVIEW_FRAMES / str(row["frame"])
        if not src.is_file():
            folder.skipped += 1
            continue
        size = (int(review["agent_size"][0]), int(review["agent_size"][1]))
        name = f"{review['id']}.png"
        image = folder.frame(name, name, frame_writer(src, size))
        folder.add(_row(
            image, prompt_text(review), review["action"], source="approval",
            session="", step=-1, time=round(float(review["created"]), 3), window="",
            screen_width=size[0], screen_height=size[1], review_id=review["id"],
        ))  # fmt: skip


def export_sft(
    store: Store,
    data_dir: Path,
    sessions: list[str] | None,
    out: Path,
    *,
    goal: str | None = None,
    approvals: bool = False,
    questions: bool = False,
    progress: bool = False,
) -> Folder:
    """Write the person's actions of the sessions named (all if None; none if empty) to
    ``out``, with ``approvals`` every approved review, with ``questions`` every answer
    to a question that is an action."""
    shadow = ShadowStore(store)
    todo = [(info, shadow.actions(info.id)) for info in _chosen(shadow, sessions)] if sessions != [] else []
    total = sum(len(acts) for _, acts in todo)
    if not total and not approvals and not questions:
        raise ExportError("the sessions chosen hold no actions")
    folder = Folder(out)
    done = foreign = 0
    try:
        for info, acts in todo:
            history: list[dict[str, Any]] = []
            for a in acts:
                done += 1
                if progress:
                    progress_bar(done, total)
                if a["origin"] != "human" or a["frame_before"] is None:
                    history.append(a["action"])  # it happened on the screen all the same
                    foreign += a["origin"] != "human"
                    continue
                rel = str(a["frame_before"])
                image = folder.frame(rel, Path(rel).name, data_dir / rel)
                size = (info.screen_w, info.screen_h)
                text = instruction(goal or info.name, history[-HISTORY:], size)
                # text columns are strings, never null (see preference.py)
                folder.add(_row(
                    image, text, a["action"], source="recording", session=info.name,
                    step=a["seq"], time=round(a["started"], 3), window=a["window"] or "",
                    screen_width=info.screen_w, screen_height=info.screen_h, review_id="",
                ))  # fmt: skip
                history.append(a["action"])
        if approvals:
            _approvals(store, data_dir, folder)
        if questions:
            add_questions(store, data_dir, folder, _row)
        folder.foreign = foreign
        if not folder.rows:
            raise ExportError(
                "nothing to export: no action of the person's with a frame"
                + (" and no approved review" if approvals else "")
                + (" and no question answered with an action" if questions else "")
                + (f" ({_foreign(foreign)})" if foreign else "")
            )
    except BaseException:
        folder.abort()
        raise
    folder.finish()
    return folder


def _foreign(n: int) -> str:
    return (f"{n} action(s) came from another injector (VNC, xdotool: origin foreign) and are "
            "not the person's to learn from; --format trajectory keeps them")  # fmt: skip
