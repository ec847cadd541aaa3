"""Fixtures shared by the whole suite: a real Xvfb, a simulated human, a target window."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from capture.xvfb import VirtualDisplay


def _need_xvfb() -> None:
    if shutil.which("Xvfb") is None:
        msg = "Xvfb is not installed: run `make test`, which installs it (apt-get install xvfb)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def xserver() -> Iterator[str]:
    """A 1920x1080 Xvfb for the whole session; DISPLAY points at it.

    One connection stays open for the session so that the server never resets.
    """
    _need_xvfb()
    from Xlib import display

    with VirtualDisplay(1920, 1080) as vd:
        old = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = vd.name
        keepalive = display.Display(vd.name)
        try:
            yield vd.name
        finally:
            keepalive.close()
            if old is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = old


@pytest.fixture(scope="session")
def human(xserver: str) -> Iterator[object]:
    from tests.x11.human import SimulatedHuman

    h = SimulatedHuman(xserver)
    yield h
    h.close()


@pytest.fixture
def target(xserver: str) -> Iterator[object]:
    from tests.x11.target import TargetWindow

    t = TargetWindow(xserver)
    yield t
    t.close()


@pytest.fixture(scope="session")
def a11y_bus(xserver: str) -> Iterator[object]:
    """A session D-Bus and the AT-SPI accessibility bus on the suite's Xvfb."""
    from tests.x11.a11y import DEBIAN_PACKAGES, AccessibilityBus, missing_tools

    if missing := missing_tools():
        msg = f"missing {', '.join(missing)}: needs the Debian packages {DEBIAN_PACKAGES}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    bus = AccessibilityBus(xserver)
    yield bus
    bus.close()
