"""The hold guard: a separate process that lets go of what the daemon held when it dies.

The X server keeps an XTest-pressed key or button down until some client releases it,
so a daemon killed mid-drag or mid-``hold_key`` (``kill -9``, the OOM killer, a
segfault) would leave the person's desktop with a stuck button or modifier. Nothing
inside a process survives SIGKILL, so the promise lives in another one:

- the daemon starts ``python -m capture.input.guard --display :N`` with a pipe on its
  stdin, and the backend tells it, in one 2-byte write each, every key or button it is
  *about to* press (before the press is sent) and every one it let go (after the
  release was sent);
- whatever kills the daemon, the kernel closes its end of the pipe: the guard reads
  EOF, releases through XTest exactly what the daemon still held (buttons first, then
  keys, last pressed first, as :meth:`InputBackend.release_all` does), and exits;
- on a clean shutdown the daemon says goodbye and the guard exits doing nothing.

The guard only ever releases what the daemon pressed, on the same core XTEST devices:
a release of a key that device does not hold is dropped by the server, and keys held on
other devices stay down (measured in docs/x11-input.md, "A guard for kill -9"). Being
told before the press means the guard may release a key that was never pressed (the
daemon died between the write and the press), which is harmless; being told after the
release means it may release one twice, which is dropped as well.

A guard that dies or stops reading never stops the daemon: :class:`GuardLink` logs
once and carries on without it.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from capture.closing import Closing
from capture.input._base import Kind

if TYPE_CHECKING:
    from Xlib.display import Display

__all__ = ["GOODBYE", "GuardLink", "HeldSet", "main", "record"]

log = logging.getLogger("driverseat.guard")

# One record is two bytes: an opcode and a key code (8-255 on X11) or a button (1-255).
_OPS = {Kind.KEY_DOWN: 1, Kind.KEY_UP: 2, Kind.BUTTON_DOWN: 3, Kind.BUTTON_UP: 4}
GOODBYE = b"\xff\x00"
READY = b"driverseat-guard ready\n"
START_TIMEOUT_S = 10.0


def record(kind: Kind, code: int) -> bytes:
    """The 2-byte record for a press or release of ``code``."""
    if not 0 <= code <= 255:
        raise ValueError(f"code {code} does not fit a guard record")
    return bytes((_OPS[kind], code))


class HeldSet:
    """What the daemon holds, as its records say; ``feed`` returns False on goodbye."""

    def __init__(self) -> None:
        self.keys: dict[int, None] = {}  # insertion order = press order
        self.buttons: dict[int, None] = {}
        self._partial = b""

    def feed(self, data: bytes) -> bool:
        data = self._partial + data
        end = len(data) - len(data) % 2
        self._partial = data[end:]
        for i in range(0, end, 2):
            op, code = data[i], data[i + 1]
            if op == GOODBYE[0]:
                return False
            if op == 1:
                self.keys[code] = None
            elif op == 2:
                self.keys.pop(code, None)
            elif op == 3:
                self.buttons[code] = None
            elif op == 4:
                self.buttons.pop(code, None)
        return True

    def releases(self) -> list[tuple[Kind, int]]:
        """What to send to let go of everything: buttons, then keys, last pressed first."""
        return [(Kind.BUTTON_UP, b) for b in reversed(self.buttons)] + [
            (Kind.KEY_UP, k) for k in reversed(self.keys)
        ]


# -- the daemon's side ---------------------------------------------------------------------
class GuardLink(Closing):
    """The daemon's end of the pipe: ``pressing`` / ``released`` on the executor thread.

    Each call is one non-blocking ``write`` of two bytes (atomic on a pipe). A guard
    that has died (EPIPE) or stopped reading (the pipe is full) is logged once and
    dropped; the daemon goes on without it.
    """

    def __init__(self, proc: subprocess.Popen[bytes] | None, fd: int) -> None:
        self.proc = proc
        self._fd = fd
        self.failed: BaseException | None = None
        os.set_blocking(fd, False)

    @classmethod
    def spawn(cls, display: str, *, python: str = sys.executable) -> GuardLink:
        """Start the guard process for ``display``; :meth:`wait_ready` confirms it is up.

        Records written meanwhile wait in the pipe. Raises OSError if it cannot start.
        """
        r, w = os.pipe()  # both non-inheritable: only the guard's stdin gets the read end
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        try:
            proc = subprocess.Popen(
                [python, "-m", "capture.input.guard", "--display", display],
                stdin=r, stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=path),
                # its own session: a Ctrl+C in the terminal stops the daemon (which says
                # goodbye), not the guard that must outlive it
                start_new_session=True,
            )  # fmt: skip
        except BaseException:
            os.close(w)
            raise
        finally:
            os.close(r)
        return cls(proc, w)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Return once the guard has its X connection; RuntimeError (and no guard) if not."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            return
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else b""
        proc.stdout.close()
        if line != READY:
            fd, self._fd = self._fd, -1
            if fd >= 0:
                os.close(fd)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            raise RuntimeError(f"the guard did not start (exit status {proc.returncode})")

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def alive(self) -> bool:
        return self._fd >= 0

    def pressing(self, kind: Kind, code: int) -> None:
        """About to press ``code`` (told before the press is sent)."""
        self._write(record(kind, code))

    def released(self, kind: Kind, code: int) -> None:
        """Let go of ``code`` (told after the release was sent)."""
        self._write(record(kind, code))

    def _write(self, data: bytes) -> None:
        if self._fd < 0:
            return
        try:
            os.write(self._fd, data)
        except OSError as exc:
            self._drop(exc)

    def _drop(self, exc: BaseException) -> None:
        self.failed = exc
        stuck = isinstance(exc, BlockingIOError)
        log.warning(
            "the hold guard %s (%s): going on without it; a kill -9 of driverseat may now "
            "leave keys or buttons held",
            "stopped reading" if stuck else "is gone",
            exc,
        )
        fd, self._fd = self._fd, -1
        if self.proc is not None and self.proc.poll() is None and stuck:
            # its picture of what we hold is now wrong: it must not act on it
            self.proc.kill()
        os.close(fd)

    def close(self) -> None:
        """Say goodbye (nothing to release: a clean shutdown released it) and reap."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                os.set_blocking(fd, True)
                os.write(fd, GOODBYE)
            except OSError:
                pass  # it is gone already: nothing more to say
            os.close(fd)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the guard process -----------------------------------------------------------------------
