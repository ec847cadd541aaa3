"""The HTTP/WebSocket API around one :class:`~daemon.service.Daemon`.

``create_app(daemon, token)`` builds the FastAPI app; ``make_server`` serves it with
uvicorn. The app does not own the daemon's runtime or store: whoever made them closes
them. Every route except ``/healthz``, ``/openapi.json`` and ``/docs`` needs ``Authorization:
Bearer <token>``; the event stream also takes ``?token=`` because browsers cannot set
headers on a WebSocket. A reviewer's own token opens the review routes only. Errors become HTTP in :mod:`daemon.api.http` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import signal
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Receive, Scope, Send

from daemon.api import (
    docs,
    redact,
    routes_actions,
    routes_attention,
    routes_dialects,
    routes_questions,
    routes_reviews,
    routes_shadow,
    routes_view,
)
from daemon.api.dialect_shapes import DialectOptions
from daemon.api.docs import DOCS_PATH
from daemon.api.fast_lane import FastLane
from daemon.api.http import error_response, install_http, refuse
from daemon.api.one_write import OneWriteHttpToolsProtocol
from daemon.api.routes_actions import WS_CLOSE_UNAUTHORIZED
from daemon.api.routes_reviews import REVIEW_PREFIX, REVIEWER_KEY
from daemon.api.routes_view import LiveView, is_view_path
from daemon.api.websocket import ResettableWebSocketProtocol
from daemon.auth import bearer, token_matches
from daemon.reviewers import Reviewers
from daemon.service import VERSION, Daemon

__all__ = ["VERSION", "WS_CLOSE_UNAUTHORIZED", "create_app", "make_server"]

PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json", DOCS_PATH})  # documentation is not control


class _BearerAuth:
    """Pure ASGI middleware: checks the token before any routing or body parsing.

    The daemon's token opens every route. A reviewer's token (``driverseat reviewer add``)
    opens the review routes only, and the request carries its reviewer in the scope
    (:data:`REVIEWER_KEY`) so a decision is attributed to it.
    """

    def __init__(
        self, app: ASGIApp, token: str, reviewers: Reviewers | None = None, view: bool = False
    ) -> None:
        self.app = app
        self.token = token
        self.reviewers = reviewers
        self.view = view  # the live view checks the token itself: a browser sends it in the URL

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if scope["type"] == "http" and path not in PUBLIC_PATHS and not (self.view and is_view_path(path)):
            header = dict(scope.get("headers") or ()).get(b"authorization")
            given = bearer(header.decode("latin-1") if header else None)
            if not token_matches(given, self.token):
                who = None
                if self.reviewers is not None and given is not None:
                    who = await asyncio.to_thread(self.reviewers.by_token, given)
                if who is None:
                    why = "missing bearer token" if given is None else "wrong bearer token"
                    msg = f"{why}: send 'Authorization: Bearer <token>' (`driverseat token` prints it)"
                    await error_response(401, msg)(scope, receive, send)
                    return
                if not _is_review_path(scope["path"]):
                    msg = (
                        f"a reviewer token (reviewer {who.name!r}) is accepted on {REVIEW_PREFIX} "
                        "only; driving the desktop takes the daemon's token"
                    )
                    await error_response(403, msg)(scope, receive, send)
                    return
                scope = {**scope, REVIEWER_KEY: who}
        await self.app(scope, receive, send)


# FastAPI's OpenTelemetry hooks ask for providers on every request (~5% of a request's
# time) and would record validation failures' messages: nothing here is exported anyway
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    if "telemetry" in inspect.signature(FastAPI).parameters
    else {}
)


class _App(FastAPI):
    """FastAPI, with the agent's hot calls answered first by the fast lane (when on)."""

    lane: FastLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lane is not None:
            rest = await self.lane(scope, receive, send)
            if rest is None:
                return
            receive = rest
        await super().__call__(scope, receive, send)


def _is_review_path(path: str) -> bool:
    return path in (REVIEW_PREFIX, routes_attention.ATTENTION_PATH) or path.startswith(REVIEW_PREFIX + "/")


