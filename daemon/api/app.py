"""The HTTP/WebSocket API: the one place where errors become HTTP.

``create_app(runtime, store, token)`` builds the FastAPI app; the CLI serves it with
uvicorn. The app does not own the runtime or the store: whoever made them closes them.
Every route except ``/healthz`` needs ``Authorization: Bearer <token>``; the event
stream also takes ``?token=`` because browsers cannot set headers on a WebSocket.

Threads: control events arrive from the observer and resume threads; they are handed
to the event loop with ``call_soon_threadsafe`` and fanned out to per-client bounded
queues. A client that falls behind is dropped, never buffered without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from importlib import metadata
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from daemon.api import openapi, routes_dialects, routes_reviews
from daemon.actions import Action, Outcome, parse_action
from daemon.adapters import describe_validation_error
from daemon.auth import bearer, token_matches
from daemon.errors import ActionError, AuthError, DaemonError
from daemon.review.gate import Admitted, Gate
from daemon.api.http import error_response, json_body, jsonable
from daemon.review.queue import ReviewError
from daemon.control.clearance import not_clear
from daemon.control.runtime import Runtime
from daemon.store import Store, outcome_for_storage

__all__ = ["VERSION", "WS_CLOSE_UNAUTHORIZED", "create_app", "make_server"]

log = logging.getLogger("driverseat.server")
try:
    VERSION = metadata.version("driverseat")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0+unknown"

WS_CLOSE_UNAUTHORIZED = 4401
WS_CLOSE_TOO_SLOW = 4408
QUEUE_SIZE = 256
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})  # documentation is not control


class _BearerAuth:
    """Pure ASGI middleware: checks the token before any routing or body parsing."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in PUBLIC_PATHS:
            header = dict(scope.get("headers") or ()).get(b"authorization")
            given = bearer(header.decode("latin-1") if header else None)
            if not token_matches(given, self.token):
                why = "missing bearer token" if given is None else "wrong bearer token"
                msg = f"{why}: send 'Authorization: Bearer <token>' (`driverseat token` prints it)"
                await error_response(401, msg)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Hub:
    """Fan-out of event messages to WebSocket clients; lives on the event loop thread."""

    def __init__(self) -> None:
        self.clients: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)
        self.clients.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any] | None]) -> None:
        self.clients.discard(q)

    def publish(self, message: dict[str, Any]) -> None:
        """Loop thread only. A full queue means a stuck client: cut it loose."""
        for q in list(self.clients):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:
                self.clients.discard(q)
                self._hang_up(q)

    def publish_threadsafe(self, message: dict[str, Any]) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(self.publish, message)

    def close_all(self) -> None:
        for q in list(self.clients):
            self._hang_up(q)
        self.clients.clear()

    @staticmethod
    def _hang_up(q: asyncio.Queue[dict[str, Any] | None]) -> None:
        """Replace whatever is queued by the sentinel that makes its sender close the socket."""
        while not q.empty():
            q.get_nowait()
        q.put_nowait(None)


