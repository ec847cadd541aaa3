"""Injection announcements between processes' sockets (no X needed)."""

from __future__ import annotations

import itertools

import pytest

from capture.errors import CaptureError
from capture.input import Kind
from capture.input.announce import InjectionAnnouncer, InjectionListener
from capture.recorder.live import AnnouncedLedger

_displays = itertools.count(9000)


def test_an_announced_primitive_matches_once_and_others_do_not() -> None:
    name = f":{next(_displays)}"
    ledger = AnnouncedLedger()
    listener = InjectionListener(name, ledger)
    ledger.refill = listener.drain
    announcer = InjectionAnnouncer(name)
    try:
        announcer.announce(Kind.KEY_DOWN, 38)
        announcer.announce(Kind.MOTION, 0)
        # written before the event exists, so a miss drains the socket and finds it
        assert ledger.match(Kind.KEY_DOWN, 38)
        assert not ledger.match(Kind.KEY_DOWN, 38)
        assert not ledger.match(Kind.BUTTON_DOWN, 1)
        assert ledger.match(Kind.MOTION, 0)
        assert listener.announced == 2
    finally:
        announcer.close()
        listener.close()


def test_a_long_burst_is_read_by_the_listener_thread_not_dropped() -> None:
    # a few hundred unread writes fill a Unix stream socket; the thread keeps it empty
    name = f":{next(_displays)}"
    ledger = AnnouncedLedger()
    listener = InjectionListener(name, ledger)
    ledger.refill = listener.drain
    listener.start()
    announcer = InjectionAnnouncer(name)
    try:
        for i in range(5000):
            announcer.announce(Kind.KEY_DOWN, i % 200)
        assert all(ledger.match(Kind.KEY_DOWN, i % 200) for i in range(5000))
    finally:
        announcer.close()
        listener.close()


def test_one_recorder_per_display_and_no_listener_costs_nothing() -> None:
    name = f":{next(_displays)}"
    InjectionAnnouncer(name).announce(Kind.KEY_DOWN, 1)  # nobody listens: silently dropped
    first = InjectionListener(name, AnnouncedLedger())
    try:
        with pytest.raises(CaptureError, match="another recorder"):
            InjectionListener(name, AnnouncedLedger())
    finally:
        first.close()
