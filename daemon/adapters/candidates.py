"""Alternatives in a dialect's own shape -> the canonical action's ``alternatives``.

The Anthropic and OpenAI routes take an optional ``driverseat`` object beside the tool's
own fields (the same key their answers carry driverseat's record under)::

    {"action": "left_click", "coordinate": [400, 300],
     "driverseat": {"alternatives": [
         {"action": "left_click", "coordinate": [640, 300], "confidence": 0.3,
          "reason": "the other Send button"}]}}

Each alternative is one action in the dialect's own shape (an Anthropic tool ``input``,
an OpenAI action ``{"type": ...}``) plus its ``confidence`` and ``reason``; it is
translated by the dialect's own adapter, so it is checked like the main action, with
the error naming ``driverseat.alternatives[i]``. Pure functions: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from daemon.actions import MAX_ALTERNATIVES, Action, parse_action
from daemon.errors import ActionError
from daemon.validation import describe_validation_error

__all__ = ["AGENT_WORDS", "attach"]

AGENT_WORDS = ("confidence", "reason")  # what an alternative carries besides the dialect's fields


def attach(
    action: Action, alternatives: Sequence[Any], translate: Callable[[dict[str, Any]], Action]
) -> Action:
    """``action`` carrying ``alternatives``, each translated by ``translate(fields)`` (the
    dialect's adapter); ActionError (a 422, nothing run) for any that does not fit."""
    if not alternatives:
        return action
    if len(alternatives) > MAX_ALTERNATIVES:
        raise ActionError(
            f"driverseat.alternatives: at most {MAX_ALTERNATIVES} alternatives, got {len(alternatives)}"
        )
    canonical: list[dict[str, Any]] = []
    for i, alt in enumerate(alternatives):
        where = f"driverseat.alternatives[{i}]"
        if not isinstance(alt, dict):
            raise ActionError(f"{where} must be a JSON object, got {type(alt).__name__}")
        own = {k: v for k, v in alt.items() if k not in AGENT_WORDS}
        words = {k: alt[k] for k in AGENT_WORDS if alt.get(k) is not None}
        try:
            translated = translate(own)
        except ActionError as exc:
            raise ActionError(f"{where}: {exc}", **exc.details) from None
        canonical.append({**translated.model_dump(mode="json"), **words})
    try:
        return parse_action({**action.model_dump(mode="json"), "alternatives": canonical})
    except ValidationError as exc:
        message, _ = describe_validation_error(exc)
        raise ActionError(f"driverseat.alternatives: {message}") from None
