"""A screenshot's base64 comes from pybase64 (SIMD), byte for byte the standard library's."""

from __future__ import annotations

import base64
import os

from daemon.control import screenshots


def test_the_fast_encoder_is_installed() -> None:
    # pyproject requires it; the standard library's fallback costs 0.25-0.5 ms a screenshot
    assert screenshots.b64encode.__module__.startswith("pybase64")


def test_it_writes_what_the_standard_library_writes() -> None:
    for size in (0, 1, 2, 3, 4, 57, 58, 1000, 65_537, 400_411):
        data = os.urandom(size)
        assert screenshots.b64encode(data) == base64.b64encode(data), size
