"""Start the reviewer's overlay as a child process of ``driverseat serve``.

The overlay is a client of the daemon's API (it is never imported here: PySide6 stays
out of the daemon); a crashed overlay never unblocks an agent, since pending reviews
stay pending and persisted until someone decides them.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from capture.closing import end_process


def start_overlay(url: str, data_dir: Path, display: str | None) -> subprocess.Popen[bytes] | str:
    """The overlay process, or a sentence saying why it could not start."""
    if importlib.util.find_spec("PySide6") is None:
        return "the overlay needs PySide6 (pip install 'driverseat[overlay]'): reviews wait for another reviewer"
    env = dict(os.environ)
    if display:
        env["DISPLAY"] = display
    env.setdefault("QT_QPA_PLATFORM", "xcb")
    return subprocess.Popen(
        [sys.executable, "-m", "overlay", "--url", url, "--data-dir", str(data_dir)],
        env=env,
        stdin=subprocess.DEVNULL,
    )


def stop_overlay(proc: subprocess.Popen[bytes]) -> None:
    end_process(proc)
