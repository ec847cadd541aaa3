"""Key names as agents send them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capture import CaptureError
from capture.input.keys import (
    char_for_keysym,
    keysym_for_char,
    keysym_for_name,
    name_for_keysym,
    parse_combo,
    parse_keys,
)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Return", ["Return"]),
        ("ctrl+s", ["Control_L", "s"]),
        ("super", ["Super_L"]),
        ("F5", ["F5"]),
        ("f5", ["F5"]),
        ("alt+Tab", ["Alt_L", "Tab"]),
        ("ctrl+shift+t", ["Control_L", "Shift_L", "t"]),
        ("ctrl++", ["Control_L", "+"]),
        ("Page_Up", ["Page_Up"]),
        ("pgdn", ["Next"]),
        ("KP_Enter", ["KP_Enter"]),
        ("XF86AudioMute", ["XF86AudioMute"]),
        ("xf86audiomute", ["XF86AudioMute"]),
        ("Escape", ["Escape"]),
        ("esc", ["Escape"]),
        ("cmd+c", ["Super_L", "c"]),
    ],
)
def test_combos_agents_send(text: str, names: list[str]) -> None:
    assert [name_for_keysym(k) for k in parse_combo(text).keysyms] == names


def test_space_separated_sequence() -> None:
    combos = parse_keys("ctrl+a Delete")
    assert [c.text for c in combos] == ["ctrl+a", "Delete"]


@pytest.mark.parametrize("bad", ["", "   ", "foo", "ctrl+bogus", "ctrl+", "a+b+", "+a"])
def test_bad_keys_are_rejected_with_the_name(bad: str) -> None:
    with pytest.raises(CaptureError):
        parse_keys(bad)


def test_unknown_name_is_in_the_message() -> None:
    with pytest.raises(CaptureError, match="bogus"):
        keysym_for_name("bogus")


@given(st.characters(blacklist_categories=("Cs", "Cc")))
def test_every_printable_character_round_trips(ch: str) -> None:
    assert char_for_keysym(keysym_for_char(ch)) == ch


@pytest.mark.parametrize("ch", ["\x00", "\x1b", "\x7f", "\x85"])
def test_control_characters_cannot_be_typed(ch: str) -> None:
    with pytest.raises(CaptureError):
        keysym_for_char(ch)


def test_newline_and_tab_type_as_keys() -> None:
    assert name_for_keysym(keysym_for_char("\n")) == "Return"
    assert name_for_keysym(keysym_for_char("\t")) == "Tab"


def test_altgr_is_iso_level3_shift() -> None:
    from capture.input.keys import keysym_for_name

    assert keysym_for_name("altgr") == 0xFE03  # ISO_Level3_Shift, not keysym 0
