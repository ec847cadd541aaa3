"""``driverseat mcp`` against hostile JSON: it answers, keeps serving, and prints no traceback.

The real proxy subprocess on pipes (tests/daemon/mcp_wire.py), in front of a real daemon
over HTTP (the fake backend: what the hands would have done is in ``fake.sent``). Before:
a line nested ~1100 deep killed the proxy (RecursionError in ``json.loads``), and
NaN/Infinity/1e400 in a tool's arguments came back "Internal error" with a traceback on
stderr (the HTTP client cannot encode them).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.cli.mcp import MAX_DEPTH
from daemon.control.runtime import Runtime
from daemon.review.gate import Gate
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving
from tests.daemon.mcp_wire import ROOT, RawClient, command
from tests.daemon.test_gate import PNG, POLICY, SCREEN

TOKEN = "mcp-hostile-token-0123456789"


class Live:
    def __init__(self, url: str, data: Path, fake: FakeBackend) -> None:
        self.url, self.data, self.fake = url, data, fake


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("mcp-hostile")
    data = tmp / "data"
    data.mkdir(mode=0o700)
    (data / "token").write_text(TOKEN)
    fake = FakeBackend((1366, 768))
    runtime = Runtime(fake, step_interval=0.0)
    store = Store(tmp / "d.db")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp / "frames"), SCREEN, grab_frame=lambda: PNG)
    try:
        with serving(create_app(Daemon(runtime, store, gate), TOKEN)) as url:
            yield Live(url, data, fake)
    finally:
        runtime.close()
        store.close()


class Proxy:
    """The proxy, its stderr in a file (read at the end: no traceback may be in it)."""

    def __init__(self, live: Live, tmp: Path) -> None:
        self.log = tmp / "stderr.txt"
        self._err = self.log.open("wb")
        self.client = RawClient(live.url, live.data, stderr=self._err)
        self.client.initialize()

    def tool(self, request_id: int, name: str, arguments: Any) -> dict[str, Any]:
        reply = self.client.call(request_id, "tools/call", {"name": name, "arguments": arguments})
        return dict(reply)

    def line(self, raw: bytes) -> dict[str, Any]:
        self.client.send(raw + b"\n")
        return dict(self.client.recv())

    def works(self, request_id: int) -> None:
        """The proxy still serves: a ping, and a real call through to the daemon."""
        assert self.client.call(request_id, "ping")["result"] == {}
        result = self.tool(request_id + 1, "computer", {"action": "cursor_position"})["result"]
        assert result["isError"] is False, result

    def close_log(self) -> None:
        if not self._err.closed:
            self._err.close()

    def stderr(self) -> str:
        code, rest = self.client.close()
        self.close_log()
        assert code == 0 and rest == []
        return self.log.read_text()


@pytest.fixture
def proxy(live: Live, tmp_path: Path) -> Iterator[Proxy]:
    p = Proxy(live, tmp_path)
    try:
        with p.client:
            yield p
    finally:
        p.close_log()


def _call_line(request_id: int, arguments: bytes, name: bytes = b"computer") -> bytes:
    return (b'{"jsonrpc": "2.0", "id": %d, "method": "tools/call", "params": {"name": "%s", "arguments": %s}}'
            % (request_id, name, arguments))  # fmt: skip


DEEP_LINES = [
    b"[" * 5000,
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    _call_line(7, b'{"action": "type", "text": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
]


@pytest.mark.parametrize("raw", DEEP_LINES, ids=["brackets", "closed", "objects", "in a call"])
def test_a_line_nested_too_deeply_is_a_parse_error_and_the_proxy_serves_on(proxy: Proxy, raw: bytes) -> None:
    reply = proxy.line(raw)
    assert reply["id"] is None and reply["error"]["code"] == -32700, reply
    assert reply["error"]["message"] == "Parse error" and "nested too deeply" in reply["error"]["data"]
    proxy.works(20)
    assert "Traceback" not in proxy.stderr()


NOT_JSON = [
    (b'{"action": "wait", "duration": NaN}', "NaN"),
    (b'{"action": "left_click", "coordinate": [Infinity, 5]}', "Infinity"),
    (b'{"action": "scroll", "coordinate": [5, 5], "scroll_amount": -Infinity}', "-Infinity"),
]


@pytest.mark.parametrize(("arguments", "name"), NOT_JSON, ids=[n for _, n in NOT_JSON])
def test_nan_and_infinity_are_not_json_a_parse_error(live: Live, proxy: Proxy, arguments: bytes, name: str) -> None:
    """JSON has no NaN or Infinity (RFC 8259), so such a line is not JSON: JSON-RPC's
    parse error, with the id null (a message that does not parse has no id to answer)."""
    before = len(live.fake.sent)
    reply = proxy.line(_call_line(3, arguments))
    assert reply == {"jsonrpc": "2.0", "id": None, "error": {
        "code": -32700, "message": "Parse error", "data": f"{name} is not JSON (JSON has no NaN or Infinity)"}}
    proxy.works(20)
    assert len(live.fake.sent) == before
    assert "Traceback" not in proxy.stderr()


TOO_LARGE = [
    (b"computer", b'{"action": "wait", "duration": 1e400}', "'duration'"),
    (b"computer", b'{"action": "left_click", "coordinate": [1e400, 5]}', "'coordinate[0]'"),
    (b"computer", (b'{"action": "left_click", "coordinate": [5, 5], "alternatives": '
                   b'[{"action": "left_click", "coordinate": [5, -1e999], "confidence": 0.5}]}'),
     "'alternatives[0].coordinate[1]'"),
    (b"ask_human", b'{"question": "which one?", "timeout": 1e400}', "'timeout'"),
]  # fmt: skip


@pytest.mark.parametrize(("tool", "arguments", "place"), TOO_LARGE, ids=["duration", "coordinate", "alternative", "ask"])
def test_a_number_too_large_for_a_float_is_an_error_result_naming_it(
    live: Live, proxy: Proxy, tool: bytes, arguments: bytes, place: str
) -> None:
    """``1e400`` is JSON, but no float: the MCP spec has a tool's input errors come back
    as a result with ``isError`` (the model can read it and correct itself), not as a
    protocol error."""
    before = len(live.fake.sent)
    reply = proxy.line(_call_line(4, arguments, tool))
    assert reply["id"] == 4 and reply["result"]["isError"] is True, reply
    text = reply["result"]["content"][0]["text"]
    assert f"argument {place} is a number out of range" in text, text
    proxy.works(20)
    assert len(live.fake.sent) == before
    assert "Traceback" not in proxy.stderr()


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 980])
def test_arguments_nested_deeper_than_any_tool_takes_are_an_error_result(
    live: Live, proxy: Proxy, depth: int
) -> None:
    """Deep enough to parse, too deep for any argument: said before the HTTP client tries
    to encode it (near the stack's limit, that failed as "Internal error")."""
    before = len(live.fake.sent)
    text = json.dumps(json.loads("[" * depth + "]" * depth)) if depth < 900 else "[" * depth + "]" * depth
    reply = proxy.line(_call_line(5, b'{"action": "type", "text": ' + text.encode() + b"}"))
    if "error" in reply:  # too deep for the parser where the proxy stands: that is said too
        assert reply["error"]["code"] == -32700 and "nested too deeply" in reply["error"]["data"], reply
    else:
        assert reply["result"]["isError"] is True, reply
        assert "argument 'text' is nested too deeply" in reply["result"]["content"][0]["text"]
    proxy.works(20)
    assert len(live.fake.sent) == before
    assert "Traceback" not in proxy.stderr()


def test_the_proxy_alone_on_a_closed_pipe_exits_cleanly(live: Live, tmp_path: Path) -> None:
    """Hostile lines written and stdin closed at once (``printf ... | driverseat mcp``):
    every one answered in order, exit 0."""
    lines = [*DEEP_LINES, _call_line(9, NOT_JSON[0][0]), b'{"jsonrpc": "2.0", "id": 10, "method": "ping"}']
    proc = subprocess.run(
        command(live.url, live.data), input=b"\n".join(lines) + b"\n", capture_output=True, timeout=60,
        check=False, cwd=ROOT,
    )
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert [r.get("error", {}).get("code") for r in replies] == [-32700] * 5 + [None]
    assert replies[-1] == {"jsonrpc": "2.0", "id": 10, "result": {}}

