"""A private session bus with a notification server on it, per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notify.bus import NotificationServer, SessionBus


@pytest.fixture
def bus() -> Iterator[SessionBus]:
    b = SessionBus()
    yield b
    b.close()


@pytest.fixture
def server(bus: SessionBus) -> Iterator[NotificationServer]:
    s = NotificationServer(bus.address)
    yield s
    s.close()
