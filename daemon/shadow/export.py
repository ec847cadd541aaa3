"""``driverseat export --format trajectory``: recorded sessions as a Hugging Face image dataset.

Layout (the ``imagefolder`` builder's, with metadata): ``DIR/train/metadata.jsonl`` and
``DIR/train/frames/*.png``; each metadata row names its frame as ``file_name``
(relative to ``train/``), so ``datasets.load_dataset("imagefolder", data_dir=DIR)`` gives
one row per action with an ``image`` column, the frame from just before the action.

A row: ``session``, ``step``, ``time`` (epoch s), ``duration``, ``action`` (the canonical
action as JSON text: its fields differ by kind, a single column keeps the schema one),
``action_type``, ``pyautogui`` (the same action as code), ``x``/``y`` and ``end_x``/
``end_y`` in pixels (a drag's start and end; null for keys and text), the same
normalised to 0..1 by the screen size, ``screen_width``/``screen_height``, ``text``,
``keys``, ``window``, ``element`` (JSON text: role, name, box, window of the element under
a press, from the accessibility tree; null where it does not reach),
``origin`` (``human`` or ``foreign``: another injector, such as VNC) and ``frame_after``
(the frame after a burst's last action, relative to ``train/``, else null).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.shadow.convert import points, pyautogui_code
from daemon.shadow.folder import prune_frames
from daemon.shadow_store import SessionInfo, ShadowStore
from daemon.store import Store

__all__ = ["ExportError", "ExportResult", "export_trajectory"]


class ExportError(Exception):
    """Nothing to export, or an unknown session."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    out: Path
    sessions: int
    rows: int
    frames: int
    bytes: int
    pruned: int = 0  # an earlier export's frames in the same folder, removed

    def line(self) -> str:
        earlier = f"; removed {self.pruned} frame(s) of an earlier export there" if self.pruned else ""
        return (
            f"exported {self.rows} action(s) from {self.sessions} session(s) and {self.frames} "
            f"frame(s) ({self.bytes / 1e6:.2f} MB) to {self.out}{earlier}"
        )


def _norm(v: int | None, size: int) -> float | None:
    return None if v is None else round(v / size, 6)


def _row(info: SessionInfo, a: dict[str, Any]) -> dict[str, Any]:
    action = a["action"]
    pts = points(action)
    (x, y), (ex, ey) = (pts[0], pts[-1]) if pts else ((None, None), (None, None))
    w, h = info.screen_w, info.screen_h
    return {
        "file_name": f"frames/{Path(a['frame_before']).name}",
        "session": info.name,
        "step": a["seq"],
        "time": round(a["started"], 3),
        "duration": round(a["ended"] - a["started"], 3),
        "action_type": action["action"],
        "action": json.dumps(action, ensure_ascii=False),
        "pyautogui": pyautogui_code(action),
        "x": x, "y": y, "end_x": ex, "end_y": ey,
        "x_norm": _norm(x, w), "y_norm": _norm(y, h),
        "end_x_norm": _norm(ex, w), "end_y_norm": _norm(ey, h),
        "screen_width": w, "screen_height": h,
        "text": action.get("text"),
        "keys": action.get("keys"),
        "window": a["window"],
        "element": None if a["element"] is None else json.dumps(a["element"]),
        "origin": a["origin"],
        "frame_after": f"frames/{Path(a['frame_after']).name}" if a["frame_after"] else None,
    }  # fmt: skip


def export_trajectory(
    store: Store,
    data_dir: Path,
    sessions: list[str] | None,
    out: Path,
    *,
    progress: bool = False,
) -> ExportResult:
    """Write the sessions named (all if None) to ``out``; returns what was written."""
    shadow = ShadowStore(store)
    known = {s.name: s for s in shadow.sessions()}
    if sessions is None:
        chosen = list(known.values())
    else:
        missing = [n for n in sessions if n not in known]
        if missing:
            raise ExportError(
                f"no recorded session {', '.join(map(repr, missing))}; known: "
                + (", ".join(sorted(known)) or "none")
            )
        chosen = [known[n] for n in sessions]
    train = out / "train"
    frames = train / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    todo = [(info, a) for info in chosen for a in shadow.actions(info.id)]
    if not todo:
        raise ExportError("the sessions chosen hold no actions")
    copied: set[str] = set()
    size = rows = 0
    tmp = train / ".metadata.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for i, (info, a) in enumerate(todo, 1):
            if a["frame_before"] is None:
                continue  # no frame, no image row (the recorder stores one before every action)
            for rel in (a["frame_before"], a["frame_after"]):
                if rel is None or rel in copied:
                    continue
                dst = frames / Path(rel).name
                shutil.copyfile(data_dir / rel, dst)
                copied.add(rel)
                size += dst.stat().st_size
            f.write(json.dumps(_row(info, a), ensure_ascii=False) + "\n")
            rows += 1
            if progress:
                done = i * 30 // len(todo)
                print(f"\rexport [{'#' * done}{'.' * (30 - done)}] {i}/{len(todo)}", end="",
                      file=sys.stderr, flush=True)  # fmt: skip
    if progress:
        print(file=sys.stderr)
    os.replace(tmp, train / "metadata.jsonl")
    pruned = prune_frames(train, (f"frames/{Path(rel).name}" for rel in copied))
    return ExportResult(out, len(chosen), rows, len(copied), size, pruned)
