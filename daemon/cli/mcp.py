"""``driverseat mcp``: a stdio MCP server that proxies to the running daemon.

An MCP client (Claude Desktop, an IDE, an agent framework) starts this process and talks
JSON-RPC over its stdin/stdout; each tool call becomes one HTTP request to the daemon,
with the bearer token read from the daemon's data dir at call time (so the daemon may
start, or restart with a new token, after this server). One client, and so one keep-alive
connection, serves every call until the MCP session ends (a new token gets a new client).
Tools:

- ``computer``: the input of Anthropic's computer tool (``action``, ``coordinate``,
  ``text``, ..., and ``region`` for ``computer_20251124``'s ``zoom``), sent to
  ``POST /v1/anthropic/computer``; the reply's text and image blocks become MCP text and
  image content, ``is_error`` becomes ``isError``.
- ``state``: ``GET /v1/state`` as JSON text (who has control: agent, human or stopped).
- ``ask_human``: a question to the person with options on the screen (the schema of
  :data:`daemon.adapters.ask_tool.INPUT_SCHEMA`), sent to ``POST /v1/questions``; the
  answer comes back as text, with the annotated frame as an image where it is a point.

A daemon that is not running, refuses the token or refuses the action gives an error
result with one sentence; the MCP server itself keeps running. Nothing but the protocol
may be written to stdout.

Needs the official MCP Python SDK, version 2 (``mcp.server.mcpserver.MCPServer``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent
from pydantic import Field

from daemon.adapters import ask_tool
from daemon.adapters.anthropic import ACTIONS, TOOL_VERSIONS
from daemon.address import ENV_URL, resolve_url
from daemon.auth import default_data_dir, read_token
from daemon.cli.mcp_stdio import pipes
from daemon.client import DEFAULT_URL, AsyncClient, NotRunning
from daemon.errors import ActionError, AuthError, DaemonError

__all__ = ["build_server", "main", "run_mcp"]

INSTRUCTIONS = (
    "driverseat executes mouse and keyboard actions on a real desktop while a person can "
    "take over at any moment. Coordinates are pixels of the latest screenshot the computer "
    "tool returned: take a screenshot first. An 'Interrupted' result means the person took "
    "control: take a new screenshot before going on."
)


def _arg(description: str, **schema: Any) -> Any:
    """A parameter the daemon validates (its sentences beat pydantic's), with its JSON schema."""
    return Field(description=description, json_schema_extra=schema)


def _pixels(n: int) -> dict[str, Any]:
    """The JSON schema of ``n`` pixel numbers, as ``[x, y]`` or ``[x0, y0, x1, y1]``."""
    return {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": n,
            "maxItems": n}  # fmt: skip


_POINT, _REGION = _pixels(2), _pixels(4)
_WHERE = "[x, y] in pixels of the latest screenshot"


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _content(blocks: Any) -> list[ContentBlock]:
    """The daemon's Anthropic-style blocks as MCP content (text and base64 images)."""
    out: list[ContentBlock] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            out.append(TextContent(type="text", text=str(block.get("text", ""))))
        elif block.get("type") == "image" and isinstance(block.get("source"), dict):
            src = block["source"]
            out.append(
                ImageContent(
                    type="image",
                    data=str(src.get("data", "")),
                    mime_type=str(src.get("media_type", "image/png")),
                )
            )
    return out


class _Proxy:
    """Calls the daemon for each tool call; every expected failure becomes an error result.

    The client is kept from one call to the next, so calls after the first skip making an
    httpx client (~50 ms: it loads a TLS context) and the TCP connect; :meth:`session`
    closes it when the MCP session ends.
    """

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        self._client: AsyncClient | None = None
        self._token = ""

    async def _client_for(self, token: str) -> AsyncClient:
        """The kept client, or a new one if the token changed (the daemon made a new one)."""
        old = self._client
        if old is not None and token == self._token:
            return old
        self._client, self._token = AsyncClient(self.url, token), token
        if old is not None:  # its calls were refused with the old token anyway
            await old.aclose()
        return self._client

    @asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """The MCP server's lifespan: closes the kept client at the end."""
        try:
            yield
        finally:
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    async def call(self, request: Callable[[AsyncClient], Awaitable[Any]]) -> Any:
        """Run ``request`` on the kept client; returns its result or a CallToolResult error."""
        try:
            token = read_token(self.data_dir)
        except AuthError as exc:
            # no token usually means no daemon: say that, which is what the person must fix
            async with AsyncClient(self.url) as probe:
                if not await probe.healthy():
                    return _error(_not_running(self.url))
            return _error(f"{exc}; is the daemon using another data dir?")
        try:
            return await request(await self._client_for(token))
        except NotRunning:
            return _error(_not_running(self.url))
        except AuthError as exc:
            return _error(f"{exc}; is the daemon using another data dir than {self.data_dir}?")
        except ActionError as exc:  # a 422: the action was refused, nothing ran
            return _error(f"Error: {exc}")
        except DaemonError as exc:
            return _error(f"The driverseat daemon failed: {exc}")


def _not_running(url: str) -> str:
    return (
        f"The driverseat daemon is not running at {url}; start it with `driverseat serve` "
        "and try again."
    )


def build_server(url: str = DEFAULT_URL, data_dir: str | Path | None = None) -> MCPServer:
    """The MCP server with the ``computer`` and ``state`` tools, proxying to ``url``."""
    proxy = _Proxy(url, Path(data_dir).expanduser() if data_dir else default_data_dir())
    # stderr is the MCP client's log: warnings only, not a line per request (the SDK's
    # default INFO level makes httpx log every call to the daemon, and the SDK each request)
    server = MCPServer(
        "driverseat", instructions=INSTRUCTIONS, lifespan=lambda _server: proxy.session(),
        log_level="WARNING",
    )
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    @server.tool(
        description=f"Use the mouse and keyboard of the desktop and take screenshots "
        f"(the input of Anthropic's computer tool, {TOOL_VERSIONS[0]}, with "
        f"{TOOL_VERSIONS[1]}'s zoom). A person may take over at any time; the result then "
        "says 'Interrupted'. Actions: key and hold_key (text: "
        "xdotool keys like 'ctrl+s'), type (text), mouse_move, left_click, right_click, "
        "middle_click, double_click, triple_click (coordinate; text names modifiers held), "
        "left_click_drag (start_coordinate to coordinate), left_mouse_down, left_mouse_up, "
        "scroll (coordinate, scroll_direction, scroll_amount in wheel clicks), key's repeat, wait "
        "(duration in seconds), screenshot, cursor_position, zoom (region: a closer look "
        "at [x0, y0, x1, y1] of the screenshot, at full resolution)."
    )
    async def computer(
        action: Annotated[Any, _arg("what to do", type="string", enum=list(ACTIONS))],
        coordinate: Annotated[Any, _arg(_WHERE, **_POINT)] = None,
        text: Annotated[
            Any, _arg("text to type, keys to press, or modifiers to hold", type="string")
        ] = None,
        scroll_direction: Annotated[
            Any, _arg("scroll direction", type="string", enum=["up", "down", "left", "right"])
        ] = None,
        scroll_amount: Annotated[Any, _arg("wheel clicks", type="integer", minimum=1)] = None,
        duration: Annotated[Any, _arg("seconds", type="number", minimum=0)] = None,
        start_coordinate: Annotated[Any, _arg(f"drag start, {_WHERE}", **_POINT)] = None,
        region: Annotated[
            Any, _arg("for zoom: [x0, y0, x1, y1] of the latest screenshot, x1 and y1 "
                      "exclusive", **_REGION)
        ] = None,
        repeat: Annotated[Any, _arg("for key: how many times to press it", type="integer",
                                    minimum=1, maximum=100)] = None,
    ) -> CallToolResult:
        given = {
            "action": action, "coordinate": coordinate, "text": text,
            "scroll_direction": scroll_direction, "scroll_amount": scroll_amount,
            "duration": duration, "start_coordinate": start_coordinate, "region": region,
            "repeat": repeat,
        }  # fmt: skip
        tool_input = {k: v for k, v in given.items() if v is not None}
        reply = await proxy.call(lambda c: c.anthropic(tool_input))
        if isinstance(reply, CallToolResult):
            return reply
        content = _content(reply.get("content"))
        if not content:
            return _error("The driverseat daemon sent a reply without content.")
        return CallToolResult(content=content, is_error=bool(reply.get("is_error")))

    @server.tool(
        description="Who drives the desktop now: control is 'agent', 'human' (a person took "
        "over; wait until it is 'agent' again) or 'stopped' (until the person resumes); "
        "also the screen size."
    )
    async def state() -> CallToolResult:
        reply = await proxy.call(lambda c: c.state())
        if isinstance(reply, CallToolResult):
            return reply
        return CallToolResult(content=[TextContent(type="text", text=json.dumps(reply))])

    _ask_tool(server, proxy)
    return server


def _ask_arg(name: str) -> Any:
    """A parameter of ``ask_human`` with its schema from :data:`ask_tool.INPUT_SCHEMA`
    (module level: the SDK evaluates the annotations in this module's namespace)."""
    schema = dict(ask_tool.INPUT_SCHEMA["properties"][name])
    return _arg(schema.pop("description", name), **schema)


def _ask_tool(server: MCPServer, proxy: _Proxy) -> None:
    """``ask_human``: the same tool, schema and answer as every other dialect's."""

    @server.tool(name=ask_tool.TOOL_NAME, description=ask_tool.DESCRIPTION)
    async def ask_human(
        question: Annotated[Any, _ask_arg("question")],
        goal: Annotated[Any, _ask_arg("goal")] = None,
        steps: Annotated[Any, _ask_arg("steps")] = None,
        stuck: Annotated[Any, _ask_arg("stuck")] = None,
        options: Annotated[Any, _ask_arg("options")] = None,
        secret: Annotated[Any, _ask_arg("secret")] = None,
        timeout: Annotated[Any, _ask_arg("timeout")] = None,
    ) -> CallToolResult:
        given = {"question": question, "goal": goal, "steps": steps, "stuck": stuck,
                 "options": options, "secret": secret, "timeout": timeout}  # fmt: skip
        reply = await proxy.call(lambda c: c.ask({k: v for k, v in given.items() if v is not None}))
        if isinstance(reply, CallToolResult):
            return reply
        return CallToolResult(content=_content(ask_tool.result_blocks(reply)),
                              is_error=reply.status != "answered")  # fmt: skip


async def _serve_stdio(server: MCPServer) -> None:
    """The SDK's stdio server, on asyncio pipes where it can (daemon.cli.mcp_stdio)."""
    low = getattr(server, "_lowlevel_server", None)
    async with pipes() as streams:
        if streams is None or low is None:
            await server.run_stdio_async()
            return
        async with stdio_server(*streams) as (read, write):  # type: ignore[arg-type]
            await low.run(read, write, low.create_initialization_options())


def run_mcp(url: str = DEFAULT_URL, data_dir: str | Path | None = None) -> int:
    """Serve MCP on stdin/stdout until the client closes it; returns the exit code."""
    server = build_server(url, data_dir)
    # the SDK logs INFO through rich to stderr, and httpx logs every request at INFO: a
    # table rendered for each tool call was half of the proxy's time (and noise in the
    # MCP client's log); requests that fail still say so in their result
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        anyio.run(_serve_stdio, server)
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m daemon.cli.mcp [--url URL] [--data-dir DIR]`` (what ``driverseat mcp`` runs)."""
    parser = argparse.ArgumentParser(
        prog="driverseat mcp",
        description="Serve the running daemon to an MCP client over stdin/stdout.",
    )
    parser.add_argument(
        "--url", default=None, help=f"the daemon (default: ${ENV_URL}, the data dir's url file, {DEFAULT_URL})"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="where the token lives")
    args = parser.parse_args(argv)
    return run_mcp(resolve_url(args.url, args.data_dir), args.data_dir)


if __name__ == "__main__":
    sys.exit(main())
