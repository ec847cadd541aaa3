"""XInput 2.2 wire structures python-xlib 0.33 lacks: raw events (with their source
device and raw axes), and the XIQueryVersion and XIQueryPointer requests."""

from __future__ import annotations

import struct
import sys
from typing import Any

from Xlib.ext import xinput
from Xlib.protocol import rq

from capture.input._base import Kind

# XI 2.2 raw events (XI2proto.h); python-xlib 0.33 has no parser for them.
RAW_KEY_PRESS, RAW_KEY_RELEASE, RAW_BUTTON_PRESS, RAW_BUTTON_RELEASE, RAW_MOTION = 13, 14, 15, 16, 17
RAW_KINDS = {
    RAW_KEY_PRESS: Kind.KEY_DOWN,
    RAW_KEY_RELEASE: Kind.KEY_UP,
    RAW_BUTTON_PRESS: Kind.BUTTON_DOWN,
    RAW_BUTTON_RELEASE: Kind.BUTTON_UP,
    RAW_MOTION: Kind.MOTION,
}
RAW_MASK = sum(1 << t for t in RAW_KINDS)
HIERARCHY_MASK = 1 << xinput.HierarchyChanged


class _Rest(rq.ValueField):  # type: ignore[misc]
    """The bytes after the fixed part: a raw event's valuator mask and values."""

    structcode = None

    def parse_binary_value(self, data: Any, display: Any, length: Any, format: Any) -> tuple[bytes, bytes]:
        return bytes(data), b""


RawEventData = rq.Struct(
    rq.Card16("deviceid"),
    rq.Card32("time"),
    rq.Card32("detail"),
    rq.Card16("sourceid"),
    rq.Card16("valuators_len"),
    rq.Card32("flags"),
    rq.Pad(4),
    _Rest("rest"),
)
_FP3232 = struct.Struct("=iI")


def raw_axes(rest: bytes, mask_len: int) -> tuple[float, float] | None:
    """Axes 0 and 1 of a raw event's *raw* values (what the device, or the XTest request,
    gave: screen pixels for an absolute XTest motion), or None if either is absent."""
    mask = int.from_bytes(rest[: 4 * mask_len], sys.byteorder)
    if mask & 0b11 != 0b11:
        return None
    n = mask.bit_count()
    raw = 4 * mask_len + 8 * n  # the transformed values come first, then the raw ones
    try:
        x = _FP3232.unpack_from(rest, raw)
        y = _FP3232.unpack_from(rest, raw + 8)
    except struct.error:
        return None
    return x[0] + x[1] / 2**32, y[0] + y[1] / 2**32


class _XIQueryVersion(rq.ReplyRequest):  # type: ignore[misc]
    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(47), rq.RequestLength(),
        rq.Card16("major_version"), rq.Card16("minor_version"),
    )  # fmt: skip
    _reply = rq.Struct(
        rq.ReplyCode(), rq.Pad(1), rq.Card16("sequence_number"), rq.ReplyLength(),
        rq.Card16("major_version"), rq.Card16("minor_version"), rq.Pad(20),
    )  # fmt: skip


class _XIQueryPointer(rq.ReplyRequest):  # type: ignore[misc]
    _request = rq.Struct(
        rq.Card8("opcode"), rq.Opcode(40), rq.RequestLength(),
        rq.Window("window"), rq.Card16("deviceid"), rq.Pad(2),
    )  # fmt: skip
    _reply = rq.Struct(
        rq.ReplyCode(), rq.Pad(1), rq.Card16("sequence_number"), rq.ReplyLength(),
        rq.Window("root"), rq.Window("child"),
        xinput.FP1616("root_x"), xinput.FP1616("root_y"),
        xinput.FP1616("win_x"), xinput.FP1616("win_y"),
        rq.Bool("same_screen"), rq.Pad(1), rq.LengthOf("buttons", 2),
        rq.Object("mods", xinput.ModifierInfo), rq.Object("groups", xinput.GroupInfo),
        rq.List("buttons", rq.Card32),
    )  # fmt: skip
