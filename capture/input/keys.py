"""Key names as agents send them (xdotool style) and the keysyms they stand for.

Agents write keys the way xdotool reads them: ``Return``, ``ctrl+s``, ``super``,
``alt+Tab``, ``F5``, ``ctrl+shift+t``, several combos separated by spaces
(``"ctrl+a Delete"``). Keysym names are X11's (``Page_Up``, ``KP_Enter``,
``XF86AudioMute``); friendly aliases (``ctrl``, ``win``, ``pgdn``, ``enter``) are
accepted case-insensitively. Keysyms are the platform-neutral currency here: every
backend maps them to its own key codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from Xlib import XK

from capture.errors import CaptureError

# xkb: ISO_Level3_Shift (altgr) and friends; without it "altgr" would be keysym 0
for _group in ("xf86", "xkb", "latin2", "latin3", "latin4", "greek", "cyrillic", "publishing"):
    XK.load_keysym_group(_group)

ALIASES: dict[str, str] = {
    "ctrl": "Control_L", "control": "Control_L", "lctrl": "Control_L", "rctrl": "Control_R",
    "alt": "Alt_L", "lalt": "Alt_L", "ralt": "Alt_R", "altgr": "ISO_Level3_Shift",
    "option": "Alt_L",
    "shift": "Shift_L", "lshift": "Shift_L", "rshift": "Shift_R",
    "super": "Super_L", "win": "Super_L", "windows": "Super_L", "cmd": "Super_L",
    "command": "Super_L", "meta": "Super_L", "lsuper": "Super_L", "rsuper": "Super_R",
    "enter": "Return", "return": "Return", "esc": "Escape", "escape": "Escape",
    "tab": "Tab", "space": "space", "spacebar": "space",
    "backspace": "BackSpace", "bksp": "BackSpace",
    "delete": "Delete", "del": "Delete", "insert": "Insert", "ins": "Insert",
    "home": "Home", "end": "End",
    "pageup": "Prior", "page_up": "Prior", "pgup": "Prior",
    "pagedown": "Next", "page_down": "Next", "pgdn": "Next",
    "up": "Up", "down": "Down", "left": "Left", "right": "Right",
    "arrowup": "Up", "arrowdown": "Down", "arrowleft": "Left", "arrowright": "Right",
    "capslock": "Caps_Lock", "caps_lock": "Caps_Lock", "numlock": "Num_Lock",
    "printscreen": "Print", "print": "Print", "prtsc": "Print",
    "pause": "Pause", "break": "Break", "menu": "Menu", "apps": "Menu",
    "plus": "plus", "minus": "minus",
    "volumeup": "XF86AudioRaiseVolume", "volumedown": "XF86AudioLowerVolume",
    "volumemute": "XF86AudioMute", "mute": "XF86AudioMute",
}  # fmt: skip

MODIFIER_NAMES = frozenset(
    {"Control_L", "Control_R", "Alt_L", "Alt_R", "Shift_L", "Shift_R", "Super_L", "Super_R",
     "Meta_L", "Meta_R", "ISO_Level3_Shift", "Hyper_L", "Hyper_R"}
)  # fmt: skip

RETURN = XK.XK_Return
TAB = XK.XK_Tab


@dataclass(frozen=True, slots=True)
class Combo:
    """One chord: modifiers held, in order, around one key (``ctrl+shift+t``)."""

    keysyms: tuple[int, ...]
    text: str

    @property
    def modifiers(self) -> tuple[int, ...]:
        return self.keysyms[:-1]

    @property
    def key(self) -> int:
        return self.keysyms[-1]


def keysym_for_name(name: str) -> int:
    """The keysym of one key name; raises CaptureError for names no keyboard has."""
    if not name:
        raise CaptureError("empty key name")
    alias = ALIASES.get(name.lower())
    if alias is not None:
        return int(XK.string_to_keysym(alias))
    ks = int(XK.string_to_keysym(name))
    if ks == 0 and len(name) > 1:
        # 'f5', 'kp_enter', 'xf86audiomute': accept any capitalisation of a real name.
        ks = int(XK.string_to_keysym(name[:1].upper() + name[1:]))
        if ks == 0:
            ks = _case_insensitive().get(name.lower(), 0)
    if ks == 0 and len(name) == 1:
        return keysym_for_char(name)
    if ks == 0:
        raise CaptureError(f"unknown key name {name!r}", key=name)
    return ks


_LOWER: dict[str, int] = {}
_NAMES: dict[int, str] = {}


def _tables() -> None:
    if _LOWER:
        return
    for attr in dir(XK):
        if not attr.startswith("XK_"):
            continue
        name = attr[3:]
        if name.startswith("XF86_"):
            name = "XF86" + name[5:]  # xdotool spells them XF86AudioMute
        ks = int(getattr(XK, attr))
        _LOWER.setdefault(name.lower(), ks)
        _NAMES.setdefault(ks, name)


def _case_insensitive() -> dict[str, int]:
    _tables()
    return _LOWER


def parse_combo(text: str) -> Combo:
    """``"ctrl+shift+t"`` -> the keysyms of Control_L, Shift_L, t."""
    if text == "+":
        parts = ["plus"]
    else:
        parts = text.split("+")
        # "ctrl++" means ctrl and the plus key; "ctrl+" is malformed.
        if text.endswith("++"):
            parts = parts[:-2] + ["plus"]
    if any(not p.strip() for p in parts):
        raise CaptureError(f"malformed key combo {text!r}", key=text)
    return Combo(tuple(keysym_for_name(p.strip()) for p in parts), text)


def parse_keys(text: str) -> tuple[Combo, ...]:
    """A key action's text: one combo or several separated by whitespace (xdotool)."""
    words = text.split()
    if not words:
        raise CaptureError("no key given", key=text)
    return tuple(parse_combo(w) for w in words)


