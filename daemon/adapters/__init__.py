"""Agent dialects <-> canonical actions (pure functions: no I/O, no clock).

Each dialect lives in its own module of pure functions (``anthropic``: Anthropic's
computer tool). They raise :class:`~daemon.errors.ActionError` with a sentence an agent
(or its developer) can act on; the server turns that into a 422.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from daemon.errors import ActionError
from daemon.validation import describe_validation_error

__all__ = ["in_dialect", "translated"]

T = TypeVar("T")

def in_dialect(exc: ValidationError, where: str, field_names: dict[str, str], fallback: str) -> ActionError:
    """A canonical model's complaint, said in the dialect's own field names: the ones the
    agent knows (``keys`` -> ``text``, ``path[1]`` -> ``coordinate``)."""
    message, details = describe_validation_error(exc)

    def field(loc: str) -> str:
        name = loc.split(".")[-1].split("[")[0] or fallback
        return field_names.get(name, name)

    sentence = "; ".join(f"{field(d['loc'])}: {d['msg']}" for d in details) or message
    return ActionError(f"{where}: {sentence}", details=details)


def translated(
    where: str,
    given: Mapping[str, Any],
    allowed: frozenset[str],
    translate: Callable[[], T],
    field_names: dict[str, str],
    fallback: str,
) -> T:
    """``translate()``, after refusing the fields ``given`` that this action does not take;
    the canonical models' complaints said in the dialect's field names."""
    extra = sorted(k for k, v in given.items() if v is not None and k not in allowed)
    if extra:
        raise ActionError(f"{where} does not take {', '.join(extra)}")
    try:
        return translate()
    except ValidationError as exc:
        raise in_dialect(exc, where, field_names, fallback) from None
