"""The desktop's double-click time and drag threshold, where the session publishes them.

GNOME, XFCE, MATE and KDE's GTK bridge publish them through XSETTINGS: the owner of the
``_XSETTINGS_S<screen>`` selection holds a ``_XSETTINGS_SETTINGS`` property with
``Net/DoubleClickTime`` (ms) and ``Net/DndDragThreshold`` (px). A bare X server (Xvfb)
has no owner: the defaults (0.5 s, 5 px) apply.
"""

from __future__ import annotations

import struct
from typing import Any

from Xlib import X, display, error

__all__ = ["desktop_settings", "parse_xsettings"]


def parse_xsettings(blob: bytes) -> dict[str, int | str]:
    """Integer and string settings of an ``_XSETTINGS_SETTINGS`` value (colours skipped)."""
    if len(blob) < 12:
        return {}
    order = "<" if blob[0] == 0 else ">"
    (count,) = struct.unpack_from(order + "I", blob, 8)
    out: dict[str, int | str] = {}
    pos = 12
    try:
        for _ in range(count):
            kind, name_len = blob[pos], struct.unpack_from(order + "H", blob, pos + 2)[0]
            pos += 4
            name = blob[pos : pos + name_len].decode("utf-8", "replace")
            pos += (name_len + 3) & ~3
            pos += 4  # last-change serial
            if kind == 0:
                out[name] = struct.unpack_from(order + "i", blob, pos)[0]
                pos += 4
            elif kind == 1:
                (n,) = struct.unpack_from(order + "I", blob, pos)
                pos += 4
                out[name] = blob[pos : pos + n].decode("utf-8", "replace")
                pos += (n + 3) & ~3
            elif kind == 2:
                pos += 8
            else:
                break
    except (struct.error, IndexError):
        pass  # a truncated property: keep what was read
    return out


def desktop_settings(display_name: str | None) -> dict[str, Any]:
    """``double_click_s`` and ``drag_threshold`` as the desktop publishes them (only the
    ones it does), for :class:`capture.recorder.Settings`."""
    try:
        d = display.Display(display_name)
    except (error.DisplayError, error.ConnectionClosedError, OSError):
        return {}
    try:
        sel = d.intern_atom(f"_XSETTINGS_S{d.get_default_screen()}")
        owner = d.get_selection_owner(sel)
        owner_id = int(owner if isinstance(owner, int) else owner.id)
        if owner_id == X.NONE:
            return {}
        window = d.create_resource_object("window", owner_id)
        prop = window.get_full_property(d.intern_atom("_XSETTINGS_SETTINGS"), X.AnyPropertyType)
        if prop is None:
            return {}
        values = parse_xsettings(bytes(prop.value))
    except (error.XError, AttributeError):
        return {}
    finally:
        d.close()
    out: dict[str, Any] = {}
    dbl = values.get("Net/DoubleClickTime")
    if isinstance(dbl, int) and 50 <= dbl <= 5000:
        out["double_click_s"] = dbl / 1000
    drag = values.get("Net/DndDragThreshold")
    if isinstance(drag, int) and 1 <= drag <= 100:
        out["drag_threshold"] = drag
    return out
