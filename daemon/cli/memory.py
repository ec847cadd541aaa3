"""The daemon's memory given back to the system after a peak (glibc's malloc only).

A soak (bench/soak.py) showed the Python heap flat (objects and bytes in use: ~111,000
and ~23 MB from the first minute to the last) while the resident size crept up: what
grew was glibc's *free* memory inside its arenas. Screenshots make multi-megabyte
buffers, freed between longer-lived small allocations that pin the pages around them.

One policy, set here for ``serve`` and ``record`` before anything is allocated:

- the thresholds of :func:`capture.screen.keep_frame_buffers` (buffers under 64 MiB
  from the heap, free space at its top kept up to 256 MiB, both fixed so glibc does not
  move them): a frame's, a PNG's and an answer's buffers are reused, not mapped afresh
  on each screenshot (17 -> 6.5 ms a grab and encode; 0.7 -> 0.06 ms for the copies of a
  367 kB answer). A grabber's first Screen sets the same values (once: it is a no-op
  after this);
- at most two arenas, so the small allocations of every thread share two heaps, not one
  per thread that ever ran;
- ``malloc_trim(0)`` once a minute (about a millisecond), which hands the free pages
  inside the arenas back to the system, the reused frame buffers' included when a
  minute passed without them.

An earlier version set a 256 KiB mmap threshold here (each large buffer in its own
mapping): the first grab's Screen raised it to 64 MiB again, so it never held while
screenshots were taken, and the soak figures in docs/hardening.md are this policy's.
Elsewhere (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
import time

from capture.screen import keep_frame_buffers

__all__ = ["ARENA_MAX", "TRIM_EVERY", "tune_malloc"]

M_ARENA_MAX = -8
ARENA_MAX = 2
TRIM_EVERY = 60.0  # seconds; a trim walks the arenas' free lists: about a millisecond


def tune_malloc(trim_every: float | None = TRIM_EVERY) -> bool:
    """Set glibc's thresholds and arenas and, every ``trim_every`` seconds, give free
    pages back (a daemon thread); True if they were set (False: not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = keep_frame_buffers() and mallopt(M_ARENA_MAX, ARENA_MAX) == 1
    trim = getattr(libc, "malloc_trim", None)
    if done and trim is not None and trim_every:
        trim.argtypes = [ctypes.c_size_t]

        def trimming() -> None:
            while True:  # a timer, for the life of the process
                time.sleep(trim_every)
                trim(0)

        threading.Thread(target=trimming, name="driverseat-malloc-trim", daemon=True).start()
    return done
