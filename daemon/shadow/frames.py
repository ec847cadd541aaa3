"""Recorded frames as PNG files beside the database, named by the SHA-256 of their bytes.

The same pixels always encode to the same PNG (fpng is deterministic), so the same
frame is stored once however many actions show it; ``frames`` in the database holds one
row per file. Each file is written to a temporary name and renamed, so a file that
exists is whole; its row comes after it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from capture.screen import Frame, encode
from daemon.shadow_store import ShadowStore

__all__ = ["FrameFiles"]


class FrameFiles:
    """Write frames once; remembers the last few it wrote to skip re-encoding them."""

    def __init__(self, shadow: ShadowStore, directory: Path) -> None:
        self.shadow = shadow
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._known: dict[int, str] = {}  # id(Frame) -> digest, for frames still in the ring
        self._frames: dict[int, Frame] = {}  # keeps the ids above from being reused
        self.bytes_written = 0
        self.files_written = 0

    def put(self, frame: Frame) -> str:
        """Store ``frame`` (if new); returns its digest (the row key)."""
        known = self._known.get(id(frame))
        if known is not None:
            return known
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
        if len(self._known) > 32:
            oldest = next(iter(self._known))
            del self._known[oldest]
            del self._frames[oldest]
        self._known[id(frame)] = digest
        self._frames[id(frame)] = frame
        return digest
