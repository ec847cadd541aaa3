"""JSON text that came from outside, parsed so that a hostile one is refused, never a crash.

``json.loads`` fails in two ways that are not a :class:`json.JSONDecodeError`: text nested
deeper than the interpreter's stack (``[`` * 5000) raises :class:`RecursionError`, which
a ``except ValueError`` lets through to kill a proxy or answer 500; and ``NaN``,
``Infinity`` and ``-Infinity`` are taken although they are not JSON (RFC 8259) and no JSON
encoder can write them back. :func:`parse` raises :class:`NotJSON` (a ValueError, with a
sentence) for both, and a JSONDecodeError (or a UnicodeDecodeError for bytes that are not
UTF-8) for the rest, as ``json.loads`` does.

A number too large for a float (``1e400``) is JSON, and parses as ``inf``: where that
matters, :func:`unfit` finds it (and anything nested deeper than a caller wants) in what
was parsed, without recursion.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["NotJSON", "parse", "unfit"]


class NotJSON(ValueError):
    """Text ``json.loads`` cannot or should not take: too deep, or NaN/Infinity."""


def _constant(name: str) -> Any:
    raise NotJSON(f"{name} is not JSON (JSON has no NaN or Infinity)")


_DECODER = json.JSONDecoder(parse_constant=_constant)


def parse(text: str | bytes | bytearray) -> Any:
    """``json.loads(text)``, refusing NaN/Infinity and nesting too deep with :class:`NotJSON`."""
    if not isinstance(text, str):
        text = text.decode(json.detect_encoding(text), "surrogatepass")  # as json.loads does
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise NotJSON("the JSON is nested too deeply to parse") from None


def unfit(value: Any, max_depth: int) -> str | None:
    """Where ``value`` (as parsed from JSON) holds a number out of a float's range (or
    NaN), or nests more than ``max_depth`` arrays and objects: a sentence naming the place,
    quoted (``'options[0].point[1]' is a number ...``; for nesting, the outermost key:
    ``'text' is nested ...``); None if nowhere."""
    todo: list[tuple[Any, str, str, int]] = [(value, "", "", 0)]
    while todo:
        v, at, top, depth = todo.pop()
        if isinstance(v, float):
            if not math.isfinite(v):
                return f"{at and repr(at) or 'the value'} is a number out of range (a double's: up to 1.8e308)"
        elif isinstance(v, (dict, list)):
            if depth >= max_depth:
                return f"{top and repr(top) or 'the value'} is nested too deeply (more than {max_depth} levels)"
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, x in items:
                place = f"{at}[{k}]" if isinstance(k, int) else (f"{at}.{k}" if at else str(k))
                todo.append((x, place if depth < 8 else at, top or place, depth + 1))
    return None
