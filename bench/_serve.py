"""Bench helper: a real ``driverseat serve`` on its own Xvfb, for benchmarks of the API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from daemon.client import Client
from tests.daemon.live import StderrLines, poll

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def served(
    data: Path,
    size: str = "1920x1080",
    extra: Sequence[str] = (),
    on_display: Callable[[str], None] | None = None,
    module: str = "daemon.cli",
) -> Iterator[str]:
    """``driverseat serve --virtual-display SIZE --policy off`` (and ``extra`` options) on a
    free port; yields its URL once healthy (the token is in ``data``). ``on_display`` is
    called with the name of the daemon's X display first (to put something on it).
    ``module``: what ``python -m`` runs (``bench._still``: the same daemon, its grab skipped)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "DRIVERSEAT_DATA_DIR", "DRIVERSEAT_URL")}
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "serve", "--virtual-display", size,
         "--port", "0", "--policy", "off", "--no-overlay", "--data-dir", str(data), *extra],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    lines = StderrLines(proc)
    try:
        url = lines.wait_line(r"API: +(http://\S+)", 60).group(1)
        with Client(url) as probe:
            if not poll(probe.healthy, timeout=30):
                raise SystemExit(f"the daemon never became healthy: {lines.lines[-20:]}")
        if on_display is not None:
            shown = next((m.group(1) for m in map(re.compile(r" on display (\S+) ").search, lines.lines) if m), None)
            if shown is None:
                raise SystemExit(f"the daemon did not say its display: {lines.lines[-20:]}")
            on_display(shown)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        lines.close()
