"""What the X server holds down right now, as a plain client sees it.

A client that never changed its ClientPointer reads the core devices (driverseat's
XTEST slaves are attached there); the simulated person's connection reads its own
master's (``SimulatedHuman.d``).
"""

from __future__ import annotations

from pathlib import Path

from Xlib import display

BUTTONS_MASK = 0x1F00  # Button1Mask .. Button5Mask of XQueryPointer's mask


def keys_down(d: display.Display) -> list[int]:
    """Every key code down on ``d``'s keyboard (XQueryKeymap)."""
    km = d.query_keymap()
    return [i * 8 + bit for i, byte in enumerate(km) for bit in range(8) if byte & (1 << bit)]


def key_down(d: display.Display, code: int) -> bool:
    return code in keys_down(d)


def buttons(d: display.Display) -> int:
    """The button bits of ``d``'s pointer (XQueryPointer mask); 0 when none is down."""
    return int(d.screen().root.query_pointer().mask) & BUTTONS_MASK


def nothing_held(d: display.Display) -> bool:
    return not keys_down(d) and buttons(d) == 0


def ended(pid: int) -> bool:
    """Process ``pid`` has ended (a zombie its parent has not reaped yet counts as ended):
    for the hold guard, which must exit after the daemon it watched."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
