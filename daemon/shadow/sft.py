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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from daemon.shadow.convert import pyautogui_code
from daemon.shadow.export import ExportError
from daemon.shadow.folder import Folder, action_text, progress_bar
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


def export_sft(
    store: Store,
    data_dir: Path,
    sessions: list[str] | None,
    out: Path,
    *,
    goal: str | None = None,
    progress: bool = False,
) -> Folder:
    """Write the person's actions of the sessions named (all if None) to ``out``."""
    shadow = ShadowStore(store)
    todo = [(info, shadow.actions(info.id)) for info in _chosen(shadow, sessions)]
    total = sum(len(acts) for _, acts in todo)
    if not total:
        raise ExportError("the sessions chosen hold no actions")
    folder = Folder(out)
    done = 0
    try:
        for info, acts in todo:
            history: list[dict[str, Any]] = []
            for a in acts:
                done += 1
                if progress:
                    progress_bar(done, total)
                if a["origin"] != "human" or a["frame_before"] is None:
                    history.append(a["action"])  # it happened on the screen all the same
                    continue
                rel = str(a["frame_before"])
                image = folder.frame(rel, Path(rel).name, data_dir / rel)
                size = (info.screen_w, info.screen_h)
                text = instruction(goal or info.name, history[-HISTORY:], size)
                folder.add({
                    "file_names": [image],
                    "messages": [
                        {"role": "user",
                         "content": [{"type": "image"}, {"type": "text", "text": text}]},
                        {"role": "assistant",
                         "content": [{"type": "text", "text": action_text(a["action"])}]},
                    ],
                    "session": info.name, "step": a["seq"], "time": round(a["started"], 3),
                    "action": json.dumps(a["action"], ensure_ascii=False),
                    "pyautogui": pyautogui_code(a["action"]), "window": a["window"] or "",
                    "screen_width": info.screen_w, "screen_height": info.screen_h,
                })  # fmt: skip
                history.append(a["action"])
        if not folder.rows:
            raise ExportError("the sessions chosen hold no action of the person's with a frame")
    except BaseException:
        folder.abort()
        raise
    folder.finish()
    return folder
