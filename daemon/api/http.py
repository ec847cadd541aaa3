"""Errors become HTTP here, and only here: one handler per error kind for every route.

What reaches a route has passed :class:`RequestGuard`: addressed to the daemon by IP
address (no DNS rebinding), at most 1 MiB, JSON.

Every error answer is ``{"error": "one readable sentence", "details": ...}`` with a 4xx
status (a 5xx is a bug), except on a dialect's path, whose registered shape says the
same sentence in the vendor's own error form (Anthropic: a ``tool_result`` with
``is_error``; OpenAI: its ``{"error": {"message", "type", ...}}``); see
daemon/api/dialect_shapes.py.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daemon.ask.errors import QuestionError
from daemon.errors import ActionError, AuthError, DaemonError, Unavailable
from daemon.review.queue import ReviewError
from daemon.validation import describe_errors

__all__ = [
    "DialectShape", "RequestGuard", "could_be_too_deep", "error_response", "install_http", "is_address", "jsonable",
]  # fmt: skip

DialectShape = Callable[[Request, int, str, Any, Any], dict[str, Any]]
"""(request, status, message, details or None, raw body or None) -> that dialect's error body."""


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    """Answer ``status`` with ``{"error": message}``: on a WebSocket upgrade too, before it is
    accepted, where the server offers ASGI's denial response (uvicorn does); else the
    upgrade is closed with ``4000 + status`` (a bare 403 to the client)."""
    if scope["type"] == "websocket" and "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 4000 + status, "reason": message[:120]})
        return
    await error_response(status, message)(scope, receive, send)


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


MAX_BODY = 1 << 20  # 1 MiB: 10,000 characters of text escaped, with room to spare
_LOCAL_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


@functools.lru_cache(maxsize=64)  # a few names, asked on every request; bounded for junk
def is_address(host: str) -> bool:
    """An IP literal or localhost: a name a DNS-rebinding page cannot make its own."""
    name = host.strip()
    if name.startswith("["):  # [::1]:8765
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    if name.lower() in _LOCAL_NAMES:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


_DEEP = 500
"""Brackets a body may hold before it is parsed here for its depth: the parsers' recursion
limit is about 1,000 levels, and a body with fewer brackets than that cannot be deeper."""


def could_be_too_deep(body: bytes | bytearray) -> bool:
    # two C-speed counts instead of a second parse of every body (FastAPI parses it again)
    return body.count(b"[") + body.count(b"{") > _DEEP


def _origin_host(origin: str) -> str:
    return origin.split("://", 1)[-1].split("/", 1)[0]


class RequestGuard:
    """Pure ASGI middleware in front of everything, auth included:

    - ``Host`` must name the daemon by address (an IP literal or localhost), once, and a
      WebSocket's ``Origin``, when a browser sends one, too: a web page the person visits
      can reach 127.0.0.1, but only under its own domain name (DNS rebinding);
    - a body larger than :data:`MAX_BODY` is refused (413) before it is read whole;
    - every body is read as JSON whatever its Content-Type says (``curl -d`` sends form
      encoding, and FastAPI would not even try to parse that); JSON nested too deeply to
      parse is refused (422) instead of failing deep inside the parser, and so is a body
      that is not UTF-8 (422 with the offending byte, where FastAPI would say 400).
    """

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = scope.get("headers") or ()
        headers = dict(raw)
        if sum(1 for name, _ in raw if name in (b"host", b"origin")) > (b"host" in headers) + (b"origin" in headers):
            # which one would a proxy or a browser have meant? RFC 9112 3.2: refuse
            msg = "refused: this request has more than one Host (or Origin) header; send one"
            await refuse(scope, receive, send, 400, msg)
            return
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin", b"").decode("latin-1")
        foreign = (host and not is_address(host)) or (
            scope["type"] == "websocket" and origin and not is_address(_origin_host(origin))
        )
        if foreign:
            why = (f"names the daemon as {host!r}" if host and not is_address(host)
                   else f"comes from a page at {origin!r}")  # fmt: skip
            msg = (
                f"refused: this request {why}; driverseat answers only requests addressed "
                "to its IP address or localhost (a web page cannot drive this desktop)"
            )
            await refuse(scope, receive, send, 403, msg)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left: let the app see it
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await self._too_large(scope, receive, send)
                return
        if not body.isascii():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                # FastAPI would answer 400 "There was an error parsing the body"
                await error_response(
                    422,
                    f"the request body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset "
                    f"{exc.start}); send JSON encoded as UTF-8",
                )(scope, receive, send)
                return
        if could_be_too_deep(body):
            try:
                json.loads(body)
            except RecursionError:
                await error_response(422, "the request body is nested too deeply to be an action")(
                    scope, receive, send
                )
                return
            except ValueError:
                pass  # FastAPI says what is wrong with it
        kept = [(k, v) for k, v in scope.get("headers") or () if k != b"content-type"]
        scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # a disconnect, for whoever waits on one

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(
            413, f"the request body is larger than {self.max_body} bytes; nothing was read or run"
        )(scope, receive, send)


def install_http(app: FastAPI, shapes: dict[str, DialectShape] | None = None) -> None:
    """The request guard and the error handlers; ``shapes`` maps a path to its dialect's
    error body."""
    app.add_middleware(RequestGuard)
    dialects = dict(shapes or {})

    def answer(request: Request, status: int, message: str, details: Any = None, body: Any = None) -> JSONResponse:
        shape = dialects.get(request.url.path)
        if shape is not None:
            return JSONResponse(jsonable(shape(request, status, message, details, body)), status_code=status)
        extra = {"details": jsonable(details)} if details is not None else {}
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

    @app.exception_handler(QuestionError)
    async def _question_error(request: Request, exc: QuestionError) -> JSONResponse:
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