def keysym_for_char(ch: str) -> int:
    """The keysym that types ``ch`` (X11 rule: Latin-1 as is, the rest 0x01000000 + code)."""
    if len(ch) != 1:
        raise CaptureError(f"expected one character, got {ch!r}")
    if ch == "\n" or ch == "\r":
        return int(RETURN)
    if ch == "\t":
        return int(TAB)
    code = ord(ch)
    if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
        raise CaptureError(f"cannot type control character U+{code:04X}", char=ch)
    if 0xD800 <= code <= 0xDFFF:
        raise CaptureError(f"cannot type lone surrogate U+{code:04X}", char=ch)
    if code < 0x100:
        return code
    return 0x01000000 + code


_NAMED_CHARS = {int(RETURN): "\n", int(TAB): "\t", int(XK.XK_KP_Enter): "\n"}


def char_for_keysym(ks: int) -> str | None:
    """The character a keysym types, or None for function keys and unknown legacy keysyms."""
    if 0x20 <= ks <= 0x7E or 0xA0 <= ks <= 0xFF:
        return chr(ks)
    if 0x01000100 <= ks <= 0x0110FFFF:
        return chr(ks - 0x01000000)
    if XK.XK_KP_0 <= ks <= XK.XK_KP_9:
        return chr(ord("0") + ks - XK.XK_KP_0)
    return _NAMED_CHARS.get(ks)


def name_for_keysym(ks: int) -> str:
    """A readable name (``Return``, ``a``, ``U+4F60``) for logs and summaries."""
    _tables()
    if ks in _NAMES and not (0x20 <= ks <= 0x7E):
        return _NAMES[ks]
    ch = char_for_keysym(ks)
    if ch is not None:
        return ch
    return f"0x{ks:x}"


def is_modifier(ks: int) -> bool:
    return name_for_keysym(ks) in MODIFIER_NAMES


def keysym_name(ks: int) -> str:
    """The X keysym name (``Escape``, ``space``, ``plus``, ``a``) that
    :func:`keysym_for_name` reads back: what a recorded combo spells its key with."""
    _tables()
    if 0x30 <= ks <= 0x39 or 0x41 <= ks <= 0x5A or 0x61 <= ks <= 0x7A:
        return chr(ks)
    return _NAMES.get(ks) or name_for_keysym(ks)
