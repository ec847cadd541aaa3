"""``python -m daemon.cli.mcp`` as an MCP client meets it: the SDK's own stdio client, a real daemon.

The daemon runs as ``driverseat serve --virtual-display ...`` (its own Xvfb); the MCP server
runs as a subprocess the SDK's ``stdio_client`` spawns, exactly as Claude Desktop would.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI, Request
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult, ImageContent, TextContent

from daemon.cli.mcp import _Proxy
from daemon.client import AsyncClient
from tests.daemon.live import StderrLines, serving

pytestmark = pytest.mark.x11

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("driverseat")
T = TypeVar("T")


class _Daemon:
    """A ``driverseat serve`` subprocess; its stderr lines are collected by a reader thread."""

    def __init__(self, data: Path) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DRIVERSEAT_DATA_DIR")}  # fmt: skip
        cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "daemon.cli"]
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--virtual-display", "1280x800", "--port", "0",
             "--data-dir", str(data), "--no-overlay"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        self.out = StderrLines(self.proc)

    @property
    def lines(self) -> list[str]:
        return self.out.lines

    def url(self, timeout: float = 30.0) -> str:
        """The API address the daemon printed, once it answers /healthz."""
        deadline = time.monotonic() + timeout
        url = self.out.wait_line(r"API: +(http://\S+)", timeout).group(1)
        while not _healthy(url):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"the daemon at {url} never became healthy: {self.lines}")
            time.sleep(0.05)  # polling /healthz, bounded by the deadline
        return url

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.out.close()


def _healthy(url: str) -> bool:
    try:
        return bool(httpx.get(url + "/healthz", timeout=1).json().get("ok"))
    except (httpx.HTTPError, ValueError):
        return False


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    data = tmp_path_factory.mktemp("mcp") / "data"
    d = _Daemon(data)
    try:
        yield d.url(), data
    finally:
        d.close()


def _with_session(
    url: str, data: Path, errlog: Path, use: Callable[[ClientSession], Awaitable[T]]
) -> T:
    """Spawn ``python -m daemon.cli.mcp`` through the SDK's stdio client and run ``use`` on it."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "daemon.cli.mcp", "--url", url, "--data-dir", str(data)],
        cwd=str(ROOT),
    )

    async def run() -> T:
        with errlog.open("a") as err:
            async with (
                stdio_client(params, errlog=err) as (read, write),
                ClientSession(read, write) as session,
            ):
                await asyncio.wait_for(session.initialize(), 30)
                return await asyncio.wait_for(use(session), 60)

    return asyncio.run(run())


def _call(
    name: str, args: dict[str, Any] | None = None
) -> Callable[[ClientSession], Awaitable[Any]]:
    async def use(session: ClientSession) -> Any:
        return await session.call_tool(name, args or {})

    return use


def _text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


def test_tools_are_listed(daemon: tuple[str, Path], tmp_path: Path) -> None:
    url, data = daemon

    async def use(session: ClientSession) -> Any:
        return await session.list_tools()

    tools = {t.name: t for t in _with_session(url, data, tmp_path / "err", use).tools}
    assert set(tools) == {"computer", "state", "ask_human"}
    schema = tools["computer"].input_schema
    assert schema["required"] == ["action"]
    assert "screenshot" in schema["properties"]["action"]["enum"]
    assert set(schema["properties"]) == {
        "action", "coordinate", "text", "scroll_direction", "scroll_amount", "duration",
        "start_coordinate", "region", "repeat", "alternatives",
    }  # fmt: skip
    assert "zoom" in schema["properties"]["action"]["enum"]
    region = schema["properties"]["region"]
    assert region["type"] == "array" and region["minItems"] == region["maxItems"] == 4
    assert region["items"] == {"type": "integer", "minimum": 0}


