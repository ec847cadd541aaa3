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

Served by :mod:`daemon.cli.mcp_server` (the protocol) on :mod:`daemon.cli.mcp_stdio`
(stdin and stdout); no MCP SDK at run time. Arguments are taken as the SDK's server took
them: unknown ones are dropped, ``null`` is as good as absent, a missing required one is an
error result, and types are the daemon's to check (its sentences beat a schema validator's),
but for a number too large for a float (``1e400``) and nesting past :data:`MAX_DEPTH`: error
results naming the argument, as nothing could carry them to the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from daemon.actions import MAX_ALTERNATIVES
from daemon.adapters import ask_tool
from daemon.adapters.anthropic import ACTIONS, TOOL_VERSIONS
from daemon.address import ENV_URL, resolve_url
from daemon.auth import default_data_dir, read_token, token_path
from daemon.cli.mcp_server import Result, Server, Tool, ToolError
from daemon.cli.mcp_stdio import stdio
from daemon.client import DEFAULT_URL, AsyncClient, NotRunning
from daemon.errors import ActionError, AuthError, DaemonError
from daemon.jsontext import unfit

__all__ = ["MAX_DEPTH", "build_server", "main", "run_mcp", "tools"]

INSTRUCTIONS = (
    "driverseat executes mouse and keyboard actions on a real desktop while a person can "
    "take over at any moment. Coordinates are pixels of the latest screenshot the computer "
    "tool returned: take a screenshot first. An 'Interrupted' result means the person took "
    "control: take a new screenshot before going on."
)


def _pixels(n: int) -> dict[str, Any]:
    """The JSON schema of ``n`` pixel numbers, as ``[x, y]`` or ``[x0, y0, x1, y1]``."""
    return {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": n,
            "maxItems": n}  # fmt: skip


_POINT, _REGION = _pixels(2), _pixels(4)
MAX_DEPTH = 32  # arrays and objects in a tool's arguments: the deepest real ones have 3
_WHERE = "[x, y] in pixels of the latest screenshot"

# computer's parameters, in the order tools/list shows them; the first is required
_COMPUTER: dict[str, dict[str, Any]] = {
    "action": {"description": "what to do", "type": "string", "enum": list(ACTIONS)},
    "coordinate": {"description": _WHERE, **_POINT},
    "text": {"description": "text to type, keys to press, or modifiers to hold", "type": "string"},
    "scroll_direction": {"description": "scroll direction", "type": "string",
                         "enum": ["up", "down", "left", "right"]},
    "scroll_amount": {"description": "wheel clicks", "type": "integer", "minimum": 1},
    "duration": {"description": "seconds", "type": "number", "minimum": 0},
    "start_coordinate": {"description": f"drag start, {_WHERE}", **_POINT},
    "region": {"description": "for zoom: [x0, y0, x1, y1] of the latest screenshot, x1 and y1 "
                              "exclusive", **_REGION},
    "repeat": {"description": "for key: how many times to press it", "type": "integer",
               "minimum": 1, "maximum": 100},
    "alternatives": {"description": "other candidate actions you weighed, each with this tool's "
                                    "fields plus its confidence (0-1) and reason: a person who "
                                    "reviews this action may approve one of them instead",
                     "type": "array", "maxItems": MAX_ALTERNATIVES, "items": {"type": "object"}},
}  # fmt: skip

