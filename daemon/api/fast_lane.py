"""The calls an agent makes at every step, answered beside the framework's machinery.

A ``move`` through FastAPI passed seven middleware layers, a router that matches the path
against every route, dependency solving and a send wrapper per layer: about as much of
the daemon's time as the move itself (issue 12; docs/hardening.md). An agent's plain
calls (``GET /v1/state``, ``POST /v1/actions`` and the two dialect routes) are well-formed
nearly always, so they take a lane of their own: the same checks as the request guard
and the bearer check, the same body validation, then the route's own endpoint function
and exception handlers, called directly.

Anything the lane does not take as it is goes to the full app, unchanged (the body the
lane read is replayed): another token (a reviewer's), a query string other than a
dialect's ``?envelope=``, a body too large, not ASCII, deeply bracketed, not JSON or not
valid. So every
refusal and every error body is the framework's, written once, and the lane can only
ever answer what the app would have answered: tests/daemon/test_fast_lane.py sends the
same requests both ways and compares.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from daemon.actions import ACTION_ADAPTER
from daemon.api.bodies import AnthropicBody, ComputerCall
from daemon.api.dialect_shapes import ENVELOPE_HEADER, ENVELOPE_QUERY
from daemon.api.http import MAX_BODY, could_be_too_deep, is_address
from daemon.api.one_write import FLUSH
from daemon.api.routes_dialects import ANTHROPIC, OPENAI
from daemon.auth import bearer, token_matches

__all__ = ["HOT", "FastLane"]

Endpoint = Callable[..., Awaitable[Any]]

HOT: dict[tuple[str, str], tuple[TypeAdapter[Any] | None, bool]] = {
    ("GET", "/v1/state"): (None, False),
    ("POST", "/v1/actions"): (ACTION_ADAPTER, False),
    ("POST", ANTHROPIC): (TypeAdapter(AnthropicBody), True),
    ("POST", OPENAI): (TypeAdapter(ComputerCall), True),
}
"""(method, path) -> the body's type as the route declares it (None: no body), and whether
the route takes the envelope's query parameter and header (the dialects')."""

_ENVELOPE = ENVELOPE_HEADER.lower().encode("latin-1")
_ENVELOPE_QUERY = ENVELOPE_QUERY.encode("ascii")
_FLAG: TypeAdapter[bool] = TypeAdapter(bool)  # as FastAPI reads a bool parameter


class FastLane:
    """Answers the hot calls of ``app`` that need nothing but their endpoint (found among
    ``routers``' routes, as ``app`` serves them).

    ``await lane(scope, receive, send)`` returns None when it answered, else the receive
    callable the full app must be called with (the body it read, replayed)."""

    def __init__(
        self, app: FastAPI, token: str, routers: Iterable[APIRouter], max_body: int = MAX_BODY
    ) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body
        self.taken = 0  # requests answered here (for tests and curiosity)
        self.endpoints: dict[tuple[str, str], tuple[Endpoint, TypeAdapter[Any] | None, bool]] = {}
        for route in (r for router in routers for r in router.routes):
            if isinstance(route, APIRoute):
                for method in route.methods or ():
                    if (method, route.path) in HOT:
                        self.endpoints[method, route.path] = (route.endpoint, *HOT[method, route.path])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        if scope["type"] != "http":
            return receive
        found = self.endpoints.get((scope["method"], scope["path"]))
        if found is None:
            return receive
        endpoint, body_type, enveloped = found
        headers = dict(scope["headers"])
        host = headers.get(b"host")
        auth = headers.get(b"authorization")
        if (
            host is None
            or len(headers) != len(scope["headers"])  # a header twice: the guard's to judge
            or auth is None
            or not is_address(host.decode("latin-1"))
            or not token_matches(bearer(auth.decode("latin-1")), self.token)
        ):
            return receive
        flags = _envelope(scope["query_string"], headers.get(_ENVELOPE)) if enveloped else ()
        if flags is None or (scope["query_string"] and not enveloped):
            return receive  # a parameter the framework must read (or refuse)
        if body_type is None:
            await self._answer(scope, receive, send, endpoint, None, ())
            return None
        declared = headers.get(b"content-length")
        if declared is None or not declared.isdigit() or int(declared) > self.max_body:
            return receive  # chunked or too large: the guard's to read (or refuse)
        body, receive = await _read(receive)
        if body is None or not body.isascii() or could_be_too_deep(body):
            return receive
        try:
            value = body_type.validate_python(json.loads(body))
        except (ValueError, ValidationError):  # ValidationError is a ValueError; both said
            return receive  # the framework says what is wrong, in the route's own form
        await self._answer(scope, receive, send, endpoint, value, flags)
        return None

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint, body: Any, flags: tuple[bool, ...]
    ) -> None:
        scope["app"] = self.app  # what the framework would have set for the endpoint
        request = Request(scope, receive)
        self.taken += 1
        try:
            response = await (endpoint() if body is None else endpoint(body, request, *flags))
        except Exception as exc:  # answered by the app's own handler, or raised as it would be
            handler = self._handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        if not isinstance(response, Response):
            raise TypeError(f"a fast-lane endpoint must answer a Response, not {type(response).__name__}")
        await response(scope, receive, send)
        flush = scope.get(FLUSH)
        if flush is not None:  # the answer is whole: out now, not at the end of the loop's turn
            flush()

    def _handler_for(self, exc: Exception) -> Callable[[Request, Exception], Awaitable[Response]] | None:
        # as Starlette looks one up: the nearest class in the exception's MRO
        for cls in type(exc).__mro__:
            handler = self.app.exception_handlers.get(cls)
            if handler is not None:
                return handler  # type: ignore[return-value]
        return None


def _envelope(query: bytes, header: bytes | None) -> tuple[bool, bool] | None:
    """A dialect route's ``?envelope=`` and envelope header as FastAPI reads them; None for
    anything else in the query, or a value that is not a bool (the framework's 422)."""
    envelope = asked = False
    try:
        if query:
            name, eq, value = query.partition(b"=")
            if name != _ENVELOPE_QUERY or not eq or b"&" in value or b"%" in value or b"+" in value:
                return None
            envelope = _FLAG.validate_python(value.decode("ascii"))
        if header is not None:
            asked = _FLAG.validate_python(header.decode("latin-1"))
    except (ValidationError, UnicodeDecodeError):
        return None
    return envelope, asked


async def _read(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body (None if the client left first), and a receive that replays it."""
    chunks: list[bytes] = []
    more = True
    gone: Message | None = None
    while more:
        message = await receive()
        if message["type"] != "http.request":
            gone = message
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:  # a client that left midway: what it sent, then its leaving
            replayed = True
            return {"type": "http.request", "body": body, "more_body": gone is not None}
        return gone if gone is not None else await receive()  # a disconnect, for whoever waits on one

    return (None if gone is not None else body), replay
