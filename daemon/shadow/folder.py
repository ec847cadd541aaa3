"""Writing a Hugging Face ``imagefolder`` dataset: ``DIR/train/metadata.jsonl`` + its frames.

Shared by the ``preference`` and ``sft`` exports. A row names its frames as ``file_names``
(relative to ``train/``), which ``datasets`` >= 3.4 loads as an ``images`` column: a list
of images, the column name TRL's vision trainers read. ``metadata.jsonl`` is written to a
temporary name and renamed last, so a folder that has one holds every frame it names;
then the frames no row names (an earlier export's, into the same folder) are removed, so
the folder is this export and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["Folder", "action_text", "progress_bar", "prune_frames"]

# Fields of an action that are the agent's words or bookkeeping, not the action it takes:
# a training target is the action alone (the words go in the prompt, where they belong).
AGENT_WORDS = frozenset({"reason", "confidence", "goal", "steps", "screen_text", "space"})


def action_text(action: dict[str, Any]) -> str:
    """The action as the assistant's answer: compact JSON, without the agent's words."""
    return json.dumps(
        {k: v for k, v in action.items() if k not in AGENT_WORDS}, ensure_ascii=False
    )


def progress_bar(i: int, n: int, what: str = "export") -> None:
    done = i * 30 // max(1, n)
    end = "\n" if i >= n else ""
    print(f"\r{what} [{'#' * done}{'.' * (30 - done)}] {i}/{n}", end=end, file=sys.stderr, flush=True)


def prune_frames(train: Path, keep: Iterable[str]) -> int:
    """Remove the files of ``train/frames`` that ``keep`` (names relative to ``train/``)
    does not name: an earlier export's into the same folder. Returns how many."""
    kept = {Path(k).name for k in keep}
    gone = 0
    for f in (train / "frames").iterdir():
        if f.name not in kept and f.is_file():
            f.unlink()
            gone += 1
    return gone


class Folder:
    """One export in progress: frames copied once each, rows appended, renamed at the end."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.frames = self.bytes = self.rows = 0
        self.skipped = 0  # rows left out (a frame gone), said in the summary line
        self.pruned = 0  # an earlier export's frames, removed at the end
        self.foreign = 0  # another injector's actions, left out (sft)
        (self.out / "train" / "frames").mkdir(parents=True, exist_ok=True)
        self._seen: dict[str, str] = {}
        self._tmp = self.out / "train" / ".metadata.jsonl.tmp"
        self._file = self._tmp.open("w", encoding="utf-8")

    def frame(self, key: str, name: str, write: Callable[[Path], None] | Path) -> str:
        """The frame's name relative to ``train/``; stored on first use of ``key``, by copying
        a file (``write`` a Path) or by ``write(destination)``."""
        if key in self._seen:
            return self._seen[key]
        dst = self.out / "train" / "frames" / name
        if isinstance(write, Path):
            shutil.copyfile(write, dst)
        else:
            write(dst)
        self.frames += 1
        self.bytes += dst.stat().st_size
        self._seen[key] = f"frames/{name}"
        return self._seen[key]

    def add(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows += 1

    def add_all(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def finish(self) -> None:
        self._file.close()
        os.replace(self._tmp, self.out / "train" / "metadata.jsonl")
        self.pruned = prune_frames(self.out / "train", self._seen.values())

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)
