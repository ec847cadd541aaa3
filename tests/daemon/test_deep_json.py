"""JSON nested too deeply to parse, and NaN/Infinity/1e400, wherever driverseat parses a
string it was handed: a 4xx (or an error line) with a sentence, never a 500 or a crash.

``json.loads`` raises RecursionError, not a ValueError, for ``[`` * 5000: each
``except ValueError`` let it through. Over real HTTP against a real daemon on the fake
backend (tests/daemon/test_hostile_http.py's, which covers the action routes' bodies);
the client side against a stub that answers such JSON; ``driverseat locate --batch`` as
a real process. The MCP proxy's are in tests/daemon/test_mcp_hostile.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.ask.desk import QuestionDesk
from daemon.client import Client
from daemon.control.runtime import Runtime
from daemon.errors import DaemonError
from daemon.review.gate import Gate
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving
from tests.daemon.mcp_wire import ROOT, RawClient
from tests.daemon.test_gate import PNG, POLICY, SCREEN
from tests.daemon.test_questions import SCALING

TOKEN = "deep-json-token-0123456789"
DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000


class Live:
    def __init__(self, url: str, fake: FakeBackend) -> None:
        self.url, self.fake = url, fake
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    def nothing_asked(self) -> bool:
        return self.http.get("/v1/questions").json() == []


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("deep-json")
    fake = FakeBackend((1366, 768))
    runtime = Runtime(fake, step_interval=0.0)
    store = Store(tmp / "d.db")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp / "frames"), SCREEN, grab_frame=lambda: PNG)
    try:
        desk = QuestionDesk(store, tmp / "questions", SCALING, grab_frame=lambda: PNG)  # questions can be asked
        with serving(create_app(Daemon(runtime, store, gate, questions=desk), TOKEN)) as url:
            lv = Live(url, fake)
            yield lv
            lv.http.close()
    finally:
        runtime.close()
        store.close()


def _function_call(arguments: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": "call_1", "name": "ask_human", "arguments": arguments}


ARGUMENTS = [
    ("deep arrays", DEEP, "nested too deeply"),
    ("deep objects", DEEP_OBJECT, "nested too deeply"),
    ("deep in a field", '{"question": "which?", "goal": ' + DEEP + "}", "nested too deeply"),
    ("NaN", '{"question": "which?", "timeout": NaN}', "NaN is not JSON"),
    ("Infinity", '{"question": "which?", "timeout": Infinity}', "Infinity is not JSON"),
    ("-Infinity", '{"question": "which?", "options": [{"text": "a", "point": [-Infinity, 1]}]}', "-Infinity is not JSON"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "arguments", "said"), ARGUMENTS, ids=[a[0] for a in ARGUMENTS])
def test_openai_ask_arguments_that_are_not_json_are_a_422(live: Live, name: str, arguments: str, said: str) -> None:
    """The function call's ``arguments`` is a string the daemon parses itself: nested 5000
    deep it was a 500 (RecursionError past ``except ValueError``); NaN and Infinity are not
    JSON either, and are said so rather than left to the question's validation."""
    r = live.http.post("/v1/openai/ask", json=_function_call(arguments), params={"wait": 0})
    assert r.status_code == 422, (r.status_code, r.text[:300])
    error = r.json()["error"]
    assert error.startswith("the function call's arguments are not JSON") and said in error, error
    assert live.nothing_asked()


@pytest.mark.parametrize("arguments", [
    '{"question": "which?", "timeout": 1e400}',
    '{"question": "which?", "options": [{"text": "a", "point": [1e400, 1]}]}',
    '{"question": "which?", "timeout": 1' + "0" * 5000 + "}",
    '{"question": "which?", "goal": ' + "[" * 900 + "]" * 900 + "}",
], ids=["1e400 timeout", "1e400 point", "5000 digits", "900 deep"])  # fmt: skip
def test_openai_ask_arguments_out_of_range_are_a_4xx(live: Live, arguments: str) -> None:
    """JSON, but no question: a number no float holds, one too long for an int, nesting the
    parser survives but no field takes."""
    r = live.http.post("/v1/openai/ask", json=_function_call(arguments), params={"wait": 0})
    assert r.status_code == 422, (r.status_code, r.text[:300])
    assert len(r.json()["error"]) > 20 and live.nothing_asked()


