"""The canonical routes: actions, state and control, the event stream, liveness."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from daemon.actions import Action
from daemon.api.bodies import ErrorBody, State
from daemon.api.gone import abandonment
from daemon.api.websocket import abort_of
from daemon.auth import bearer, token_matches
from daemon.events import EventHub, Subscription
from daemon.jsonsplice import outcome_json
from daemon.outcomes import Outcome
from daemon.recording import AfterAnswer
from daemon.service import Daemon

__all__ = ["WS_CLOSE_TOO_SLOW", "WS_CLOSE_UNAUTHORIZED", "router"]

WS_CLOSE_UNAUTHORIZED = 4401
WS_CLOSE_TOO_SLOW = 4408
CLOSE_GRACE = 1.0  # seconds a close frame may take to leave before the connection is reset
_ERR = {"model": ErrorBody}


def router(daemon: Daemon, token: str) -> APIRouter:
    api = APIRouter()

    @api.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, Any]:
        """Readiness probe; the only route without auth."""
        return {"ok": True}

    @api.post("/v1/actions", tags=["actions"], response_model=Outcome, responses={422: _ERR})
    async def post_action(action: Action, request: Request) -> Response:
        """Execute one canonical action (discriminated by ``action``); returns its Outcome."""
        later = AfterAnswer()  # its outcome's row, written once the answer is out
        try:
            async with abandonment(request) as gone:
                outcome = await daemon.act(action, "canonical", gone, later)
            # pydantic's own JSON, in one step, a screenshot's base64 spliced in (daemon/jsonsplice.py)
            body = outcome_json(outcome)
        except BaseException:
            later.run()  # no answer to wait for
            raise
        return Response(body, media_type="application/json", background=BackgroundTask(later.after_the_answer))

    @api.get("/v1/actions/{action_id}", tags=["actions"], responses={404: _ERR})
    async def get_action(action_id: str) -> dict[str, Any]:
        """One recorded action (as it ran) and its outcome, by the id its Outcome carried."""
        found = await daemon.get_action(action_id)
        if found is None:
            raise StarletteHTTPException(404, f"no action with id {action_id!r}")
        return found

    @api.get("/v1/state", tags=["control"], response_model=State)
    async def get_state() -> Response:
        """Who drives now (``agent``, ``human``, ``stopped``), since when, and the screen size."""
        # the model's own JSON, as FastAPI would make it of the dict, in one step
        return Response(State.model_validate(daemon.state()).model_dump_json(), media_type="application/json")

    @api.post("/v1/control/stop", tags=["control"], response_model=State)
    async def post_stop() -> dict[str, Any]:
        """Stop the agent until an explicit resume; halts an action in flight."""
        return daemon.stop(by="api")

    @api.post("/v1/control/resume", tags=["control"], response_model=State)
    async def post_resume() -> dict[str, Any]:
        """Give control back to the agent (from ``stopped`` or ``human``)."""
        return daemon.resume(by="api")

    @api.websocket("/v1/events")
    async def events(ws: WebSocket) -> None:
        """``{"type": "state"}`` first, then ``control``, ``outcome`` and review messages,
        each with ``seq`` (its place in the stream). An overlay connects with
        ``&role=overlay`` and sends ``{"type": "ack", "seq": n}`` once it has handled every
        message up to ``n``: an approved action waits for that (at most 2 s)."""
        given = bearer(ws.headers.get("authorization")) or ws.query_params.get("token")
        await ws.accept()
        if not token_matches(given, token):
            # close after accept: a refused handshake could not carry a reason code
            await ws.close(code=WS_CLOSE_UNAUTHORIZED, reason="missing or wrong token")
            return
        q = daemon.hub.subscribe(overlay=ws.query_params.get("role") == "overlay")
        try:
            # its seq: the stream's place when it was taken (the next message is seq + 1)
            await ws.send_json({"type": "state", **daemon.state(), "seq": q.acked})
            await _pump(ws, q, daemon.hub)
        finally:
            daemon.hub.unsubscribe(q)

    return api


async def _pump(ws: WebSocket, q: Subscription, hub: EventHub) -> None:
    """Send queued messages until the client leaves or falls too far behind; take an
    overlay's acknowledgements (``{"type": "ack", "seq": n}``), ignore anything else."""

    async def sender() -> None:
        while (msg := await q.get()) is not None:
            await ws.send_text(json.dumps(msg, default=str))

    async def receiver() -> None:
        # reading is how a disconnect is noticed; an overlay says what it has handled
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if q.overlay and (text := message.get("text")):
                    hub.ack(q, _ack_of(text))
        except WebSocketDisconnect:
            return

    cut = asyncio.create_task(q.cut.wait())  # the hub hung up: overflow or shutdown
    tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver()), cut]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if q.cut.is_set():
        await _hang_up(ws, reset=q.overflowed)


def _ack_of(text: str) -> object:
    """The ``seq`` of an overlay's ack; None for anything else (ignored, never an error)."""
    if len(text) > 100:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data.get("seq") if isinstance(data, dict) and data.get("type") == "ack" else None


async def _hang_up(ws: WebSocket, *, reset: bool) -> None:
    """Reset a subscriber that fell behind: a close frame would wait behind the events it
    has not read, in our buffer or the kernel's, and keep the connection alive as long as
    it does not read (TCP probes a zero window forever). At shutdown, a close frame (reset
    if it cannot leave within CLOSE_GRACE)."""
    abort = abort_of(ws.scope)
    if reset and abort is not None:
        abort()
        return
    try:
        await asyncio.wait_for(
            ws.close(code=WS_CLOSE_TOO_SLOW, reason="event queue overflow or shutdown"), CLOSE_GRACE
        )
        return
    except TimeoutError:
        pass
    except Exception:  # noqa: BLE001 - the client is gone already: nothing to close
        return
    if abort is not None:
        abort()
