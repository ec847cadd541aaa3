"""What the dialect routes answer besides the vendor's body: options, envelope, errors.

By default a dialect route's body is exactly what the vendor's API takes back (an
Anthropic ``tool_result``, an OpenAI ``computer_call_output``), so an agent passes it on
unchanged. driverseat's own record of what happened comes in response headers
(:data:`STATUS_HEADER`, :data:`IDS_HEADER`) and, on request (``?envelope=1`` or the
request header ``Driverseat-Envelope: 1``), in the body's ``driverseat`` key, with
driverseat's ``error``/``details`` on a refusal: the shape these routes had before.
Refusals are said in each vendor's own error form (docs/dialects.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from daemon.adapters import anthropic
from daemon.outcomes import Outcome

__all__ = [
    "DEFAULT_SETTLE_MS", "ENVELOPE_HEADER", "ENVELOPE_QUERY", "IDS_HEADER", "MAX_SETTLE_MS",
    "STATUS_HEADER", "DialectOptions", "anthropic_error", "openai_error", "outcome_headers",
    "wants_envelope",
]  # fmt: skip

ENVELOPE_QUERY = "envelope"
ENVELOPE_HEADER = "Driverseat-Envelope"
STATUS_HEADER = "Driverseat-Status"  # executed, interrupted, corrected, denied, ...
IDS_HEADER = "Driverseat-Action-Ids"  # comma-separated: GET /v1/actions/{id} for each
DEFAULT_SETTLE_MS = 500
MAX_SETTLE_MS = 10_000
_YES = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True)
class DialectOptions:
    """How the dialect routes follow the vendors' reference tools.

    ``screenshot_after``: an Anthropic result carries a fresh screenshot after every
    action the reference tool answers with one (:data:`anthropic.SHOT_AFTER`);
    ``settle_ms``: how long to let the screen settle before that screenshot, and before
    an OpenAI call's (the reference tool waits 2 s, its sample harness for OpenAI not
    at all).
    """

    screenshot_after: bool = True
    settle_ms: int = DEFAULT_SETTLE_MS

    def __post_init__(self) -> None:
        if not 0 <= self.settle_ms <= MAX_SETTLE_MS:
            raise ValueError(f"settle_ms must be 0 to {MAX_SETTLE_MS}, got {self.settle_ms}")


def wants_envelope(request: Request) -> bool:
    """The caller asked for driverseat's own fields in the body."""
    asked = request.query_params.get(ENVELOPE_QUERY) or request.headers.get(ENVELOPE_HEADER) or ""
    return asked.strip().lower() in _YES


def outcome_headers(outcomes: Iterable[Outcome], status: str) -> dict[str, str]:
    """The response headers that say what became of the actions (ASCII: ids and a status)."""
    return {STATUS_HEADER: status, IDS_HEADER: ",".join(o.id for o in outcomes)}


def _tool_use_id(request: Request, body: Any) -> str | None:
    if isinstance(body, dict) and body.get("type") == "tool_use" and isinstance(body.get("id"), str):
        return str(body["id"])
    found = getattr(request.state, "tool_use_id", None)
    return found if isinstance(found, str) else None


def _driverseat_fields(message: str, details: Any) -> dict[str, Any]:
    return {"error": message, **({"details": details} if details is not None else {})}


def anthropic_error(request: Request, status: int, message: str, details: Any, body: Any) -> dict[str, Any]:
    """A refusal as the reference tool answers a ``ToolError``: a ``tool_result`` with
    ``is_error`` (with ``type`` and ``tool_use_id`` when a ``tool_use`` block was posted)."""
    result = anthropic.error_result(message, _tool_use_id(request, body))
    return {**result, **_driverseat_fields(message, details)} if wants_envelope(request) else result


# OpenAI's error object types, by HTTP status (https://platform.openai.com/docs/guides/error-codes)
_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                 409: "invalid_request_error", 503: "server_error"}  # fmt: skip


def openai_error(request: Request, status: int, message: str, details: Any, body: Any) -> dict[str, Any]:
    """A refusal in the Responses API's own error form, ``{"error": {"message", "type",
    "param", "code"}}``; with the envelope, driverseat's flat ``error`` sentence instead."""
    if wants_envelope(request):
        return _driverseat_fields(message, details)
    param = None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        loc = details[0].get("loc")
        param = loc if isinstance(loc, str) and loc else None
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}
