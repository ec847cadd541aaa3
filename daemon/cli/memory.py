"""The daemon's memory given back to the system after a peak (glibc's malloc only).

A soak (bench/soak.py) showed the Python heap flat (objects and bytes in use: ~111,000
and ~23 MB from the first minute to the last) while the resident size crept up: what
grew was glibc's *free* memory inside its arenas. Screenshots make multi-megabyte
buffers; glibc serves the first from mmap, then raises its mmap threshold to that size,
so later ones come from the arenas of whichever thread made them, and a freed buffer
stays in its arena, pinned there by small allocations made after it.

Fixing the thresholds (which also stops glibc from moving them) keeps every buffer of
256 KiB or more in its own mapping, returned to the system when it is freed, and at
most two arenas hold the small allocations of all threads. Elsewhere (macOS, Windows,
musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["MMAP_THRESHOLD", "tune_malloc"]

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 256 * 1024
TRIM_THRESHOLD = 1024 * 1024  # free memory at an arena's top above this goes back at once
ARENA_MAX = 2


def tune_malloc() -> bool:
    """Set glibc's thresholds; True if they were set (False: not glibc)."""
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
    return all(
        mallopt(param, value) == 1
        for param, value in (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (M_ARENA_MAX, ARENA_MAX),
        )
    )