def test_ask_human_is_answered_with_text_and_the_annotated_frame(daemon: tuple[str, Path], tmp_path: Path) -> None:
    from daemon.adapters.ask_tool import INPUT_SCHEMA

    url, data = daemon

    async def use(session: ClientSession) -> Any:
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert set(listed["ask_human"].input_schema["properties"]) == set(INPUT_SCHEMA["properties"])
        return await session.call_tool("ask_human", {"question": "Which one?", "options": [{"text": "a"}]})

    def person() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {(data / 'token').read_text().strip()}"}) as c:
            deadline = time.monotonic() + 30
            while not (pending := c.get("/v1/questions").json()) and time.monotonic() < deadline:
                time.sleep(0.05)  # polling for the question, bounded by the deadline
            c.post(f"/v1/questions/{pending[0]['id']}/answer", json={"kind": "point", "point": [640, 400], "reviewer": "t"})

    import threading

    t = threading.Thread(target=person, daemon=True)
    t.start()
    result = _with_session(url, data, tmp_path / "err", use)
    t.join(10)
    assert not result.is_error, _text(result)
    assert "pointed at" in _text(result)
    images = [c for c in result.content if isinstance(c, ImageContent)]
    assert len(images) == 1 and base64.b64decode(images[0].data).startswith(b"\x89PNG")


def test_screenshot_click_and_state(daemon: tuple[str, Path], tmp_path: Path) -> None:
    url, data = daemon

    async def use(session: ClientSession) -> list[Any]:
        return [
            await session.call_tool("computer", {"action": "screenshot"}),
            await session.call_tool("computer", {"action": "left_click", "coordinate": [40, 30]}),
            await session.call_tool("state", {}),
        ]

    shot, click, state = _with_session(url, data, tmp_path / "err", use)

    assert not shot.is_error, _text(shot)
    images = [c for c in shot.content if isinstance(c, ImageContent)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data).startswith(b"\x89PNG\r\n\x1a\n")

    assert not click.is_error, _text(click)
    assert _text(click) and not _text(click).startswith("Error")
    # the reference tool's screenshot after the click: no turn spent asking for one
    assert [c.mime_type for c in click.content if isinstance(c, ImageContent)] == ["image/png"]

    # stderr is the MCP client's log: no line per request (httpx's INFO, the SDK's own)
    err = (tmp_path / "err").read_text()
    assert "HTTP Request" not in err and "Processing request" not in err, err

    assert not state.is_error, _text(state)
    snapshot = json.loads(_text(state))
    assert snapshot["control"] == "agent"


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])  # IHDR comes first
    return int(width), int(height)


