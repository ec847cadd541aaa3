"""A small MCP server for stdio: newline-delimited JSON-RPC 2.0, tools only.

What ``driverseat mcp`` needs of the protocol and nothing else, so a tool call costs a
``json.loads``, a dict lookup, the tool's own work and one write (the MCP SDK's server
validated every message with pydantic models and passed it through anyio memory streams
and task groups: about a millisecond a call, more than the HTTP request it proxies).

Served: ``initialize`` (the handshake of protocol versions :data:`PROTOCOL_VERSIONS`: the
client's version when it is one of them, else the newest), ``ping``, ``tools/list``,
``tools/call``, and the notifications ``notifications/initialized`` and
``notifications/cancelled`` (the request named is cancelled and gets no reply, as the spec
says). Tool calls run concurrently, each in its own task (an ``ask_human`` call waits
minutes for a person, and a ``state`` call meanwhile answers at once); ``initialize``,
``ping`` and ``tools/list`` are answered in line. Errors are JSON-RPC errors: -32700 for a
line that is not JSON (its ``id`` is null; the server reads on: that includes ``NaN`` and
``Infinity``, which are not JSON, and a line nested too deeply to parse), -32600 for a message that
is not a request, -32601 for an unknown method, -32602 for an unknown tool or ``params``
not of the method's form. A tool's own failures are results with ``isError``.

When the client closes stdin, calls still running get :data:`GRACE_S` to finish (a client
may write its requests and close at once: ``printf ... | driverseat mcp``), then the rest
are answered with the SDK's -32000 "Connection closed" and :meth:`Server.serve` returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daemon.cli.mcp_stdio import Wire
from daemon.jsonsplice import json_verbatim
from daemon.jsontext import NotJSON, parse

__all__ = [
    "GRACE_S", "LATEST_PROTOCOL_VERSION", "PROTOCOL_VERSIONS", "Server", "Tool", "ToolError", "encode_result",
]  # fmt: skip

log = logging.getLogger(__name__)

# the initialize-handshake revisions (the SDK's HANDSHAKE_PROTOCOL_VERSIONS), oldest first;
# tools/list and tools/call are the same in all of them
PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_PROTOCOL_VERSION = PROTOCOL_VERSIONS[-1]
GRACE_S = 2.0

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
INTERNAL_ERROR, CONNECTION_CLOSED = -32603, -32000

Result = dict[str, Any]


class ToolError(Exception):
    """Raised by a tool for arguments it cannot take: an error result with this text."""


@dataclass(frozen=True)
class Tool:
    """One tool: what ``tools/list`` says of it and what ``tools/call`` runs.

    ``call`` gets the arguments (a dict, ``{}`` when none came) and returns the
    ``CallToolResult`` as a JSON-ready dict (``content``, ``isError``).
    """

    name: str
    description: str
    input_schema: Mapping[str, Any]
    call: Callable[[dict[str, Any]], Awaitable[Result]]

    def listing(self) -> Result:
        return {"name": self.name, "description": self.description, "inputSchema": dict(self.input_schema)}


class _RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def body(self) -> Result:
        error: Result = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def _encode(message: Result) -> bytes:
    # compact, and ASCII-only output needs no UTF-8 pass: a screenshot's base64 is most
    # of what is written, and it is ASCII anyway
    return json.dumps(message, separators=(",", ":")).encode("ascii") + b"\n"


def _block(block: Any) -> list[bytes]:
    """One content block, in parts; an image's base64 is written as it is, not through the
    JSON encoder (which looks at each character: ~1.4 ms for a real screen's 367 kB, where
    checking that JSON would write it unchanged is ~0.05: daemon/jsonsplice.py)."""
    data = block.get("data") if isinstance(block, dict) and block.keys() == {"type", "data", "mimeType"} else None
    raw = json_verbatim(data) if isinstance(data, str) else None
    if raw is not None:
        head = json.dumps({"type": block["type"], "mimeType": block["mimeType"]}, separators=(",", ":"))
        return [head[:-1].encode("ascii"), b',"data":"', raw, b'"}']
    return [json.dumps(block, separators=(",", ":")).encode("ascii")]


def encode_result(request_id: str | int, result: Result) -> bytes:
    """``{"jsonrpc": "2.0", "id": ..., "result": result}`` as a line, the same JSON as
    :func:`_encode` would write (``content`` first). Joined once: each ``+`` of bytes
    would copy the screenshot again (six copies of 367 kB were ~0.25 ms)."""
    content = result.get("content")
    if not isinstance(content, list):
        return _encode({"jsonrpc": "2.0", "id": request_id, "result": result})
    rest = {k: v for k, v in result.items() if k != "content"}
    parts = [b'{"jsonrpc":"2.0","id":', json.dumps(request_id).encode("ascii"), b',"result":{"content":[']
    for i, block in enumerate(content):
        if i:
            parts.append(b",")
        parts += _block(block)
    parts.append(b"]")
    if rest:
        parts += (b",", json.dumps(rest, separators=(",", ":")).encode("ascii")[1:-1])
    parts.append(b"}}\n")
    return b"".join(parts)


def _error(request_id: Any, exc: _RpcError) -> bytes:
    return _encode({"jsonrpc": "2.0", "id": request_id, "error": exc.body()})


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


class Server:
    """Serves ``tools`` to one client on a :class:`~daemon.cli.mcp_stdio.Wire`."""

    def __init__(self, name: str, version: str, instructions: str, tools: Sequence[Tool]) -> None:
        self._tools = {t.name: t for t in tools}
        self._info = {"name": name, "version": version}
        self._instructions = instructions
        self._listed = {"tools": [t.listing() for t in tools]}
        self._calls: dict[str | int, asyncio.Task[None]] = {}
        self._wire: Wire | None = None

    async def serve(self, wire: Wire) -> None:
        """Answer ``wire``'s lines until it ends, then finish (or cut off) calls under way."""
        self._wire = wire
        while True:
            try:
                line = await wire.readline()
            except ValueError:  # over the line limit: dropped, and said so, as a parse error
                await self._send(_error(None, _RpcError(PARSE_ERROR, "Parse error", "line too long")))
                continue
            if not line:
                break
            if line.strip():
                await self._take(line)
        await self._close()

    async def _close(self) -> None:
        calls = list(self._calls.values())
        if calls:
            await asyncio.wait(calls, timeout=GRACE_S)
        closed = _RpcError(CONNECTION_CLOSED, "Connection closed")
        for request_id, task in list(self._calls.items()):
            task.cancel()
            await self._send(_error(request_id, closed))
        await asyncio.gather(*calls, return_exceptions=True)

    async def _send(self, data: bytes) -> None:
        assert self._wire is not None
        try:
            await self._wire.send(data)
        except (ConnectionError, OSError) as exc:  # the client left: nothing to tell it
            log.debug("reply not sent: %s", exc)

    async def _take(self, line: bytes) -> None:
        """One line: a request, a notification, or something the client gets told off for."""
        try:
            message = parse(line)
        except NotJSON as exc:  # nested too deeply for the parser, or NaN/Infinity
            await self._send(_error(None, _RpcError(PARSE_ERROR, "Parse error", str(exc))))
            return
        except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
            await self._send(_error(None, _RpcError(PARSE_ERROR, "Parse error")))
            return
        if not isinstance(message, dict):  # a batch (gone since 2025-06-18) or a scalar
            await self._send(_error(None, _RpcError(INVALID_REQUEST, "Invalid Request")))
            return
        method, request_id = message.get("method"), message.get("id")
        if method is None and "id" in message and ("result" in message or "error" in message):
            return  # a response: this server sends no requests, so there is nothing to match
        if message.get("jsonrpc") != "2.0" or not isinstance(method, str) or (
            "id" in message and not _valid_id(request_id)
        ):
            reply_id = request_id if _valid_id(request_id) else None
            await self._send(_error(reply_id, _RpcError(INVALID_REQUEST, "Invalid Request")))
            return
        params = message.get("params")
        if params is not None and not isinstance(params, dict):
            if "id" in message:
                await self._send(_error(request_id, _RpcError(INVALID_PARAMS, "Invalid params")))
            return
        if "id" not in message:
            self._notified(method, params or {})
            return
        if method == "tools/call":
            call_id: str | int = message["id"]  # present and valid: checked above
            if call_id in self._calls:
                await self._send(_error(call_id, _RpcError(INVALID_REQUEST, "Request id in use")))
                return
            self._calls[call_id] = asyncio.create_task(self._call(call_id, params or {}))
            return
        try:
            result = self._answer(method, params or {})
        except _RpcError as exc:
            await self._send(_error(request_id, exc))
            return
        await self._send(_encode({"jsonrpc": "2.0", "id": request_id, "result": result}))

    def _answer(self, method: str, params: dict[str, Any]) -> Result:
        """The requests answered in line: nothing in them waits."""
        if method == "initialize":
            asked = params.get("protocolVersion")
            if not isinstance(asked, str):
                raise _RpcError(INVALID_PARAMS, "Invalid params", "protocolVersion: a string is required")
            return {
                "protocolVersion": asked if asked in PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": dict(self._info),
                "instructions": self._instructions,
            }
        if method == "ping":
            return {}
        if method == "tools/list":
            return self._listed  # one page: no cursor is ever handed out
        raise _RpcError(METHOD_NOT_FOUND, "Method not found", method)

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        if method == "notifications/cancelled":
            request_id = params.get("requestId")
            # the task forgets itself as it ends: a call cancelled here is never answered
            task = self._calls.get(request_id) if isinstance(request_id, (str, int)) else None
            if task is not None:
                task.cancel()
        # notifications/initialized and any other notification: nothing to do

    async def _call(self, request_id: str | int, params: dict[str, Any]) -> None:
        """One tools/call, in its own task; replies unless cancelled (the spec: no reply)."""
        try:
            reply = await self._reply(request_id, params)
        finally:
            self._calls.pop(request_id, None)
        task = asyncio.current_task()
        if task is None or not task.cancelling():  # a cancel the tool swallowed still counts
            await self._send(reply)

    async def _reply(self, request_id: str | int, params: dict[str, Any]) -> bytes:
        try:
            return encode_result(request_id, await self._run(params))
        except _RpcError as exc:
            return _error(request_id, exc)
        except Exception as exc:  # a bug in a tool: the client gets told, the server goes on
            log.exception("tool call failed")
            return _error(request_id, _RpcError(INTERNAL_ERROR, "Internal error", str(exc)))

    async def _run(self, params: dict[str, Any]) -> Result:
        name, arguments = params.get("name"), params.get("arguments")
        if not isinstance(name, str):
            raise _RpcError(INVALID_PARAMS, "Invalid params", "name: a string is required")
        if arguments is not None and not isinstance(arguments, dict):
            raise _RpcError(INVALID_PARAMS, "Invalid params", "arguments: an object is required")
        tool = self._tools.get(name)
        if tool is None:  # the spec's own example: a protocol error, not a result
            raise _RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
        try:
            return await tool.call(arguments or {})
        except ToolError as exc:
            return {"content": [{"type": "text", "text": f"Error executing tool {name}: {exc}"}], "isError": True}
