"""Errors become HTTP here, and only here: one handler per error kind for every route.

Every body this API takes is JSON, whatever its Content-Type says (``curl -d`` sends
form encoding, and FastAPI would not even try to parse that): :class:`JsonBodies`.

Every error answer is ``{"error": "one readable sentence", "details": ...}`` with a 4xx
status (a 5xx is a bug); a dialect may add its own fields (Anthropic's tool_result
``content``/``is_error``) through the shape it registers for its path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from daemon.errors import ActionError, AuthError, DaemonError, Unavailable
from daemon.review.queue import ReviewError
from daemon.validation import describe_errors

__all__ = ["DialectShape", "JsonBodies", "error_response", "install_http", "jsonable"]

DialectShape = Callable[[Request, str, Any], dict[str, Any]]
"""(request, message, raw body or None) -> extra fields of that dialect's error body."""


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


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


class JsonBodies:
    """Pure ASGI middleware: every request body is read as JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope.get("headers") or []
            ctype = next((v for k, v in headers if k == b"content-type"), b"")
            if ctype.split(b";")[0].strip().lower() != b"application/json":
                kept = [(k, v) for k, v in headers if k != b"content-type"]
                scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


def install_http(app: FastAPI, shapes: dict[str, DialectShape] | None = None) -> None:
    """JSON bodies and the error handlers; ``shapes`` maps a path to its dialect's extra
    error fields."""
    app.add_middleware(JsonBodies)
    dialects = dict(shapes or {})

    def answer(request: Request, status: int, message: str, details: Any = None, body: Any = None) -> JSONResponse:
        shape = dialects.get(request.url.path)
        extra = shape(request, message, body) if shape is not None else {}
        if details is not None:
            extra["details"] = jsonable(details)
        return error_response(status, message, **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = describe_errors(exc.errors())
        return answer(request, 422, message, details, exc.body)

    @app.exception_handler(ActionError)
    async def _action_error(request: Request, exc: ActionError) -> JSONResponse:
        return answer(request, 422, str(exc), exc.details or None)

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> JSONResponse:
        return error_response(401, str(exc))

    @app.exception_handler(ReviewError)
    async def _review_error(request: Request, exc: ReviewError) -> JSONResponse:
        return answer(request, exc.status, str(exc), exc.details or None)

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return answer(request, 503, str(exc), exc.details or None)

    @app.exception_handler(DaemonError)
    async def _daemon_error(request: Request, exc: DaemonError) -> JSONResponse:
        return answer(request, 500, str(exc), exc.details or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return answer(request, exc.status_code, str(exc.detail))