def test_zoom_passes_the_region_through(daemon: tuple[str, Path], tmp_path: Path) -> None:
    url, data = daemon

    async def use(session: ClientSession) -> list[Any]:
        return [
            await session.call_tool("computer", {"action": "zoom", "region": [10, 20, 110, 70]}),
            await session.call_tool("computer", {"action": "zoom", "region": [50, 50, 10, 10]}),
            await session.call_tool("computer", {"action": "zoom"}),
        ]

    zoom, backwards, missing = _with_session(url, data, tmp_path / "err", use)
    assert not zoom.is_error, _text(zoom)
    images = [c for c in zoom.content if isinstance(c, ImageContent)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    assert _png_size(base64.b64decode(images[0].data)) == (100, 50)  # the region, 1:1
    assert backwards.is_error and "x0 < x1" in _text(backwards)
    assert missing.is_error and _text(missing) == 'Error: zoom needs "region" [x0, y0, x1, y1]'


def test_refused_actions_are_error_results(daemon: tuple[str, Path], tmp_path: Path) -> None:
    url, data = daemon

    async def use(session: ClientSession) -> list[Any]:
        return [
            await session.call_tool("computer", {"action": "fly"}),
            await session.call_tool(
                "computer", {"action": "left_click", "coordinate": [1, 99_999]}
            ),
            # the server survives refusals: a good call still works afterwards
            await session.call_tool("state", {}),
        ]

    bad, off, after = _with_session(url, data, tmp_path / "err", use)
    assert bad.is_error
    assert _text(bad).startswith("Error: unknown computer action 'fly'")
    assert "\n" not in _text(bad)
    assert off.is_error and "off the screen" in _text(off)
    assert not after.is_error


def test_daemon_not_running(daemon: tuple[str, Path], tmp_path: Path) -> None:
    _, data = daemon
    url = f"http://127.0.0.1:{_closed_port()}"

    async def use(session: ClientSession) -> list[Any]:
        return [
            await session.call_tool("computer", {"action": "screenshot"}),
            await session.call_tool("state", {}),
        ]

    for result in _with_session(url, data, tmp_path / "err", use):
        assert result.is_error
        assert _text(result) == (
            f"The driverseat daemon is not running at {url}; start it with `driverseat serve` "
            "and try again."
        )


def test_no_token_but_a_daemon_says_so(daemon: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = daemon
    result = _with_session(url, tmp_path / "none", tmp_path / "err", _call("state"))
    assert result.is_error
    assert _text(result).startswith(f"no token file at {tmp_path / 'none' / 'token'}")
    assert _text(result).endswith("is the daemon using another data dir?")


def test_no_token_and_no_daemon_says_not_running(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = _with_session(url, tmp_path / "none", tmp_path / "err", _call("state"))
    assert result.is_error and "not running" in _text(result)


def test_the_proxy_keeps_one_connection_until_the_token_changes(tmp_path: Path) -> None:
    """Calls after the first reuse the kept connection; a new token gets a new client."""
    app = FastAPI()

    @app.get("/v1/state")
    def state(request: Request) -> dict[str, Any]:
        assert request.client is not None
        return {"peer": request.client.port, "token": request.headers["authorization"]}

    (tmp_path / "token").write_text("first\n")

    async def calls(proxy: _Proxy, n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            reply = await proxy.call(lambda c: c.state())
            assert isinstance(reply, dict), reply
            out.append(reply)
        return out

    async def scenario(url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        proxy = _Proxy(url, tmp_path)
        async with proxy.session():
            before = await calls(proxy, 3)
            (tmp_path / "token").write_text("second\n")
            after = await calls(proxy, 2)
            kept = proxy._client
            assert isinstance(kept, AsyncClient)
        assert proxy._client is None and kept._http.is_closed  # the session closed it
        return before, after

    with serving(app) as url:
        before, after = asyncio.run(scenario(url))
    assert {r["peer"] for r in before} == {before[0]["peer"]}
    assert {r["token"] for r in before} == {"Bearer first"}
    assert {r["peer"] for r in after} == {after[0]["peer"]} != {before[0]["peer"]}
    assert {r["token"] for r in after} == {"Bearer second"}


def test_alternatives_go_with_the_action(daemon: tuple[str, Path], tmp_path: Path) -> None:
    """The computer tool's ``alternatives`` reach the daemon as the action's candidates (a
    person reviewing it may pick one): recorded with the action, in screen space; a bad one
    is an error result naming it, and nothing runs."""
    import sqlite3

    url, data = daemon
    alternatives = [{"action": "mouse_move", "coordinate": [20, 10], "confidence": 0.3, "reason": "the other tab"}]

    async def use(session: ClientSession) -> list[Any]:
        return [
            await session.call_tool("computer", {"action": "mouse_move", "coordinate": [40, 30],
                                                 "alternatives": alternatives}),
            await session.call_tool("computer", {"action": "mouse_move", "coordinate": [40, 30],
                                                 "alternatives": [{"action": "fly"}]}),
        ]

    moved, bad = _with_session(url, data, tmp_path / "err", use)
    assert not moved.is_error, _text(moved)
    record = (moved.meta or {})["driverseat"]  # driverseat's record of the action, in _meta
    assert record["status"] == "executed" and record["candidate"] == 1 and record["elapsed_ms"] > 0
    assert len(record["id"]) == 32
    assert bad.is_error and "driverseat.alternatives[0]" in _text(bad) and "fly" in _text(bad)
    with sqlite3.connect(f"file:{data / 'driverseat.db'}?mode=ro", uri=True) as db:
        (outcome,) = [json.loads(r[0]) for r in db.execute(
            "SELECT outcome_json FROM actions WHERE kind = 'move' ORDER BY created DESC LIMIT 1")]  # fmt: skip
    # the gate weighed them: nobody reviews a plain move, so its first candidate (the action) ran
    assert outcome["status"] == "executed" and outcome["candidate"] == 1, outcome
