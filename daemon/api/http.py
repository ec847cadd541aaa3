"""Small HTTP helpers shared by the routes: JSON bodies in, readable errors out."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from daemon.errors import ActionError


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise ActionError("the request body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ActionError(f"the request body is not valid JSON: {exc}") from None


def jsonable(value: Any) -> Any:
    """Error details as strict JSON can carry them: no NaN or infinity, no exceptions."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
