"""The ledger that tells our input from a person's."""

from __future__ import annotations

from capture.input import Kind, Ledger


def test_match_consumes_first_in_first_out() -> None:
    led = Ledger()
    led.add(Kind.KEY_DOWN, 38)
    led.add(Kind.KEY_DOWN, 38)
    assert led.match(Kind.KEY_DOWN, 38)
    assert led.match(Kind.KEY_DOWN, 38)
    assert not led.match(Kind.KEY_DOWN, 38)


def test_kind_and_code_must_both_match() -> None:
    led = Ledger()
    led.add(Kind.KEY_DOWN, 38)
    assert not led.match(Kind.KEY_UP, 38)
    assert not led.match(Kind.KEY_DOWN, 39)
    assert led.match(Kind.KEY_DOWN, 38)


def test_entries_expire() -> None:
    now = [100.0]
    led = Ledger(expiry=2.0, clock=lambda: now[0])
    led.add(Kind.BUTTON_DOWN, 1)
    led.add(Kind.BUTTON_DOWN, 1)
    now[0] += 1.0
    assert led.match(Kind.BUTTON_DOWN, 1)  # still live
    now[0] += 1.5
    assert not led.match(Kind.BUTTON_DOWN, 1)  # the second one expired
    assert len(led) == 0
