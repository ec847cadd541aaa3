"""Dead keys and compose sequences, resolved the way X input methods resolve them.

A dead key (``dead_acute``, ``dead_diaeresis``...) types nothing by itself: with the next
key it makes one character (``dead_acute`` + ``e`` -> ``é``). ``Multi_key`` (Compose)
starts a sequence of two or more keys (``Multi_key`` ``o`` ``"`` -> ``ö``). The table is
the one libX11's input method and GTK's simple input method read: the locale's
``Compose`` file (``/usr/share/X11/locale/<locale>/Compose``; ``$XCOMPOSEFILE`` replaces
it as it does for X; a ``~/.XCompose`` is not read, its ``include`` lines are not followed). Without a file, dead keys still resolve
through Unicode's combining marks; compose sequences then type nothing.

A sequence that matches nothing: with dead keys first, the character is composed with
their marks where Unicode has a single character for it (NFC), else the marks' spacing
forms precede it (GTK's fallback); after ``Multi_key`` it is dropped (what X does).
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from Xlib import XK

from capture.input.keys import char_for_keysym

__all__ = ["MULTI_KEY", "ComposeTable", "Step", "is_dead", "table"]

MULTI_KEY = 0xFF20
_DEAD_FIRST, _DEAD_LAST = 0xFE50, 0xFE8F

# dead keysym -> (combining mark, spacing form)
_DEAD: dict[int, tuple[str, str]] = {
    0xFE50: ("\u0300", "`"), 0xFE51: ("\u0301", "\u00b4"), 0xFE52: ("\u0302", "^"),
    0xFE53: ("\u0303", "~"), 0xFE54: ("\u0304", "\u00af"), 0xFE55: ("\u0306", "\u02d8"),
    0xFE56: ("\u0307", "\u02d9"), 0xFE57: ("\u0308", "\u00a8"), 0xFE58: ("\u030a", "\u02da"),
    0xFE59: ("\u030b", "\u02dd"), 0xFE5A: ("\u030c", "\u02c7"), 0xFE5B: ("\u0327", "\u00b8"),
    0xFE5C: ("\u0328", "\u02db"),
}  # fmt: skip
_LINE = re.compile(r'^\s*((?:<[^>]+>\s*)+):\s*"((?:[^"\\]|\\.)*)"')
_KEY = re.compile(r"<([^>]+)>")


def is_dead(keysym: int) -> bool:
    return _DEAD_FIRST <= keysym <= _DEAD_LAST


def _keysym(name: str) -> int:
    if re.fullmatch(r"U[0-9A-Fa-f]{4,6}", name):
        return 0x1000000 + int(name[1:], 16)
    return int(XK.string_to_keysym(name))


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@dataclass(frozen=True, slots=True)
class Step:
    """What a key does to a sequence under way: ``more`` keys needed, or ``text`` typed
    (possibly empty: the sequence was dropped)."""

    more: bool
    text: str = ""


class ComposeTable:
    def __init__(self, sequences: dict[tuple[int, ...], str]) -> None:
        self.sequences = sequences
        self._prefixes = {seq[:i] for seq in sequences for i in range(1, len(seq))}

    @classmethod
    def parse(cls, text: str) -> ComposeTable:
        found: dict[tuple[int, ...], str] = {}
        for line in text.splitlines():
            m = _LINE.match(line)
            if m is None:
                continue
            keys = tuple(_keysym(k) for k in _KEY.findall(m.group(1)))
            if keys and all(keys):
                found.setdefault(keys, _unescape(m.group(2)))
        return cls(found)

    def starts(self, keysym: int) -> bool:
        """Whether ``keysym`` begins a sequence (a dead key, or Multi_key)."""
        return keysym == MULTI_KEY or is_dead(keysym)

    def step(self, seq: tuple[int, ...]) -> Step:
        """The sequence so far, its last key just pressed."""
        if seq in self.sequences:
            return Step(False, self.sequences[seq])
        if seq in self._prefixes or (len(seq) == 1 and self.starts(seq[0])):
            return Step(True)
        return Step(False, self._fallback(seq))

    @staticmethod
    def _fallback(seq: tuple[int, ...]) -> str:
        if seq[0] == MULTI_KEY:
            return ""
        marks = [_DEAD[k] for k in seq[:-1] if k in _DEAD]
        last = seq[-1]
        if last in _DEAD or last == XK.XK_space:
            # a dead key twice, or then space: the accent itself
            return "".join(spacing for _, spacing in marks) + ("" if last == XK.XK_space else _DEAD[last][1])
        ch = char_for_keysym(last) or ""
        if not ch:
            return ""
        composed = unicodedata.normalize("NFC", ch + "".join(mark for mark, _ in reversed(marks)))
        return composed if len(composed) == 1 else "".join(spacing for _, spacing in marks) + ch


def _compose_file() -> Path | None:
    if os.environ.get("XCOMPOSEFILE"):
        return Path(os.environ["XCOMPOSEFILE"])
    lang = os.environ.get("LC_ALL") or os.environ.get("LC_CTYPE") or os.environ.get("LANG") or ""
    root = Path("/usr/share/X11/locale")
    for name in (lang.split("@")[0], "en_US.UTF-8"):
        if name and (root / name / "Compose").is_file():
            return root / name / "Compose"
    return None


@functools.cache
def table() -> ComposeTable:
    """The session's compose table (read once)."""
    path = _compose_file()
    if path is None:
        return ComposeTable({})
    try:
        return ComposeTable.parse(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ComposeTable({})