COMPUTER_DESCRIPTION = (
    f"Use the mouse and keyboard of the desktop and take screenshots "
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
STATE_DESCRIPTION = (
    "Who drives the desktop now: control is 'agent', 'human' (a person took "
    "over; wait until it is 'agent' again) or 'stopped' (until the person resumes); "
    "also the screen size."
)


def _schema(tool: str, params: dict[str, dict[str, Any]], required: Sequence[str]) -> dict[str, Any]:
    """An input schema as the SDK's server derived it from a function's parameters (kept
    key for key, titles and ``"default": null`` included, so clients see no change)."""
    properties = {}
    for name, spec in params.items():
        prop = {**spec, "title": name.replace("_", " ").title()}
        if name not in required:
            prop["default"] = None
        properties[name] = prop
    return {"properties": properties, "required": list(required), "type": "object",
            "title": f"{tool}Arguments"} if required else {
            "properties": properties, "type": "object", "title": f"{tool}Arguments"}  # fmt: skip


def _given(tool: str, arguments: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The arguments the tool takes, without nulls; a missing required one is a ToolError,
    and so is a number out of a float's range (``1e400`` parses as ``inf``, which no JSON
    can carry to the daemon) or nesting deeper than :data:`MAX_DEPTH`."""
    missing = [name for name in schema.get("required", ()) if name not in arguments]
    if missing:
        raise ToolError(f"missing required argument {missing[0]!r}")
    given = {k: v for k, v in arguments.items() if k in schema["properties"] and v is not None}
    wrong = unfit(given, MAX_DEPTH)
    if wrong is not None:
        raise ToolError(f"argument {wrong}")
    return given


def _error(text: str) -> Result:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _content(blocks: Any) -> list[dict[str, Any]]:
    """The daemon's Anthropic-style blocks as MCP content (text and base64 images)."""
    out: list[dict[str, Any]] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            out.append({"type": "text", "text": str(block.get("text", ""))})
        elif block.get("type") == "image" and isinstance(block.get("source"), dict):
            src = block["source"]
            out.append({"type": "image", "data": str(src.get("data", "")),
                        "mimeType": str(src.get("media_type", "image/png"))})  # fmt: skip
    return out


class _Failed(Exception):
    """A call the daemon did not answer: the error result to give instead."""

    def __init__(self, result: Result) -> None:
        super().__init__(result["content"][0]["text"])
        self.result = result


class _Proxy:
    """Calls the daemon for each tool call; every expected failure becomes an error result.

    The client is kept from one call to the next, so calls after the first skip making an
    httpx client (~50 ms: it loads a TLS context) and the TCP connect; :meth:`session`
    closes it when the MCP session ends. The token file is read again only when its
    ``stat`` changed (a stat is a tenth of the open, read and close, on every call) or the
    daemon refused the token.
    """

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        self._client: AsyncClient | None = None
        self._token = ""
        self._token_file = str(token_path(data_dir))
        self._token_seen: tuple[int, int, int, int] | None = None
        self._token_read = ""

    def _read_token(self) -> str:
        """The token in the data dir (AuthError if none), from the file when it changed."""
        try:
            st = os.stat(self._token_file)
            seen = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            seen = None
        if seen is None or seen != self._token_seen:
            self._token_seen = None
            self._token_read = read_token(self.data_dir)
            self._token_seen = seen
        return self._token_read

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
        """The MCP session: closes the kept client at the end."""
        try:
            yield
        finally:
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    async def call(self, request: Callable[[AsyncClient], Awaitable[Any]]) -> Any:
        """Run ``request`` on the kept client; returns its result, raises :class:`_Failed`."""
        try:
            token = self._read_token()
        except AuthError as exc:
            # no token usually means no daemon: say that, which is what the person must fix
            async with AsyncClient(self.url) as probe:
                if not await probe.healthy():
                    raise _Failed(_error(_not_running(self.url))) from exc
            raise _Failed(_error(f"{exc}; is the daemon using another data dir?")) from exc
        try:
            return await request(await self._client_for(token))
        except NotRunning as exc:
            raise _Failed(_error(_not_running(self.url))) from exc
        except AuthError as exc:
            self._token_seen = None  # read it again next time, whatever its stat says
            raise _Failed(_error(f"{exc}; is the daemon using another data dir than {self.data_dir}?")) from exc
        except ActionError as exc:  # a 422: the action was refused, nothing ran
            raise _Failed(_error(f"Error: {exc}")) from exc
        except DaemonError as exc:
            raise _Failed(_error(f"The driverseat daemon failed: {exc}")) from exc


def _not_running(url: str) -> str:
    return (
        f"The driverseat daemon is not running at {url}; start it with `driverseat serve` "
        "and try again."
    )


def _ask_params() -> dict[str, dict[str, Any]]:
    """``ask_human``'s parameters: :data:`ask_tool.INPUT_SCHEMA`'s, description first."""
    out = {}
    for name, spec in ask_tool.INPUT_SCHEMA["properties"].items():
        rest = dict(spec)
        out[name] = {"description": rest.pop("description", name), **rest}
    return out


def tools(proxy: _Proxy) -> list[Tool]:
    """``computer``, ``state`` and ``ask_human``, each one request to the daemon."""
    computer_schema = _schema("computer", _COMPUTER, ["action"])
    state_schema = _schema("state", {}, [])
    ask_schema = _schema(ask_tool.TOOL_NAME, _ask_params(), ask_tool.INPUT_SCHEMA["required"])

    async def computer(arguments: dict[str, Any]) -> Result:
        tool_input = _given("computer", arguments, computer_schema)
        alternatives = tool_input.pop("alternatives", None)
        if alternatives:  # the route's own field for candidates (docs/candidates.md)
            tool_input["driverseat"] = {"alternatives": alternatives}
        try:
            reply = await proxy.call(lambda c: c.anthropic(tool_input))
        except _Failed as failed:
            return failed.result
        content = _content(reply.get("content"))
        if not content:
            return _error("The driverseat daemon sent a reply without content.")
        result: Result = {"content": content, "isError": bool(reply.get("is_error"))}
        if isinstance(reply.get("driverseat"), dict):  # the action's id, status, candidate, time
            result["_meta"] = {"driverseat": reply["driverseat"]}
        return result

    async def state(arguments: dict[str, Any]) -> Result:
        try:
            reply = await proxy.call(lambda c: c.state())
        except _Failed as failed:
            return failed.result
        return {"content": [{"type": "text", "text": json.dumps(reply)}], "isError": False}

    async def ask_human(arguments: dict[str, Any]) -> Result:
        question = _given(ask_tool.TOOL_NAME, arguments, ask_schema)
        try:
            reply = await proxy.call(lambda c: c.ask(question))
        except _Failed as failed:
            return failed.result
        return {"content": _content(ask_tool.result_blocks(reply)), "isError": reply.status != "answered"}

    return [
        Tool("computer", COMPUTER_DESCRIPTION, computer_schema, computer),
        Tool("state", STATE_DESCRIPTION, state_schema, state),
        Tool(ask_tool.TOOL_NAME, ask_tool.DESCRIPTION, ask_schema, ask_human),
    ]


def _version() -> str:
    try:
        return version("driverseat")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0"


def build_server(url: str = DEFAULT_URL, data_dir: str | Path | None = None) -> tuple[Server, _Proxy]:
    """The MCP server with the three tools, proxying to ``url``, and its proxy (whose
    :meth:`_Proxy.session` closes the kept HTTP client)."""
    proxy = _Proxy(url, Path(data_dir).expanduser() if data_dir else default_data_dir())
    return Server("driverseat", _version(), INSTRUCTIONS, tools(proxy)), proxy


async def _serve_stdio(server: Server, proxy: _Proxy) -> None:
    async with proxy.session(), stdio() as wire:
        await server.serve(wire)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (as uvicorn picks it for the daemon): each tool
    call is a few turns of the loop, each cheaper on libuv; else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_mcp(url: str = DEFAULT_URL, data_dir: str | Path | None = None) -> int:
    """Serve MCP on stdin/stdout until the client closes it; returns the exit code."""
    server, proxy = build_server(url, data_dir)
    # stderr is the MCP client's log: warnings only, and httpx logs every request at INFO
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_serve_stdio(server, proxy))
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
