"""The size of the screenshot an agent sees: chosen, parsed, validated.

Computer-use models are trained on a few sizes (XGA, WXGA, FWXGA); the agent sees its
monitor at the largest of them that keeps the monitor's aspect, never upscaled.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from typing import Final, Literal

from capture.errors import CaptureError

AgentSize = tuple[int, int]
"""``(width, height)`` of the screenshot the agent is shown, in agent pixels."""

DEFAULT_AGENT_SIZES: Final[tuple[AgentSize, ...]] = ((1024, 768), (1280, 800), (1366, 768))
"""The sizes computer-use models are trained on (XGA, WXGA, FWXGA)."""

ASPECT_TOLERANCE: Final = 0.01
"""Relative aspect difference still called a match (1366x768 vs 16:9 is 0.05 %)."""

# Larger than any real desktop; stops "100000x100000" from allocating gigabytes later.
MAX_SIDE: Final = 32768


def as_int(name: str, value: object) -> int:
    """``value`` as a plain int (numpy integers welcome); floats and bools are refused."""
    if isinstance(value, bool):
        raise CaptureError(f"{name} must be an integer, not a bool", **{name: value})
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError as exc:
        raise CaptureError(
            f"{name} must be an integer pixel coordinate, got {value!r}", **{name: value}
        ) from exc


# --- choosing the agent size ----------------------------------------------------------


def _fit_within(width: int, height: int, bound_w: int, bound_h: int) -> AgentSize:
    """``width x height`` scaled by ``min(bound_w/width, bound_h/height, 1)``, rounded."""
    if bound_w * height <= bound_h * width:  # the width limits the scale
        if bound_w >= width:
            return (width, height)
        return (bound_w, max(1, min(bound_h, (2 * height * bound_w + width) // (2 * width))))
    if bound_h >= height:
        return (width, height)
    return (max(1, min(bound_w, (2 * width * bound_h + height) // (2 * height))), bound_h)


def _check_size(what: str, width: object, height: object) -> AgentSize:
    w, h = as_int(f"{what} width", width), as_int(f"{what} height", height)
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        raise CaptureError(
            f"{what} size must be between 1 and {MAX_SIDE} a side, got {w}x{h}", width=w, height=h
        )
    return (w, h)


def choose_agent_size(
    width: int,
    height: int,
    choices: Sequence[AgentSize] = DEFAULT_AGENT_SIZES,
    native: bool = False,
    *,
    tolerance: float = ASPECT_TOLERANCE,
) -> AgentSize:
    """The size of the screenshot the agent sees for a ``width x height`` screen.

    The rule, in order:

    1. ``native``: the screen size itself.
    2. The largest choice (by area) whose aspect ratio matches the screen's within
       ``tolerance`` (relative) and that fits inside the screen: 1920x1080 -> 1366x768,
       2560x1600 -> 1280x800, 1024x768 -> 1024x768.
    3. Otherwise the screen scaled down, aspect kept, to fit inside one of the choices,
       taking the choice that keeps the most pixels, and never scaled up: 3840x1080 ->
       1366x384, 1280x1024 -> 1000x800, 800x600 -> 800x600.
    """
    w, h = _check_size("screen", width, height)
    if native:
        return (w, h)
    sizes = [_check_size("agent", cw, ch) for cw, ch in choices]
    if not sizes:
        raise CaptureError("choose_agent_size needs at least one choice of agent size")
    matching = [
        (cw, ch)
        for cw, ch in sizes
        if cw <= w and ch <= h and abs(cw * h - ch * w) <= tolerance * ch * w
    ]
    if matching:
        return max(matching, key=lambda s: s[0] * s[1])  # max keeps the first of equals
    return max((_fit_within(w, h, cw, ch) for cw, ch in sizes), key=lambda s: s[0] * s[1])


_SIZE_RE: Final = re.compile(r"\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*")


def parse_agent_size(text: str) -> AgentSize | Literal["native"]:
    """Parse a configured agent size: ``"WIDTHxHEIGHT"`` (e.g. ``"1366x768"``) or ``"native"``.

    Raises :class:`CaptureError` with a sentence saying what was expected.
    """
    if not isinstance(text, str):
        raise CaptureError(f'agent size must be a string such as "1366x768", got {text!r}')
    if text.strip().lower() == "native":
        return "native"
    m = _SIZE_RE.fullmatch(text)
    if m is None:
        raise CaptureError(
            f'agent size {text!r} is not WIDTHxHEIGHT (for example "1366x768") or "native"',
            value=text,
        )
    w, h = int(m.group(1)), int(m.group(2))
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        raise CaptureError(
            f"agent size {text!r} must be between 1 and {MAX_SIDE} pixels a side", value=text
        )
    return (w, h)


def agent_size_for(width: int, height: int, spec: str | AgentSize | None = None) -> AgentSize:
    """The agent size for a ``width x height`` screen under a configured ``spec``.

    ``None``: :func:`choose_agent_size` with the default choices. ``"native"``: the screen
    size. ``"WxH"`` or ``(w, h)``: that size is the only choice, so an exact aspect match
    is used as is, and otherwise the screen is fitted inside it, aspect kept, never
    scaled up (the agent never sees a stretched screen).
    """
    if spec is None:
        return choose_agent_size(width, height)
    parsed = parse_agent_size(spec) if isinstance(spec, str) else spec
    if isinstance(parsed, str):  # "native"
        return choose_agent_size(width, height, native=True)
    return choose_agent_size(width, height, (parsed,))
