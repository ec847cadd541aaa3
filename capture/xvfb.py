"""A virtual X display (Xvfb) for machines without a screen, and for tests.

The server runs with ``-noreset`` so that it does not reset (and lose added input
devices) when its last client disconnects, and with ``-displayfd`` so that it picks
a free display number itself: no races between parallel runs.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from typing import Self

from capture.closing import Closing, die_with_parent, end_process
from capture.errors import CaptureError


class VirtualDisplay(Closing):
    """Start ``Xvfb`` and stop it on exit; ``name`` is the ``:N`` to put in DISPLAY.

    >>> with VirtualDisplay(1920, 1080) as vd:  # doctest: +SKIP
    ...     os.environ["DISPLAY"] = vd.name
    """

    def __init__(
        self,
        width: int = 1920,
        height: int = 1080,
        depth: int = 24,
        *,
        extra_args: tuple[str, ...] = (),
        timeout: float = 10.0,
        own_session: bool = False,
    ) -> None:
        self.width, self.height, self.depth = width, height, depth
        self.extra_args = extra_args
        self.timeout = timeout
        # a session of its own: a Ctrl+C in the terminal, which reaches the whole process
        # group, stops the owner, who stops the display last (in the group, the display
        # died first and the owner's cleanup met closed connections). Off for tests: a
        # run killed by `timeout` (a signal to the group) must not leave Xvfb behind.
        self.own_session = own_session
        self.name = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise CaptureError(
                "Xvfb is not installed; on Debian: apt-get install xvfb "
                "(or run `make run` / `make test`, which install it)"
            )
        read_fd, write_fd = os.pipe()
        cmd = [
            exe, "-displayfd", str(write_fd),
            "-screen", "0", f"{self.width}x{self.height}x{self.depth}",
            "-nolisten", "tcp", "-noreset", *self.extra_args,
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            die_with_parent(cmd), pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=self.own_session,
        )  # fmt: skip
        os.close(write_fd)
        number = self._read_display_number(read_fd)
        self.name = f":{number}"
        return self

    def _read_display_number(self, read_fd: int) -> str:
        deadline = time.monotonic() + self.timeout
        buf = b""
        try:
            os.set_blocking(read_fd, False)
            while not buf.endswith(b"\n"):
                assert self._proc is not None
                if self._proc.poll() is not None:
                    err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                    raise CaptureError(f"Xvfb exited at start: {err.strip()[-400:]}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise CaptureError(f"Xvfb did not report a display within {self.timeout} s")
                ready, _, _ = select.select([read_fd], [], [], 0.1)
                if ready:
                    chunk = os.read(read_fd, 64)
                    if not chunk:
                        break
                    buf += chunk
        finally:
            os.close(read_fd)
        text = buf.decode().strip()
        if not text.isdigit():
            self.stop()
            raise CaptureError(f"Xvfb reported no display number (got {text!r})")
        return text

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        end_process(proc)
        if proc.stderr:
            proc.stderr.close()

    def __enter__(self) -> Self:
        return self.start()

    def close(self) -> None:
        """The same as :meth:`stop` (so that ``with VirtualDisplay():`` stops it)."""
        self.stop()
