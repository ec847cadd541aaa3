"""The hold guard's bookkeeping and the daemon's end of its pipe, without an X server."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from capture.input import Kind, Primitive
from capture.input._fake import FakeBackend
from capture.input.guard import GOODBYE, GuardLink, HeldSet, record


def test_held_set_follows_presses_and_releases_in_order() -> None:
    held = HeldSet()
    data = b"".join([
        record(Kind.KEY_DOWN, 50), record(Kind.KEY_DOWN, 38), record(Kind.BUTTON_DOWN, 1),
        record(Kind.KEY_UP, 38), record(Kind.BUTTON_DOWN, 3), record(Kind.KEY_DOWN, 64),
    ])  # fmt: skip
    # records split anywhere between reads (a pipe gives no boundaries)
    assert held.feed(data[:3]) and held.feed(data[3:8]) and held.feed(data[8:])
    assert held.releases() == [
        (Kind.BUTTON_UP, 3), (Kind.BUTTON_UP, 1), (Kind.KEY_UP, 64), (Kind.KEY_UP, 50),
    ]  # fmt: skip


def test_held_set_stops_at_goodbye() -> None:
    held = HeldSet()
    assert not held.feed(record(Kind.KEY_DOWN, 50) + GOODBYE + record(Kind.KEY_DOWN, 51))
    assert held.releases() == [(Kind.KEY_UP, 50)]  # what it knew; the caller exits anyway


def test_record_refuses_codes_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        record(Kind.KEY_DOWN, 256)


class _Pipe:
    """A GuardLink on a plain pipe: the test reads what the guard would."""

    def __init__(self) -> None:
        self.r, w = os.pipe()
        self.link = GuardLink(None, w)

    def read(self) -> bytes:
        os.set_blocking(self.r, False)
        try:
            return os.read(self.r, 65536)
        except BlockingIOError:
            return b""


@pytest.fixture
def pipe() -> Iterator[_Pipe]:
    p = _Pipe()
    yield p
    p.link.close()
    os.close(p.r)


def test_the_backend_tells_the_watch_before_each_press_and_after_each_release() -> None:
    b = FakeBackend()
    seen: list[tuple[str, Primitive]] = []

    class Watch:
        def pressing(self, kind: Kind, code: int) -> None:
            # told before the press went out: it is not sent yet
            seen.append(("pressing", Primitive(kind, code)))
            assert Primitive(kind, code) not in b.sent

        def released(self, kind: Kind, code: int) -> None:
            seen.append(("released", Primitive(kind, code)))
            assert b.sent[-1] == Primitive(kind, code)

    b.watch = Watch()
    for p in (Primitive(Kind.KEY_DOWN, 50), Primitive(Kind.MOTION, x=5, y=5),
              Primitive(Kind.BUTTON_DOWN, 1)):  # fmt: skip
        b.send(p)
    assert b.release_all() == 2
    # motion is never held: nothing to tell
    assert seen == [
        ("pressing", Primitive(Kind.KEY_DOWN, 50)), ("pressing", Primitive(Kind.BUTTON_DOWN, 1)),
        ("released", Primitive(Kind.BUTTON_UP, 1)), ("released", Primitive(Kind.KEY_UP, 50)),
    ]  # fmt: skip


def test_the_link_writes_one_record_a_press_and_goodbye_on_close(pipe: _Pipe) -> None:
    b = FakeBackend()
    b.watch = pipe.link
    b.send(Primitive(Kind.KEY_DOWN, 50))
    b.send(Primitive(Kind.KEY_UP, 50))
    assert pipe.read() == record(Kind.KEY_DOWN, 50) + record(Kind.KEY_UP, 50)
    pipe.link.close()
    assert pipe.read() == GOODBYE


def test_a_dead_guard_is_logged_once_and_the_backend_goes_on(
    pipe: _Pipe, caplog: pytest.LogCaptureFixture
) -> None:
    b = FakeBackend()
    b.watch = pipe.link
    os.close(pipe.r)  # the guard is gone: the next write gets EPIPE
    pipe.r = os.open(os.devnull, os.O_RDONLY)  # for the fixture to close
    with caplog.at_level(logging.WARNING, logger="driverseat.guard"):
        for _ in range(3):
            b.send(Primitive(Kind.KEY_DOWN, 50))
            b.send(Primitive(Kind.KEY_UP, 50))
    assert [p.kind for p in b.sent] == [Kind.KEY_DOWN, Kind.KEY_UP] * 3
    assert not pipe.link.alive
    assert len([r for r in caplog.records if "hold guard is gone" in r.getMessage()]) == 1


def test_a_guard_that_stops_reading_is_killed_not_left_with_a_wrong_picture(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r, w = os.pipe()
    # a process that never reads its stdin stands in for a stuck guard
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=r)
    os.close(r)
    link = GuardLink(proc, w)
    with caplog.at_level(logging.WARNING, logger="driverseat.guard"):
        for _ in range(70_000):  # more than a pipe's 64 KiB of 2-byte records
            link.pressing(Kind.KEY_DOWN, 50)
    assert not link.alive
    assert proc.wait(timeout=10) != 0  # killed by us: it must not release on a wrong picture
    assert len([r for r in caplog.records if "stopped reading" in r.getMessage()]) == 1
    link.close()
