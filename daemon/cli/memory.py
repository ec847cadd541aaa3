"""The daemon's memory given back to the system after a peak (glibc's malloc only).

A soak (bench/soak.py) showed the Python heap flat (objects and bytes in use: ~111,000
and ~23 MB from the first minute to the last) while the resident size crept up: what
grew was glibc's *free* memory inside its arenas. Screenshots make multi-megabyte
buffers; glibc serves the first from mmap, then raises its mmap threshold to that size,
so later ones come from the arenas of whichever thread made them, and a freed buffer
stays in its arena, pinned there by small allocations made after it.

Fixing the thresholds (which also stops glibc from moving them) keeps every buffer of
256 KiB or more in its own mapping, returned to the system when it is freed, and at
most two arenas hold the small allocations of all threads. That took 70 MB off the
resident size, but the arenas' free space still crept (smaller buffers, a base64
screenshot or a JSON body, freed between longer-lived ones): ``malloc_trim`` once a
minute hands those free pages back. Elsewhere (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
import time

__all__ = ["MMAP_THRESHOLD", "TRIM_EVERY", "tune_malloc"]

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 256 * 1024
TRIM_THRESHOLD = 1024 * 1024  # free memory at an arena's top above this goes back at once
ARENA_MAX = 2
TRIM_EVERY = 60.0  # seconds; a trim walks the arenas' free lists: about a millisecond


def tune_malloc(trim_every: float | None = TRIM_EVERY) -> bool:
    """Set glibc's thresholds and, every ``trim_every`` seconds, give free pages back (a
    daemon thread); True if they were set (False: not glibc)."""
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
    done = all(
        mallopt(param, value) == 1
        for param, value in (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (M_ARENA_MAX, ARENA_MAX),
        )
    )
    trim = getattr(libc, "malloc_trim", None)
    if done and trim is not None and trim_every:
        trim.argtypes = [ctypes.c_size_t]

        def trimming() -> None:
            while True:  # a timer, for the life of the process
                time.sleep(trim_every)
                trim(0)

        threading.Thread(target=trimming, name="driverseat-malloc-trim", daemon=True).start()
    return done
