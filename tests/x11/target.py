"""Drive ``target_window`` as a subprocess and read what it received."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]


class TargetWindow:
    """A real window in its own process; ``events`` fills as the window logs them."""

    def __init__(self, display_name: str) -> None:
        env = dict(os.environ, DISPLAY=display_name, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.x11.target_window"],
            stdout=subprocess.PIPE,
            env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        )
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self.info: Event = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self.wait_for(lambda: bool(self.info), timeout=10):
            self.close()
            raise RuntimeError("target window did not come up")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = json.loads(raw)
            with self._cond:
                if line.get("ready"):
                    self.info = line
                else:
                    self.events.append(line)
                self._cond.notify_all()

    def wait_for(self, pred: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until ``pred()`` is true (re-checked on every logged event)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def snapshot(self) -> list[Event]:
        with self._cond:
            return list(self.events)

    def clear(self) -> None:
        with self._cond:
            self.events.clear()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
