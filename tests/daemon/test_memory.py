"""`driverseat serve` fixes glibc's malloc thresholds (daemon/cli/memory.py)."""

from __future__ import annotations

import platform
import sys

import pytest

from daemon.cli.memory import tune_malloc


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_malloc_thresholds_are_set_on_glibc() -> None:
    assert tune_malloc(trim_every=None) is True