def create_app(
    runtime: Runtime,
    store: Store,
    token: str,
    *,
    screen_size: tuple[int, int] | None = None,
    gate: Gate | None = None,
) -> FastAPI:
    """The daemon's API around one ``runtime``; records everything in ``store``.

    ``screen_size`` overrides what ``/v1/state`` reports (default: the executor's
    current idea of the screen, which follows resolution changes). With a ``gate``
    every action passes the policy first and the review routes are served.
    """
    if not token:
        raise ValueError("refusing to serve without a token")
    hub = _Hub()
    intervention = runtime.intervention
    executor = runtime.executor

    def on_control(kind: str, payload: dict[str, Any]) -> None:
        # Runs on the observer/resume threads (or the loop, for API stops): keep it short.
        at = time.time()
        event = {"event_id": uuid.uuid4().hex, "at": at, **payload}
        try:
            store.record_event(kind, event, at=at)
        except Exception:  # never let the audit trail break the takeover path
            log.exception("could not record a %s event", kind)
        hub.publish_threadsafe({"type": kind, **event})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.loop = asyncio.get_running_loop()
        intervention.listeners.append(on_control)
        if gate is not None:
            gate.publish = hub.publish_threadsafe
            for task in gate.adopt_pending(settle):
                background.add(task)
                task.add_done_callback(background.discard)
        try:
            yield
        finally:
            for task in list(background):
                task.cancel()
            if on_control in intervention.listeners:
                intervention.listeners.remove(on_control)
            hub.close_all()
            hub.loop = None

    app = FastAPI(
        title="driverseat",
        version=VERSION,
        summary="Executes a computer-use agent's actions; yields at once to the person.",
        lifespan=lifespan,
    )
    app.add_middleware(_BearerAuth, token=token)
    openapi.install(app)
    if gate is not None:
        app.include_router(routes_reviews.router(gate.queue, hub.publish_threadsafe))

    # -- errors -> HTTP (the only place) -------------------------------------------------
    @app.exception_handler(ActionError)
    async def _action_error(request: Request, exc: ActionError) -> JSONResponse:
        return error_response(422, str(exc), details=jsonable(exc.details))

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> JSONResponse:
        return error_response(401, str(exc))

    @app.exception_handler(ReviewError)
    async def _review_error(request: Request, exc: ReviewError) -> JSONResponse:
        return error_response(exc.status, str(exc), details=jsonable(exc.details))

    @app.exception_handler(DaemonError)
    async def _daemon_error(request: Request, exc: DaemonError) -> JSONResponse:
        return error_response(500, str(exc), details=jsonable(exc.details))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))

    # -- helpers ---------------------------------------------------------------------------
    def screen() -> tuple[int, int]:
        return screen_size or executor.screen

    background: set[asyncio.Task[Any]] = set()

    def abort_pending() -> None:
        """At shutdown: answer the requests waiting for a person (their reviews stay pending)."""
        for task in list(gate.waiting if gate is not None else ()):
            task.cancel()

    app.state.abort_pending = abort_pending

    async def finish(aid: str, dialect: str, action: Action, outcome: Outcome) -> Outcome:
        await asyncio.to_thread(store.record_action, aid, dialect, action, outcome)
        hub.publish({"type": "outcome", "dialect": dialect, **outcome_for_storage(outcome)})
        return outcome

    async def settle(action: Action, aid: str, answer: Admitted | Outcome, dialect: str = "review") -> Outcome:
        """Run what the gate admitted (or take its refusal), then record and publish."""
        if isinstance(answer, Outcome):
            return await finish(aid, dialect, action, answer)
        overlay = intervention.overlay  # input sent while it covers the screen would land on it
        if not overlay.clear() and not await asyncio.to_thread(overlay.wait_clear) and answer.review is not None:
            return await finish(aid, dialect, action, answer.annotate(not_clear(aid, action, intervention.state)))
        outcome = await asyncio.wrap_future(runtime.submit(answer.action, aid))
        return await finish(aid, dialect, action, answer.annotate(outcome))

    async def gated(action: Action, aid: str, dialect: str) -> Outcome:
        assert gate is not None
        return await settle(action, aid, await gate.admit(action, aid), dialect)

    async def run(action: Action, dialect: str) -> Outcome:
        """Check, record, gate, execute (without blocking the loop), record, publish."""
        aid = uuid.uuid4().hex
        if gate is None:
            future = runtime.submit(action, aid)  # ActionError (off-screen): nothing queued
            await asyncio.to_thread(store.record_action, aid, dialect, action, None)
            return await finish(aid, dialect, action, await asyncio.wrap_future(future))
        runtime.view.to_screen(action)  # ActionError (off-screen) before anything is stored
        await asyncio.to_thread(store.record_action, aid, dialect, action, None)
        # A person may take minutes: the decision and the action go on even if the agent
        # hangs up; it re-attaches by id (GET /v1/actions/{id}, GET /v1/reviews/{id}).
        task = asyncio.ensure_future(gated(action, aid, dialect))
        background.add(task)
        task.add_done_callback(background.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # our own request was cancelled (client gone): the task goes on
            return Outcome(
                id=aid, action=action.action, status="error", control=intervention.state,
                detail="driverseat shut down before a person answered; a pending review stays "
                "pending and its action runs if it is approved after the restart "
                f"(GET /v1/actions/{aid})",
            )  # fmt: skip

    def state() -> dict[str, Any]:
        return {
            **intervention.snapshot(),
            "screen": list(screen()),
            **runtime.view.describe(),
            "version": VERSION,
        }

    # -- routes ----------------------------------------------------------------------------
    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, Any]:
        """Readiness probe; the only route without auth."""
        return {"ok": True}

    @app.post("/v1/actions", tags=["actions"])
    async def post_action(request: Request) -> JSONResponse:
        """Execute one canonical action (discriminated by ``action``); returns its Outcome."""
        body = await json_body(request)
        try:
            action = parse_action(body)
        except ValidationError as exc:
            message, details = describe_validation_error(exc)
            return error_response(422, message, details=details)
        outcome = await run(action, "canonical")
        return JSONResponse(outcome.model_dump(mode="json"))

    routes_dialects.add_routes(app, runtime, run, gate)

    @app.get("/v1/state", tags=["control"])
    async def get_state() -> dict[str, Any]:
        """Who drives now (``agent``, ``human``, ``stopped``), since when, and the screen size."""
        return state()

    @app.post("/v1/control/stop", tags=["control"])
    async def post_stop() -> dict[str, Any]:
        """Stop the agent until an explicit resume; halts an action in flight."""
        intervention.stop(by="api")
        return state()

    @app.post("/v1/control/resume", tags=["control"])
    async def post_resume() -> dict[str, Any]:
        """Give control back to the agent (from ``stopped`` or ``human``)."""
        intervention.resume(by="api")
        return state()

    @app.get("/v1/actions/{action_id}", tags=["actions"])
    async def get_action(action_id: str) -> dict[str, Any]:
        """One recorded action and its outcome, by the stable id its Outcome carried."""
        found = await asyncio.to_thread(store.get_action, action_id)
        if found is None:
            raise StarletteHTTPException(404, f"no action with id {action_id!r}")
        return found

    @app.websocket("/v1/events")
    async def events(ws: WebSocket) -> None:
        """``{"type": "state"}`` first, then ``control`` and ``outcome`` messages as they happen."""
        given = bearer(ws.headers.get("authorization")) or ws.query_params.get("token")
        await ws.accept()
        if not token_matches(given, token):
            # close after accept: a refused handshake could not carry a reason code
            await ws.close(code=WS_CLOSE_UNAUTHORIZED, reason="missing or wrong token")
            return
        q = hub.subscribe()
        try:
            await ws.send_json({"type": "state", **state()})
            await _pump(ws, q)
        finally:
            hub.unsubscribe(q)

    return app


def make_server(app: FastAPI, *, before_shutdown: Callable[[], None]) -> uvicorn.Server:
    """uvicorn's Server for ``app``, with our signal handling and shutdown order.

    SIGINT/SIGTERM shut down gracefully (a second SIGINT forces) and, unlike uvicorn,
    are not re-raised afterwards: a requested shutdown exits 0. ``before_shutdown``
    (halting the executor) runs before uvicorn waits for open requests, which an
    action in flight (up to a minute long) would otherwise hold open.
    """

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            abort = getattr(app.state, "abort_pending", None)
            if abort is not None:
                abort()  # requests waiting for a person answer now; their reviews stay pending
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

    config = uvicorn.Config(
        app,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    return Server(config)


async def _pump(ws: WebSocket, q: asyncio.Queue[dict[str, Any] | None]) -> None:
    """Send queued messages until the client leaves or falls too far behind."""

    async def sender() -> None:
        while True:
            msg = await q.get()
            if msg is None:
                await ws.close(code=WS_CLOSE_TOO_SLOW, reason="event queue overflow or shutdown")
                return
            await ws.send_text(json.dumps(msg, default=str))

    async def receiver() -> None:
        # clients have nothing to say; reading is how a disconnect is noticed
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            return

    tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


