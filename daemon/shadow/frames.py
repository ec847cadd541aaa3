"""Recorded frames as PNG files beside the database, named by the SHA-256 of their bytes.

The same pixels always encode to the same PNG (fpng is deterministic), so the same
frame is stored once however many actions show it; ``frames`` in the database holds one
row per file. Each file is written to a temporary name and renamed, so a file that
exists is whole; its row comes after it.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from pathlib import Path
from typing import Any

from capture.screen import Frame, encode
from daemon.shadow_store import ShadowStore

__all__ = ["FrameFiles"]


class FrameFiles:
    """Write frames once; remembers the last few it wrote to skip re-encoding them."""

    def __init__(self, shadow: ShadowStore, directory: Path) -> None:
        self.shadow = shadow
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # id(pixels) -> (a weak reference to them, digest): a frame still in the ring is not
        # encoded again, and a frame gone from it is not kept alive by this cache
        self._known: dict[int, tuple[weakref.ref[Any], str]] = {}
        self.bytes_written = 0
        self.files_written = 0

    def put(self, frame: Frame) -> str:
        """Store ``frame`` (if new); returns its digest (the row key)."""
        hit = self._known.get(id(frame.pixels))
        if hit is not None and hit[0]() is frame.pixels:
            return hit[1]
        data = encode(frame, fmt="png")
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest[:32]}.png"
        if not self.shadow.has_frame(digest):
            path = self.directory / name
            if not path.exists():
                tmp = self.directory / f".{name}.tmp"
                tmp.write_bytes(data)
                os.replace(tmp, path)
                self.bytes_written += len(data)
                self.files_written += 1
            self.shadow.add_frame(digest, f"{self.directory.name}/{name}", (frame.width, frame.height), len(data))
        self._known = {k: v for k, v in self._known.items() if v[0]() is not None}
        self._known[id(frame.pixels)] = (weakref.ref(frame.pixels), digest)
        return digest
