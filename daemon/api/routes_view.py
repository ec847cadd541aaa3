"""``/view``: the desktop in a browser, behind the daemon's token (``serve --view``).

- ``GET /view?token=...``: the viewer page; without the token (or with a wrong one) a 401
  page that says how to get it, and nothing of the desktop;
- ``GET /view/app.js`` and ``/view/novnc/...``: the page's script and noVNC's own files
  (public code, like ``/docs``: they hold no secret and open nothing);
- ``WS /view/websocket?token=...``: the RFB bytes of the VNC server's unix socket, both
  ways, one VNC connection per WebSocket. Without the token, or from a page of another
  origin, the handshake is refused (403) before the VNC socket is opened.

The request guard in :mod:`daemon.api.http` has checked Host and Origin already (an
address, never a DNS name); this route also wants the Origin, when there is one, to be
the daemon's own, so that another page served from this machine cannot open it. RFB is
request-driven (the viewer asks for each update), so the proxy needs no buffer of its own:
a slow browser slows its own updates only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from daemon.api import view_page
from daemon.api.http import error_response, refuse
from daemon.auth import bearer, token_matches

__all__ = ["ENV_NOVNC", "VIEW_OFF", "VIEW_PATH", "LiveView", "find_novnc", "is_view_path", "off_router", "router"]

VIEW_PATH = "/view"
ENV_NOVNC = "DRIVERSEAT_NOVNC"
# Debian's novnc package; $DRIVERSEAT_NOVNC names another copy (a noVNC release unpacked
# at setup time): never fetched at run time
NOVNC_DIRS = (Path("/usr/share/novnc"),)
VIEW_OFF = "this daemon serves no live view: start it with `driverseat serve --view` (docs/liveview.md)"
_ASSET_TOPS = ("core", "vendor")  # what the RFB client imports; not noVNC's own app
_CHUNK = 1 << 18
_HEADERS = {
    "Content-Security-Policy": view_page.CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class LiveView:
    """Where the VNC server listens (a unix socket) and where noVNC's files are."""

    socket: Path
    novnc: Path


def find_novnc() -> Path | None:
    """noVNC's directory (the one holding ``core/rfb.js``), or None when it is not installed."""
    env = os.environ.get(ENV_NOVNC, "").strip()
    for d in (Path(env),) if env else NOVNC_DIRS:
        if (d / "core" / "rfb.js").is_file():
            return d.resolve()
    return None


def is_view_path(path: str) -> bool:
    """The paths this router guards itself (a browser cannot send a bearer header)."""
    return path == VIEW_PATH or path.startswith(VIEW_PATH + "/")


def _given(headers_auth: str | None, query_token: str | None) -> str | None:
    return bearer(headers_auth) or query_token


def _same_origin(origin: str | None, host: str | None) -> bool:
    """No Origin (not a browser) or the daemon's own scheme-less host:port."""
    if not origin:
        return True
    return bool(host) and origin.split("://", 1)[-1].rstrip("/") == host


def router(view: LiveView, token: str, version: str) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    novnc_root = view.novnc.resolve()

    @api.get(VIEW_PATH)
    async def page(request: Request) -> Response:
        given = _given(request.headers.get("authorization"), request.query_params.get("token"))
        if not token_matches(given, token):
            why = "This address has no token." if given is None else "The token in this address is wrong."
            return HTMLResponse(view_page.refusal(why), status_code=401,
                                headers={**_HEADERS, "WWW-Authenticate": "Bearer"})  # fmt: skip
        return HTMLResponse(view_page.page(version), headers=_HEADERS)

    @api.get(VIEW_PATH + "/app.js")
    async def app_js() -> Response:
        return Response(view_page.APP_JS, media_type="text/javascript", headers=_HEADERS)

    @api.get(VIEW_PATH + "/novnc/{path:path}")
    async def novnc(path: str) -> Response:
        file = _asset(novnc_root, path)
        if file is None:
            raise StarletteHTTPException(404, f"no noVNC file {path[:200]!r}")
        return FileResponse(file, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @api.websocket(VIEW_PATH + "/websocket")
    async def websocket(ws: WebSocket) -> None:
        given = _given(ws.headers.get("authorization"), ws.query_params.get("token"))
        if not token_matches(given, token):
            why = "no token" if given is None else "a wrong token"
            await refuse(ws.scope, ws.receive, ws.send, 403,
                         f"refused: this WebSocket has {why}; open the address `driverseat view` prints")  # fmt: skip
            return
        if not _same_origin(ws.headers.get("origin"), ws.headers.get("host")):
            await refuse(ws.scope, ws.receive, ws.send, 403,
                         "refused: the live view opens from the daemon's own page only (another origin)")  # fmt: skip
            return
        try:
            reader, writer = await asyncio.open_unix_connection(str(view.socket))
        except OSError:
            await ws.close(code=1011)  # the VNC server is gone: nothing to show
            return
        offered = ws.scope.get("subprotocols") or []
        await ws.accept(subprotocol="binary" if "binary" in offered else None)
        try:
            await _pump(ws, reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    return api


def off_router() -> APIRouter:
    """``/view`` on a daemon started without ``--view``: a 404 that says how to get it."""
    api = APIRouter(include_in_schema=False)

    @api.get(VIEW_PATH)
    @api.get(VIEW_PATH + "/{rest:path}")
    async def off() -> Response:
        return error_response(404, VIEW_OFF)

    return api


def _asset(root: Path, path: str) -> Path | None:
    """The file of one of noVNC's scripts under ``core/`` or ``vendor/`` that ``path`` names:
    nothing above the root, nothing else of noVNC's. A name the file system refuses (too
    long, a NUL) names none."""
    try:
        file = (root / path).resolve()
        parts = file.relative_to(root).parts if file.is_relative_to(root) else ()
        ok = len(parts) > 1 and parts[0] in _ASSET_TOPS and file.suffix == ".js" and file.is_file()
    except (OSError, ValueError):
        return None
    return file if ok else None


async def _pump(ws: WebSocket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes both ways until either side leaves."""

    async def to_vnc() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("bytes") or (message.get("text") or "").encode()
                writer.write(data)
                await writer.drain()

    async def to_browser() -> None:
        while chunk := await reader.read(_CHUNK):
            await ws.send_bytes(chunk)

    tasks = [asyncio.create_task(to_vnc()), asyncio.create_task(to_browser())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(Exception):  # the browser may be gone already
        await ws.close()
