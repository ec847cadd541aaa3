"""Validation errors as one sentence a person (or an agent) can act on.

pydantic's errors, and FastAPI's request errors built from them, become
``"click.y: Input should be a finite number"`` and a list of details, for every route,
dialect and the review queue alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from daemon.actions import ACTION_KINDS

__all__ = ["describe_errors", "describe_validation_error"]

_MAX_SHOWN = 5


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _message(err: Any) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "union_tag_invalid":
        return f"unknown action {ctx.get('tag')!r}; expected one of: {', '.join(ACTION_KINDS)}"
    if kind == "union_tag_not_found":
        return f'missing "action"; expected one of: {", ".join(ACTION_KINDS)}'
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind in ("model_attributes_type", "dict_type", "model_type") and tuple(err.get("loc", ())) in ((), ("body",)):
        return "expected a JSON object"
    msg = str(err.get("msg", "invalid"))
    # pydantic prefixes our validators' messages; the field name already says where
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


def describe_validation_error(exc: ValidationError) -> tuple[str, list[dict[str, str]]]:
    """A one-line summary (``"click.y: Input should be a finite number"``) and the details."""
    return describe_errors(exc.errors(include_url=False))


def describe_errors(errors: Sequence[Any]) -> tuple[str, list[dict[str, str]]]:
    """pydantic's (or FastAPI's request) errors as one line and a list of details.

    A request's errors are located in ``body``/``query``/``path``: the prefix is dropped
    (``click.y``, not ``body.click.y``); an empty or unparsable body gets its own sentence.
    The details drop pydantic's ``input`` echo: it may hold NaN (not JSON) or a
    10 000-character text the client already has.
    """
    details: list[dict[str, str]] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        kind = str(err.get("type", ""))
        if loc[:1] in (("body",), ("query",), ("path",)):
            where_from, loc = loc[0], loc[1:]
            if kind == "json_invalid":
                why = (err.get("ctx") or {}).get("error", "")
                return f"the request body is not valid JSON: {why}".rstrip(": "), [
                    {"loc": "body", "msg": "not valid JSON", "type": kind}
                ]
            if kind == "missing" and where_from == "body" and not loc:
                return "the request body is empty; send a JSON object", [
                    {"loc": "body", "msg": "required", "type": kind}
                ]
        # a failed discriminator has no field location: it is about "action"
        where = _loc(loc) or ("action" if kind.startswith("union_tag") else "body")
        details.append({"loc": where, "msg": _message(err), "type": kind})
    shown = "; ".join(f"{d['loc']}: {d['msg']}" for d in details[:_MAX_SHOWN])
    if len(details) > _MAX_SHOWN:
        shown += f"; and {len(details) - _MAX_SHOWN} more"
    return shown or "invalid action", details