POST_ROUTES = [
    "/v1/actions", "/v1/anthropic/computer", "/v1/openai/computer", "/v1/reviews/r1/decision",
    "/v1/reviews/r1/seen", "/v1/shadow/commentary", "/v1/questions", "/v1/questions/q1/answer",
    "/v1/questions/q1/withdraw", "/v1/questions/q1/seen", "/v1/anthropic/ask", "/v1/openai/ask",
]  # fmt: skip
BODIES = [
    ("deep", DEEP.encode()),
    ("deep object", DEEP_OBJECT.encode()),
    ("deep under the guard's count", b'{"question": "q", "input": {"goal": ' + b"[" * 499 + b"]" * 499 + b"}}"),
    ("deep in a field", b'{"type": "tool_use", "id": "t", "input": {"question": "q", "goal": ' + DEEP.encode() + b"}}"),
    ("950 deep in a field", b'{"question": "q", "input": {"goal": ' + b"[" * 950 + b"]" * 950 + b"}}"),
    ("990 deep", b'{"a":' * 990 + b"1" + b"}" * 990),
    ("NaN", b'{"question": "q", "timeout": NaN, "kind": "point", "point": [NaN, 1], "moment": NaN, "shown_at": NaN}'),
    ("Infinity", b'{"question": "q", "timeout": Infinity, "point": [Infinity, 1], "shown_at": -Infinity}'),
    ("1e400", b'{"question": "q", "timeout": 1e400, "kind": "point", "point": [1e400, 1], "shown_at": 1e400}'),
    ("1e400 input", b'{"type": "tool_use", "id": "t", "input": {"question": "q", "timeout": 1e400}}'),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body"), BODIES, ids=[b[0] for b in BODIES])
@pytest.mark.parametrize("path", POST_ROUTES)
def test_every_route_answers_hostile_json_with_a_4xx(live: Live, path: str, name: str, body: bytes) -> None:
    before = len(live.fake.sent)
    r = live.http.post(path, content=body, params={"wait": 0} if "question" in path or "ask" in path else None)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    data = r.json()
    error = data["error"]["message"] if isinstance(data.get("error"), dict) else data.get("error")
    if error is None:  # a vendor's own form: the anthropic tool_result
        error = data["content"][0]["text"]
    assert isinstance(error, str) and len(error) > 10
    assert len(live.fake.sent) == before and live.nothing_asked()


class _Stub(BaseHTTPRequestHandler):
    """A "daemon" whose every answer is JSON nested too deeply to parse."""

    def do_GET(self) -> None:
        body = DEEP.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_client_takes_an_answer_nested_too_deeply_as_an_error(stub: str) -> None:
    """daemon/jsonsplice.py's ``loads``: the RecursionError went past the client's
    ``except ValueError``; now it is the client's error, with the status and a sentence."""
    with Client(stub, TOKEN) as c, pytest.raises(DaemonError) as info:
        c.state()
    assert "answered 200" in str(info.value)


def test_the_mcp_proxy_takes_such_an_answer_as_an_error_result(stub: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "token").write_text(TOKEN)
    err = (tmp_path / "stderr.txt").open("wb")
    try:
        with RawClient(stub, data, stderr=err) as c:
            c.initialize()
            result = c.call(1, "tools/call", {"name": "state", "arguments": {}})["result"]
            assert result["isError"] is True and "daemon failed" in result["content"][0]["text"], result
            assert c.call(2, "ping")["result"] == {}
            assert c.close()[0] == 0
    finally:
        err.close()
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()


def test_locate_batch_says_a_line_is_nested_too_deeply_and_goes_on(tmp_path: Path) -> None:
    """``driverseat locate --batch``: each line is JSON the user handed over; one nested
    too deeply ended the batch with a traceback."""
    batch = tmp_path / "in.jsonl"
    lines = [DEEP, '{"image": "a.png", "x": NaN, "y": 1}', '{"image": "nope.png", "x": 1, "y": 2}']
    batch.write_text("".join(line + "\n" for line in lines))
    proc = subprocess.run([sys.executable, "-m", "daemon.cli", "locate", "--batch", str(batch)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)  # fmt: skip
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert answers == [
        {"error": "not JSON: the JSON is nested too deeply to parse"},
        {"error": "not JSON: NaN is not JSON (JSON has no NaN or Infinity)"},
        {"error": "nope.png is not a file"},
    ]


def test_a_sound_question_is_still_asked(live: Live) -> None:
    """The control for ``nothing_asked`` above: this daemon does ask, when the JSON is sound."""
    r = live.http.post("/v1/questions", json={"question": "which one?", "timeout": 30})
    assert r.status_code == 200, r.text
    assert not live.nothing_asked()
    assert live.http.post(f"/v1/questions/{r.json()['id']}/withdraw").status_code == 200
    assert live.nothing_asked()
