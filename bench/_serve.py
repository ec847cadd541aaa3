"""Bench helper: a real ``driverseat serve`` on its own Xvfb, for benchmarks of the API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from daemon.client import Client
from tests.daemon.live import StderrLines, poll

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def served(data: Path, size: str = "1920x1080", extra: Sequence[str] = ()) -> Iterator[str]:
    """``driverseat serve --virtual-display SIZE --policy off`` (and ``extra`` options) on a
    free port; yields its URL once healthy (the token is in ``data``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "DRIVERSEAT_DATA_DIR", "DRIVERSEAT_URL")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon.cli", "serve", "--virtual-display", size,
         "--port", "0", "--policy", "off", "--no-overlay", "--data-dir", str(data), *extra],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    lines = StderrLines(proc)
    try:
        url = lines.wait_line(r"API: +(http://\S+)", 60).group(1)
        with Client(url) as probe:
            if not poll(probe.healthy, timeout=30):
                raise SystemExit(f"the daemon never became healthy: {lines.lines[-20:]}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        lines.close()