def create_app(
    daemon: Daemon,
    token: str,
    dialects: DialectOptions | None = None,
    view: LiveView | None = None,
    *,
    fast_lane: bool = True,
) -> FastAPI:
    """The daemon's API; the review routes are served when reviews are on, and the live
    view (``/view``) when ``view`` says where its VNC server listens. ``dialects``: how
    the vendor dialects follow the reference tools (screenshot after, settle).
    ``fast_lane``: the agent's plain calls skip the framework's stack
    (:mod:`daemon.api.fast_lane`; off only to compare the two)."""
    if not token:
        raise ValueError("refusing to serve without a token")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await daemon.start()
        try:
            yield
        finally:
            await daemon.close()

    app = _App(
        title="driverseat",
        version=VERSION,
        summary="Executes a computer-use agent's actions; yields at once to the person.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN; daemon.api.docs serves a page of our own
        redoc_url=None,
        **_NO_TELEMETRY,
    )
    app.state.daemon = daemon
    reviewers = Reviewers(daemon.store) if daemon.reviews is not None else None
    app.add_middleware(_BearerAuth, token=token, reviewers=reviewers, view=view is not None)
    install_http(app, {**routes_dialects.SHAPES, **routes_questions.SHAPES})
    hot = [routes_actions.router(daemon, token), routes_dialects.router(daemon, dialects)]
    for r in hot:
        app.include_router(r)
    if daemon.reviews is not None:
        app.include_router(routes_reviews.router(daemon.reviews, daemon.element_under))
        app.include_router(routes_attention.router(daemon.reviews))
    app.include_router(routes_shadow.router(daemon))
    app.include_router(routes_questions.router(daemon))  # 403 without a desk (--policy off)
    app.include_router(docs.router(app))
    if view is not None:
        app.include_router(routes_view.router(view, token, VERSION))
    else:
        app.include_router(routes_view.off_router())
    app.router.default = _no_websocket_here(app.router.default, view is not None)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    if fast_lane:
        app.lane = FastLane(app, token, hot)
    return app


def _no_websocket_here(default: ASGIApp, view: bool) -> ASGIApp:
    """A WebSocket upgrade to a path with no WebSocket: 404 with a sentence that names the
    streams there are (Starlette closes it, and the client sees a bare 403)."""
    streams = "/v1/events" + (" and /view/websocket" if view else "")

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await default(scope, receive, send)
            return
        msg = f"no WebSocket at {scope['path'][:200]!r}: the daemon's streams are {streams}"
        if scope["path"] == routes_view.VIEW_PATH + "/websocket":
            msg = routes_view.VIEW_OFF
        await refuse(scope, receive, send, 404, msg)

    return not_found


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document from the typed routes, plus the bearer scheme and its 401."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    doc.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    unauthorized = {
        "description": "missing or wrong bearer token",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for path, item in doc.get("paths", {}).items():
        for op in item.values():
            if path not in PUBLIC_PATHS:
                op["security"] = [{"bearer": []}]
                op.setdefault("responses", {})["401"] = unauthorized
    app.openapi_schema = doc
    return doc


def make_server(app: FastAPI, *, before_shutdown: Callable[[], None]) -> uvicorn.Server:
    """uvicorn's Server for ``app``, with our signal handling and shutdown order.

    SIGINT/SIGTERM shut down gracefully (a second SIGINT forces) and, unlike uvicorn,
    are not re-raised afterwards: a requested shutdown exits 0. Requests waiting for a
    person are answered first (their reviews stay pending), then ``before_shutdown``
    (halting the executor) runs before uvicorn waits for open requests, which an action
    in flight (up to a minute long) would otherwise hold open.
    """

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            daemon = getattr(app.state, "daemon", None)
            if isinstance(daemon, Daemon):
                # first no new connection, and each HTTP connection's answer in flight its
                # last: a client re-polling a wait answered now would be answered at once,
                # again and again, until uvicorn did this below
                for server in self.servers:
                    server.close()
                for connection in list(self.server_state.connections):
                    if isinstance(connection, OneWriteHttpToolsProtocol):
                        connection.shutdown()
                daemon.abort_waiting()
            await asyncio.to_thread(before_shutdown)
            await super().shutdown(sockets)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield  # only the main thread may set signal handlers (tests serve from threads)
                return
            sigs = (signal.SIGINT, signal.SIGTERM)
            previous = {s: signal.signal(s, self.handle_exit) for s in sigs}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    redact.install()  # no token in uvicorn's lines, at any log level
    config = uvicorn.Config(
        app,
        log_level="warning",
        ws=ResettableWebSocketProtocol,  # websockets-sansio that can reset a stalled client
        lifespan="on",
        timeout_graceful_shutdown=10,
        # speed (docs/hardening.md): httptools parses HTTP in C (h11 costs ~0.1 ms a
        # request) and a response leaves in one write; uvloop where it exists; no proxy
        # in front of us, so no X-Forwarded-* to read
        http=OneWriteHttpToolsProtocol,
        loop="auto",
        proxy_headers=False,
    )
    return Server(config)
