"""A VNC server on an X display that listens on a unix socket only (the live view).

``VncServer(display)`` starts ``x11vnc`` on ``display`` and serves RFB on a unix socket in
a directory of its own (mode 0700, made here): no TCP or UDP port, IPv4 or IPv6, so the
only way in is through whoever holds the socket's path and may open it. The daemon
proxies a browser's WebSocket to it behind its token (``daemon/api/routes_view.py``).

Why x11vnc, and why these flags (docs/liveview.md has the measurements):

- ``-rfbport 0 -rfbportv6 -1 -noipv6``: no TCP listener at all (``-rfbport 0`` alone,
  or with ``-noipv6``, still has libvncserver listen on ``[::]:5900``); ``-unixsock`` is
  the one way in. Not ``-localhost``: it refuses unix-socket clients ("localhost does not
  match 127.0.0.1");
- ``-norc -noremote -nocmds``: no ``~/.x11vncrc`` can add a port, no remote-control
  property on the root window can change the server, no external command runs;
- ``-nosel``: the browser neither reads nor sets the desktop's selections, which an agent
  could read back (the person's clipboard is not the agent's business);
- ``-nowf -noscr -noxrecord``: no wireframing of window moves or scroll detection, which
  watch the pointer through XRECORD and redraw the screen on their own;
- ``-shared -forever``: several pages may watch at once, and a page that leaves does not
  stop the server;
- ``-defer 10 -wait 10``: half x11vnc's defaults, for a change on the screen to reach the
  page sooner (measured: see ``DEFER_MS``).

VNC input reaches the display through XTest from x11vnc's connection: the input backend
counts it as the person's (an injector whose events match no ledger entry).
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Self

from capture.closing import Closing, end_process
from capture.errors import CaptureError

__all__ = ["VncServer", "x11vnc_args"]

# a unix socket path must fit in sockaddr_un (108 bytes on Linux): a short private directory
# under the system's temp dir, not the data dir, whose path may be long
_SOCKET_NAME = "rfb"


# x11vnc's own defaults are 20 ms and 20 ms: a change took 44 ms (median) to reach a viewer,
# 28 ms at 10/10 for under 1 point more of a core (bench/liveview.py, docs/liveview.md)
DEFER_MS = WAIT_MS = 10


def x11vnc_args(display: str, sock: Path, *, defer_ms: int = DEFER_MS, wait_ms: int = WAIT_MS) -> list[str]:
    """The x11vnc command line (without the program): unix socket only, nothing else."""
    return [
        "-display", display, "-unixsock", str(sock),
        "-rfbport", "0", "-rfbportv6", "-1", "-noipv6", "-nossl", "-nopw",
        "-norc", "-noremote", "-nocmds", "-nosel", "-nobell",
        "-nowf", "-noscr", "-noxrecord",
        "-shared", "-forever", "-defer", str(defer_ms), "-wait", str(wait_ms),
    ]  # fmt: skip


class VncServer(Closing):
    """x11vnc on ``display``, serving RFB on :attr:`socket_path` only.

    >>> with VncServer(":1") as vnc:  # doctest: +SKIP
    ...     s = socket.socket(socket.AF_UNIX); s.connect(str(vnc.socket_path))
    """

    def __init__(
        self, display: str, *, timeout: float = 15.0, defer_ms: int = DEFER_MS, wait_ms: int = WAIT_MS
    ) -> None:
        if not display:
            raise CaptureError("a VNC server needs an X display")
        self.display = display
        self.timeout = timeout
        self.defer_ms, self.wait_ms = defer_ms, wait_ms
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        if self._dir is None:
            raise CaptureError("the VNC server is not started")
        return self._dir / _SOCKET_NAME

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> Self:
        exe = shutil.which("x11vnc")
        if exe is None:
            raise CaptureError(
                "x11vnc is not installed; on Debian: apt-get install x11vnc novnc "
                "(scripts/install-deps.sh, run by `make run`, installs them)"
            )
        self._dir = Path(tempfile.mkdtemp(prefix="driverseat-vnc-"))  # mkdtemp makes it 0700
        os.chmod(self._dir, stat.S_IRWXU)
        # its messages go to a file beside the socket, read back only to explain a failed
        # start: a pipe nobody reads would fill and stall the server
        self._log = open(self._dir / "x11vnc.log", "w+b")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [exe, *x11vnc_args(self.display, self.socket_path, defer_ms=self.defer_ms, wait_ms=self.wait_ms)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
            start_new_session=True,  # Ctrl-C in the terminal is for the daemon, which stops us
        )  # fmt: skip
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        """Until the socket answers with an RFB greeting (x11vnc makes the socket before
        it can serve it), the process dies, or ``timeout``."""
        deadline = time.monotonic() + self.timeout
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise CaptureError(f"x11vnc exited at start on {self.display}: {self._log_tail()}")
            if self._greets():
                return
            if time.monotonic() > deadline:
                raise CaptureError(f"x11vnc did not serve {self.display} within {self.timeout} s: {self._log_tail()}")
            time.sleep(0.05)  # polling a child's readiness: it has no other way to say so

    def _greets(self) -> bool:
        if not self.socket_path.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2.0)
            try:
                s.connect(str(self.socket_path))
                return s.recv(12).startswith(b"RFB ")
            except OSError:
                return False

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        lines = [ln for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()]
        return " / ".join(lines[-4:]) or "(no message)"

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            end_process(proc)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Self:
        return self.start()

    def close(self) -> None:
        """The same as :meth:`stop`."""
        self.stop()
