"""``driverseat mcp``'s own JSON-RPC server (daemon/cli/mcp_server.py) as a client meets it.

Raw lines on the real subprocess's pipes (tests/daemon/mcp_wire.py). None of these needs a
daemon: every tool call here is answered before any request to one (an unknown tool, bad
``params``) or with the "not running" result of a closed port. The calls that wait for a
person are in test_mcp_calls.py, against a real daemon.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.cli.mcp_server import LATEST_PROTOCOL_VERSION, PROTOCOL_VERSIONS
from daemon.cli.mcp_stdio import LINE_LIMIT
from tests.daemon.mcp_wire import ROOT, RawClient, command

REFERENCE = Path(__file__).with_name("mcp_tools_reference.json")


def _closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[RawClient]:
    with RawClient(_closed_url(), tmp_path / "data") as c:
        yield c


def _not_running(c: RawClient, request_id: int) -> None:
    reply = c.call(request_id, "tools/call", {"name": "state", "arguments": {}})
    assert reply["result"]["isError"] is True
    assert "is not running" in reply["result"]["content"][0]["text"]


@pytest.mark.parametrize("version", [LATEST_PROTOCOL_VERSION, "2025-06-18", "2024-11-05"])
def test_initialize_answers_the_version_asked_for(client: RawClient, version: str) -> None:
    result = client.initialize(version)["result"]
    assert result["protocolVersion"] == version
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["serverInfo"]["name"] == "driverseat" and result["serverInfo"]["version"]
    assert "take over at any moment" in result["instructions"]


def test_initialize_with_an_unknown_version_gets_the_latest(client: RawClient) -> None:
    assert client.initialize("2099-01-01")["result"]["protocolVersion"] == LATEST_PROTOCOL_VERSION
    assert LATEST_PROTOCOL_VERSION == PROTOCOL_VERSIONS[-1] == "2025-11-25"


def test_tools_list_is_the_sdk_servers(client: RawClient) -> None:
    """The same names, descriptions and schemas, key for key, as the MCP SDK's server listed."""
    client.initialize()
    listed = client.call(1, "tools/list")["result"]
    assert listed == json.loads(REFERENCE.read_text())
    assert client.call(2, "tools/list", {"cursor": "x"})["result"] == listed


def test_ping(client: RawClient) -> None:
    assert client.call(1, "ping")["result"] == {}
    assert client.call("two", "ping", {"_meta": {"progressToken": 1}}) == {"jsonrpc": "2.0", "id": "two",
                                                                         "result": {}}  # fmt: skip


def test_malformed_lines_get_errors_and_the_server_reads_on(client: RawClient) -> None:
    client.send(b"{not json\n")
    assert client.recv() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}
    client.send(b"\xff\xfe\n")  # not UTF-8
    assert client.recv()["error"]["code"] == -32700
    client.send(b"[1, 2]\n")  # a batch: gone from the protocol since 2025-06-18
    assert client.recv() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request"}}
    client.send({"id": 5, "method": "ping"})  # no "jsonrpc": "2.0"
    assert client.recv() == {"jsonrpc": "2.0", "id": 5, "error": {"code": -32600, "message": "Invalid Request"}}
    client.send({"jsonrpc": "2.0", "id": 6, "method": 7})
    assert client.recv()["error"]["code"] == -32600
    client.send({"jsonrpc": "2.0", "id": [7], "method": "ping"})  # an id must be a string or a number
    assert client.recv() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request"}}
    client.send({"jsonrpc": "2.0", "id": 8, "method": "ping", "params": [1]})
    assert client.recv()["error"]["code"] == -32602
    client.send(b"\n  \n")  # blank lines: nothing to answer
    client.send({"jsonrpc": "2.0", "id": 9, "result": {}})  # a response: this server asked nothing
    # over the line limit, and longer than what the server buffers before it looks for the
    # newline: dropped whole, however much of it came in one read
    client.send(b"x" * (2 * LINE_LIMIT + 10) + b"\n")
    assert client.recv()["error"] == {"code": -32700, "message": "Parse error", "data": "line too long"}
    assert client.call(10, "ping")["result"] == {}
    _not_running(client, 11)


def test_unknown_method(client: RawClient) -> None:
    client.initialize()
    assert client.call(1, "resources/list")["error"] == {
        "code": -32601, "message": "Method not found", "data": "resources/list"
    }  # fmt: skip
    client.notify("notifications/whatever")  # an unknown notification: no reply
    assert client.call(2, "ping")["result"] == {}


def test_unknown_tool_is_invalid_params(client: RawClient) -> None:
    client.initialize()
    reply = client.call(1, "tools/call", {"name": "fly", "arguments": {}})
    assert reply["error"] == {"code": -32602, "message": "Unknown tool: fly"}


def test_params_not_of_the_form_are_invalid_params(client: RawClient) -> None:
    client.initialize()
    assert client.call(1, "tools/call", {"arguments": {}})["error"]["code"] == -32602
    assert client.call(2, "tools/call", {"name": "state", "arguments": [1]})["error"]["code"] == -32602
    assert client.call(3, "initialize", {"capabilities": {}})["error"]["code"] == -32602


