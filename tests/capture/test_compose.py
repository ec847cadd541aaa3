"""Dead keys and compose sequences in the merger (pure: synthetic events, a real Compose
table and one built here)."""

from __future__ import annotations

from Xlib import XK

from capture.input import Kind
from capture.recorder import Merger, RawEvent, TypeText
from capture.recorder.compose import MULTI_KEY, ComposeTable, table

ACUTE, GRAVE = XK.string_to_keysym("dead_acute"), XK.string_to_keysym("dead_grave")


def _typed(keysyms: list[int], compose: ComposeTable | None = None) -> str:
    m = Merger(compose=compose)
    out = []
    for i, ks in enumerate(keysyms):
        t = i * 0.1
        out += m.feed(RawEvent(Kind.KEY_DOWN, t, 10 + i, keysym=ks, shifted=ks))
        out += m.feed(RawEvent(Kind.KEY_UP, t + 0.01, 10 + i, keysym=ks, shifted=ks))
    out += m.flush()
    return "".join(a.text for a in out if isinstance(a, TypeText))


def test_the_locale_table_resolves_dead_keys_and_compose() -> None:
    assert len(table().sequences) > 1000  # the system's Compose file was read
    assert _typed([ord("c"), ACUTE, ord("e"), MULTI_KEY, ord("o"), ord('"')]) == "céö"


def test_without_a_table_dead_keys_compose_through_unicode() -> None:
    empty = ComposeTable({})
    assert _typed([ACUTE, ord("e"), GRAVE, ord("A")], empty) == "éÀ"
    assert _typed([ACUTE, XK.XK_space], empty) == "\u00b4"  # dead key then space: the accent
    assert _typed([ACUTE, ord("x")], empty) == "\u00b4x"  # no such letter: the accent, then x
    # Multi_key o begins nothing in an empty table: dropped there, the rest typed
    assert _typed([MULTI_KEY, ord("o"), ord("x"), ord("k")], empty) == "xk"


def test_a_parsed_table_and_a_dead_key_left_alone() -> None:
    t = ComposeTable.parse('<Multi_key> <minus> <greater>\t: "→"   rightarrow\n# comment\n')
    assert _typed([MULTI_KEY, ord("-"), ord(">")], t) == "→"
    assert _typed([ord("a"), ACUTE], t) == "a"  # a dead key at the end of a burst types nothing