def _release(d: Display, held: HeldSet) -> int:
    """Send every release ``held`` calls for, through XTest; returns how many."""
    from Xlib import X
    from Xlib.ext import xtest

    x_kind = {Kind.BUTTON_UP: X.ButtonRelease, Kind.KEY_UP: X.KeyRelease}
    todo = held.releases()
    for kind, code in todo:
        xtest.fake_input(d, x_kind[kind], code)
    d.sync()
    return len(todo)


def serve(fd: int, display_name: str | None) -> int:
    """Watch ``fd`` until EOF (release what is held) or goodbye (do nothing)."""
    from Xlib import display, error

    # The X connection is opened now, not at EOF: releasing then costs one round trip.
    try:
        d = display.Display(display_name)
    except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
        print(f"driverseat guard: cannot open X display {display_name!r}: {exc}", file=sys.stderr)
        return 2
    if not d.query_extension("XTEST"):
        print("driverseat guard: the X server has no XTEST extension", file=sys.stderr)
        return 2
    os.write(1, READY)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the daemon stopped reading our stdout
    os.close(devnull)
    held = HeldSet()
    xfd = d.fileno()
    try:
        while True:
            ready, _, _ = select.select([fd, xfd], [], [])
            if xfd in ready:
                # every client gets MappingNotify (the daemon remaps spare keys): read them,
                # or the server buffers them for us without end
                while d.pending_events():
                    d.next_event()
            if fd in ready:
                data = os.read(fd, 4096)
                if not data:
                    n = _release(d, held)
                    if n:
                        print(f"driverseat guard: driverseat ended holding {n} key(s)/button(s); "
                              "released them", file=sys.stderr)  # fmt: skip
                    return 0
                if not held.feed(data):
                    return 0
    except (error.ConnectionClosedError, OSError):
        return 0  # the X server is gone: nothing is held on it any more
    finally:
        d.close()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m capture.input.guard", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--display", default=os.environ.get("DISPLAY"))
    ap.add_argument("--fd", type=int, default=0, help="the pipe to watch (default: stdin)")
    args = ap.parse_args(argv)
    # a terminal's Ctrl+C or hang-up reaches the daemon, which says goodbye; the guard
    # must outlive the daemon, so only EOF and goodbye end it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return serve(args.fd, args.display)


if __name__ == "__main__":
    sys.exit(main())