def test_arguments_are_taken_as_the_sdk_server_took_them(client: RawClient) -> None:
    """A missing required argument is an error result; unknown ones are dropped and nulls
    are as absent (the call goes on to the daemon: here, one that is not running)."""
    client.initialize()
    missing = client.call(1, "tools/call", {"name": "computer", "arguments": {"coordinate": [1, 2]}})
    assert missing["result"] == {"content": [{"type": "text", "text": (
        "Error executing tool computer: missing required argument 'action'")}], "isError": True}  # fmt: skip
    asked = client.call(2, "tools/call", {"name": "ask_human", "arguments": {}})
    assert "missing required argument 'question'" in asked["result"]["content"][0]["text"]
    extra = client.call(3, "tools/call", {"name": "computer",
                                          "arguments": {"action": "screenshot", "bogus": 1, "text": None}})  # fmt: skip
    assert extra["result"]["isError"] and "is not running" in extra["result"]["content"][0]["text"]
    no_arguments = client.call(4, "tools/call", {"name": "state"})
    assert "is not running" in no_arguments["result"]["content"][0]["text"]


def test_closing_stdin_ends_the_server_with_0(client: RawClient) -> None:
    client.initialize()
    _not_running(client, 1)
    code, rest = client.close()
    assert code == 0 and rest == []


def test_replies_to_concurrent_calls_are_whole_lines(client: RawClient) -> None:
    """Calls written at once are answered, each in one line, in whatever order they finish."""
    client.initialize()
    for i in range(1, 21):
        client.request(i, "tools/call", {"name": "state", "arguments": {}})
    replies = [client.recv() for _ in range(20)]
    assert sorted(r["id"] for r in replies) == list(range(1, 21))
    assert all(r["result"]["isError"] for r in replies)


@pytest.mark.parametrize("stdout", ["file", "stderr"])
def test_stdin_and_stdout_that_are_not_pipes(tmp_path: Path, stdout: str) -> None:
    """A file for stdin, and a file or stderr itself (``2>&1``) for stdout: the server
    reads every request (and drops a line too long), answers each on its line, and exits 0
    at the end of the file."""
    lines = [{"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "t", "version": "0"}}},
             {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
             {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "state"}}]  # fmt: skip
    requests = tmp_path / "in.jsonl"
    encoded = [json.dumps(m).encode() + b"\n" for m in lines]
    too_long = b"x" * (2 * LINE_LIMIT + 10) + b"\n"
    requests.write_bytes(encoded[0] + too_long + b"".join(encoded[1:]))
    out = tmp_path / "out.jsonl"
    with requests.open("rb") as stdin, out.open("wb") as sink:
        proc = subprocess.run(
            command(_closed_url(), tmp_path / "data"), stdin=stdin, stdout=sink, cwd=ROOT, timeout=60, check=False,
            stderr=subprocess.STDOUT if stdout == "stderr" else subprocess.DEVNULL,
        )  # fmt: skip
    assert proc.returncode == 0
    replies = {m["id"]: m for m in map(json.loads, out.read_text().splitlines())}
    assert set(replies) == {1, None, 2, 3}
    assert replies[None]["error"] == {"code": -32700, "message": "Parse error", "data": "line too long"}
    assert replies[1]["result"]["protocolVersion"] == "2025-06-18"
    assert replies[2]["result"] == json.loads(REFERENCE.read_text())
    assert "is not running" in replies[3]["result"]["content"][0]["text"]


def test_the_sdk_client_gets_its_newest_version(tmp_path: Path) -> None:
    """The MCP SDK's own client asks for its newest handshake version, and gets it; the
    versions served are the SDK's handshake versions (a new one there fails this test)."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.shared.exceptions import MCPError
    from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

    assert PROTOCOL_VERSIONS == HANDSHAKE_PROTOCOL_VERSIONS
    cmd = command(_closed_url(), tmp_path / "data")
    params = StdioServerParameters(command=cmd[0], args=cmd[1:], cwd=str(ROOT))

    async def run() -> tuple[Any, Any, str]:
        with (tmp_path / "err").open("w") as err:
            async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as s:
                init = await asyncio.wait_for(s.initialize(), 30)
                state = await asyncio.wait_for(s.call_tool("state", {}), 30)
                try:
                    await asyncio.wait_for(s.call_tool("fly", {}), 30)
                except MCPError as exc:
                    return init, state, str(exc)
                raise AssertionError("an unknown tool was not an error")

    init, state, unknown = asyncio.run(run())
    assert init.protocol_version == LATEST_HANDSHAKE_VERSION
    assert init.server_info.name == "driverseat"
    assert init.capabilities.tools is not None and init.capabilities.tools.list_changed is False
    assert state.is_error and "is not running" in state.content[0].text
    assert unknown == "Unknown tool: fly"


def test_no_mcp_sdk_at_run_time() -> None:
    """The proxy imports neither the MCP SDK nor what its server ran on (the SDK is a test
    dependency only)."""
    code = ("import sys, daemon.cli.mcp; print(sorted({m.split('.')[0] for m in sys.modules}"
            " & {'mcp', 'mcp_types', 'anyio', 'pydantic_settings', 'starlette', 'sse_starlette'}))")  # fmt: skip
    out = subprocess.run([command("", Path())[0], "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True, timeout=60)  # fmt: skip
    assert out.stdout.strip() == "[]", out.stdout


def test_the_reply_pipe_is_widened_so_a_screenshot_leaves_in_one_write(client: RawClient) -> None:
    """Linux gives a pipe 64 KiB: a screenshot's reply (half a megabyte) took eight writes,
    each waiting for the client to read. The proxy widens its stdout to pipe-max-size."""
    import fcntl

    client.initialize()  # the proxy is serving: its stdio set up
    assert client.proc.stdout is not None
    size = fcntl.fcntl(client.proc.stdout.fileno(), getattr(fcntl, "F_GETPIPE_SZ", 1032))
    with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as f:
        assert size == min(int(f.read()), 4 << 20) > 1 << 16
