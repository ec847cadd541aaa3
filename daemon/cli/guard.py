"""How a ``driverseat`` command ends: one sentence on stderr and an exit code, never a traceback.

The codes, the same for every command: 0 done, 1 a runtime failure (the daemon cannot be
reached or start, a file cannot be written), 2 a usage error or bad input (argparse's own
convention: a wrong flag, an action that is not JSON, a data dir with nothing in it),
130 interrupted (Ctrl-C), 141 stdout closed early (``driverseat state | head -c1``: quiet,
as a tool killed by SIGPIPE would be; Python ignores SIGPIPE, so its write raises instead).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

from capture import CaptureError
from daemon.errors import AuthError, DaemonError, ServeExit

__all__ = [
    "BROKEN_PIPE", "FAILURE", "USAGE", "check_url", "count", "nonnegative", "output_problem", "run",
]  # fmt: skip

FAILURE, USAGE, INTERRUPTED, BROKEN_PIPE = 1, 2, 130, 141
PROG = "driverseat"
URL_EXAMPLE = "http://127.0.0.1:8765"


def check_url(url: str, source: str) -> str:
    """``url`` if a client can send requests to it; else ServeExit (exit 2) naming ``source``
    (``--url``, ``$DRIVERSEAT_URL``, the data dir's file) and what an address looks like."""
    import httpx

    try:
        parsed = httpx.URL(url)
        ok = parsed.scheme in ("http", "https") and bool(parsed.host)
    except (httpx.InvalidURL, TypeError, ValueError):
        ok = False
    if not ok:
        raise ServeExit(
            f"{url!r} (from {source}) is not the address of a daemon; expected one like "
            f"{URL_EXAMPLE} (http:// or https://, a host, optionally :port)",
            USAGE,
        )
    return url


def output_problem(path: Path, *, folder: bool) -> str | None:
    """Why nothing can be written at ``path`` (a ``folder`` or a file), or None if it may be.

    Only what can be told before writing; a disk that fills up still fails later."""
    if path.exists():
        if folder and not path.is_dir():
            return f"{path} is a file, not a folder"
        if not folder and path.is_dir():
            return f"{path} is a folder, not a file"
    parent = path if folder and path.is_dir() else path.parent
    while not parent.exists():  # the folders that would be made; the first one that is
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, so nothing can be made under it"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{parent} is not writable"
    return None


# -- argument types whose error argparse prints as "argument --x: <sentence>" ---------------


def nonnegative(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number, 0 or more")
    return v


def count(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number, 0 or more")
    return int(text)


# -- the end of every command ------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _stdout_gone() -> int:
    """stdout's reader left: nothing more can be said there, and at exit Python's own flush
    of it would print 'Exception ignored ... BrokenPipeError'. Point it at /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return BROKEN_PIPE


def run(command: Callable[[], int], data_dir: Callable[[], Path]) -> int:
    """Run ``command``; its failures as a sentence and an exit code (``data_dir`` is named
    when the daemon refuses the token)."""
    try:
        code = command()
        sys.stdout.flush()  # a closed pipe is found here, not after main() returns
        return code
    except BrokenPipeError:
        return _stdout_gone()
    except ServeExit as exc:
        _say(str(exc))
        return exc.code
    except AuthError as exc:
        _say(f"{exc}; is the daemon using another data dir than {data_dir()}?")
        return FAILURE
    except (DaemonError, CaptureError) as exc:  # NotRunning among them
        _say(str(exc))
        return FAILURE
    except KeyboardInterrupt:
        return INTERRUPTED
