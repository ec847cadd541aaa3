"""Hostile requests over real HTTP: every route answers a 4xx with a sentence, never a 5xx
or a hang, and nothing reaches the hands. Also the guard against web pages (DNS
rebinding: a foreign ``Host``, a WebSocket from a foreign ``Origin``).

The daemon runs on the fake backend (no X needed): what it would have sent is in
``fake.sent``. tests/daemon/test_fuzz_api.py fuzzes the same API from its schema on a
real X server.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.api.http import MAX_BODY
from daemon.control.runtime import Runtime
from daemon.review.gate import Gate
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import poll, serving
from tests.daemon.test_gate import PNG, POLICY, SCREEN

TOKEN = "hostile-token-0123456789"
ROUTES = [
    ("POST", "/v1/actions"),
    ("POST", "/v1/anthropic/computer"),
    ("POST", "/v1/openai/computer"),
    ("POST", "/v1/reviews/r1/decision"),
]
DEEP = b"[" * 5000 + b"]" * 5000
BODIES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not json", b"{nope"),
    ("nan", b'{"action": "wait", "duration": NaN}'),
    ("infinity", b'{"action": "click", "x": Infinity, "y": 1}'),
    ("huge int", b'{"action": "click", "x": 1' + b"0" * 400 + b', "y": 1}'),
    ("deep", DEEP),
    ("deep object", b'{"a":' * 3000 + b"1" + b"}" * 3000),
    ("invalid utf-8", b'{"action": "type", "text": "\xff\xfe"}'),
    ("lone surrogate", b'{"action": "type", "text": "\\ud800"}'),
    ("list", b"[1, 2]"),
    ("string", b'"click"'),
    ("null", b"null"),
    ("bool coordinates", b'{"action": "click", "x": true, "y": false}'),
    ("string coordinates", b'{"action": "click", "x": "5", "y": "6"}'),
    ("object as action", b'{"action": {}}'),
    ("list as action", b'{"action": []}'),
    ("object as input", b'{"type": "tool_use", "id": "t", "input": {"action": {"x": 1}}}'),
    ("object everywhere", b'{"action": {}, "actions": {}, "pending_safety_checks": {}, "verdict": {}}'),
    ("bad checks", b'{"action": {"type": "click", "x": 1, "y": 1}, "pending_safety_checks": ["x"]}'),
    ("big batch", json.dumps({"actions": [{"type": "wait", "ms": 0}] * 101}).encode()),
    ("nested wrong", b'{"action": "drag", "path": [[1, [2]], {"x": 1}]}'),
    ("negative", b'{"action": "scroll", "x": -1, "y": -1, "dy": 1}'),
    ("float point", b'{"action": "click", "x": 1.5, "y": 2}'),
    ("verdict junk", b'{"verdict": "approve", "reviewer": "", "points": [[1]], "shown_at": "now"}'),
]


class Live:
    def __init__(self, url: str, fake: FakeBackend, daemon: Daemon | None = None) -> None:
        self.url, self.fake, self.daemon = url, fake, daemon
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("hostile")
    fake = FakeBackend((1366, 768))
    runtime = Runtime(fake, step_interval=0.0)
    store = Store(tmp / "d.db")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp / "frames"), SCREEN, grab_frame=lambda: PNG)
    try:
        daemon = Daemon(runtime, store, gate)
        with serving(create_app(daemon, TOKEN)) as url:
            lv = Live(url, fake, daemon)
            yield lv
            lv.http.close()
    finally:
        runtime.close()
        store.close()


@pytest.mark.parametrize(("name", "body"), BODIES, ids=[b[0] for b in BODIES])
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[r[1] for r in ROUTES])
def test_hostile_bodies_get_a_sentence_and_run_nothing(
    live: Live, method: str, path: str, name: str, body: bytes
) -> None:
    r = live.http.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    error = sentence(path, r.json())
    assert isinstance(error, str) and len(error) > 10
    assert live.fake.sent == []


def sentence(path: str, body: dict[str, Any]) -> str:
    """The refusal's sentence, said in the route's own error form: a vendor's on its
    dialect route (docs/dialects.md), else driverseat's ``{"error": ...}``. The request
    guard's refusals (a body nested too deeply) come before any route: driverseat's."""
    if path == "/v1/anthropic/computer" and "is_error" in body:
        assert body["is_error"] is True and set(body) <= {"type", "tool_use_id", "content", "is_error"}
        return str(body["content"][0]["text"])
    if path == "/v1/openai/computer" and isinstance(body.get("error"), dict):
        assert set(body["error"]) == {"message", "type", "param", "code"}
        return str(body["error"]["message"])
    return str(body["error"])


def test_a_body_over_the_limit_is_refused_unread(live: Live) -> None:
    text = "a" * (MAX_BODY + 10)
    r = live.http.post("/v1/actions", json={"action": "type", "text": text})
    assert r.status_code == 413 and "larger than" in r.json()["error"]
    # streamed without a length: refused once the limit is passed
    chunks = (b"x" * 65536 for _ in range(160))  # 10 MiB
    r = live.http.post("/v1/actions", content=chunks)
    assert r.status_code == 413 and live.fake.sent == []


def test_any_content_type_is_read_as_json(live: Live) -> None:
    r = live.http.post("/v1/actions", content=b'{"action": "cursor_position"}',
                       headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "executed"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.nip.io", "attacker"])
def test_a_request_under_a_foreign_host_name_is_refused(live: Live, host: str) -> None:
    r = live.http.post("/v1/actions", json={"action": "key", "keys": "a"}, headers={"Host": host})
    assert r.status_code == 403 and "IP address or localhost" in r.json()["error"]
    assert httpx.get(live.url + "/healthz", headers={"Host": host}).status_code == 403
    assert live.fake.sent == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:9", "[::1]:8765", "10.1.2.3:80"])
def test_addresses_and_localhost_are_served(live: Live, host: str) -> None:
    assert httpx.get(live.url + "/healthz", headers={"Host": host}).status_code == 200


def _events(url: str, **headers: Any) -> dict[str, Any]:
    ws_url = url.replace("http://", "ws://") + f"/v1/events?token={TOKEN}"
    with connect(ws_url, additional_headers=headers, open_timeout=10) as ws:
        return dict(json.loads(ws.recv(timeout=10)))


def test_a_websocket_from_a_foreign_origin_is_refused(live: Live) -> None:
    assert _events(live.url)["type"] == "state"  # no Origin: not a browser
    port = live.url.rsplit(":", 1)[1]
    assert _events(live.url, Origin=f"http://127.0.0.1:{port}")["type"] == "state"
    with pytest.raises(InvalidStatus) as info:
        _events(live.url, Origin="https://evil.example")
    assert info.value.response.status_code == 403
    assert "comes from a page at 'https://evil.example'" in json.loads(info.value.response.body)["error"]


def _refused_upgrade(url: str, extra: bytes = b"", path: str = f"/v1/events?token={TOKEN}") -> tuple[int, dict[str, Any]]:
    head, _, text = _upgrade(url, extra, path=path).partition(b"\r\n\r\n")
    assert b"101 Switching Protocols" not in head, "the upgrade was accepted"
    assert b"content-type: application/json" in head.lower(), head[:300]
    return int(head.split()[1]), json.loads(text)


def test_a_websocket_with_two_hosts_or_origins_is_a_400_with_a_sentence(live: Live) -> None:
    status, body = _refused_upgrade(live.url, b"Host: 127.0.0.1\r\n")  # the request guard's
    assert status == 400 and "more than one Host (or Origin)" in body["error"], body
    # websockets itself refuses two Origins before the app sees them: its text, in JSON
    status, body = _refused_upgrade(live.url, b"Origin: http://127.0.0.1\r\nOrigin: http://127.0.0.1\r\n")
    assert status == 400 and body["error"] == "the WebSocket upgrade was refused: invalid Origin header: multiple values.", body


@pytest.mark.parametrize("path", ["/v1/state", "/v1/nothing", "/", "/view/websocket"])
def test_a_websocket_where_there_is_none_is_a_404_that_names_the_streams(live: Live, path: str) -> None:
    """Starlette closed such an upgrade before accepting it: a bare 403 with no body."""
    status, body = _refused_upgrade(live.url, path=path)
    assert status == 404, body
    if path == "/view/websocket":  # this daemon has no live view: how to start one
        assert "serve --view" in body["error"]
    else:
        assert "/v1/events" in body["error"]


def test_a_text_message_that_is_not_utf8_closes_the_stream_with_1007_and_no_error_log(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn closed it so too, but logged an ERROR with a traceback (as if the daemon failed)."""
    ws_url = live.url.replace("http://", "ws://") + f"/v1/events?token={TOKEN}"
    with caplog.at_level(logging.INFO), connect(ws_url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "state"
        with ws.protocol_mutex:  # the sans-I/O protocol sends what it is given, unchecked
            ws.protocol.send_text(b"\xff\xfe not utf-8")
            ws.send_data()
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1007
    assert poll(lambda: any("not UTF-8" in r.getMessage() for r in caplog.records), timeout=5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert _events(live.url)["type"] == "state"  # the stream still opens for the next client


def test_the_first_message_carries_the_streams_place_and_the_next_follows_it(live: Live) -> None:
    ws_url = live.url.replace("http://", "ws://") + f"/v1/events?token={TOKEN}"
    with connect(ws_url, open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "state" and type(first["seq"]) is int
        live.http.post("/v1/actions", json={"action": "cursor_position"})
        after = json.loads(ws.recv(timeout=10))
        assert after["type"] == "outcome" and after["seq"] == first["seq"] + 1


def test_a_binary_frame_does_not_drop_the_stream(live: Live) -> None:
    ws_url = live.url.replace("http://", "ws://") + f"/v1/events?token={TOKEN}"
    with connect(ws_url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "state"
        ws.send(b"\x00\x01binary")
        live.http.post("/v1/actions", json={"action": "cursor_position"})
        assert json.loads(ws.recv(timeout=10))["type"] == "outcome"


def test_an_approved_action_waits_for_the_overlays_ack_over_the_stream(live: Live) -> None:
    """Real HTTP and a real WebSocket: an approved click runs once the overlay (``role=overlay``)
    has acknowledged what the stream sent; junk, binary frames and a plain subscriber's
    acks change nothing."""
    assert live.daemon is not None
    hub = live.daemon.hub
    base = live.url.replace("http://", "ws://") + f"/v1/events?token={TOKEN}"
    with connect(base + "&role=overlay", open_timeout=10) as overlay, connect(base, open_timeout=10) as plain:
        assert json.loads(overlay.recv(timeout=10))["type"] == "state"
        assert json.loads(plain.recv(timeout=10))["type"] == "state"
        before = len(live.fake.sent)
        pool = ThreadPoolExecutor(1)
        held = pool.submit(live.http.post, "/v1/actions", json={"action": "click", "x": 5, "y": 5, "confidence": 0.1})
        assert poll(lambda: live.http.get("/v1/reviews").json())
        review_id = live.http.get("/v1/reviews").json()[0]["id"]
        r = live.http.post(f"/v1/reviews/{review_id}/decision", json={"verdict": "approve", "reviewer": "ann"})
        assert r.status_code == 200, r.text
        assert poll(lambda: hub.waiting_for_overlays == 1)
        last = 0
        while True:  # the overlay reads what came, the decision included
            msg = json.loads(overlay.recv(timeout=10))
            last = msg["seq"]
            if msg["type"] == "review_decided":
                break
        overlay.send("not json")
        overlay.send(b"\x00binary")
        overlay.send(json.dumps({"type": "ack", "seq": "7"}))
        plain.send(json.dumps({"type": "ack", "seq": hub.seq}))  # not an overlay: ignored
        assert hub.waiting_for_overlays == 1 and len(live.fake.sent) == before
        overlay.send(json.dumps({"type": "ack", "seq": hub.seq}))
        assert poll(lambda: hub.waiting_for_overlays == 0)
        assert held.result(timeout=10).json()["status"] == "executed"
        assert len(live.fake.sent) > before and last > 0
        pool.shutdown()


def test_nothing_above_left_the_daemon_unwell(live: Live, tmp_path: Path) -> None:
    r = live.http.post("/v1/actions", json={"action": "key", "keys": "a"})
    assert r.status_code == 200 and r.json()["status"] == "executed" and live.fake.sent


def test_a_body_that_is_not_utf8_is_named_as_such(live: Live) -> None:
    before = len(live.fake.sent)
    r = live.http.post("/v1/actions", content=b'{"action": "type", "text": "\xff\xfe"}')
    assert r.status_code == 422 and "not UTF-8" in r.json()["error"] and "0xff" in r.json()["error"]
    assert len(live.fake.sent) == before


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[r[1] for r in ROUTES])
def test_nesting_just_under_the_guards_count_is_still_a_4xx(live: Live, method: str, path: str) -> None:
    """The guard parses a body for its depth only past 500 brackets: one with 499 levels
    goes on to FastAPI and pydantic, and must come back a 4xx too."""
    before = len(live.fake.sent)
    deep = b'{"action": "drag", "path": ' + b"[" * 498 + b"]" * 498 + b"}"
    r = live.http.request(method, path, content=deep)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert len(live.fake.sent) == before


@pytest.mark.parametrize("shown_at", [-1e308, -1.0, 1e308, 5e9])
def test_a_decision_shown_at_an_impossible_time_is_refused_and_changes_nothing(live: Live, shown_at: float) -> None:
    """``shown_at`` far in the past made the latency infinite: the decision was stored and
    its action run, then every read of the review answered 500 (no JSON carries Infinity)."""
    before = len(live.fake.sent)
    pool = ThreadPoolExecutor(1)
    held = pool.submit(live.http.post, "/v1/actions", json={"action": "click", "x": 7, "y": 7, "confidence": 0.1})
    assert poll(lambda: live.http.get("/v1/reviews").json())
    review_id = live.http.get("/v1/reviews").json()[0]["id"]
    r = live.http.post(f"/v1/reviews/{review_id}/decision",
                       json={"verdict": "approve", "reviewer": "ann", "shown_at": shown_at})  # fmt: skip
    assert r.status_code == 422 and "shown_at" in r.text, r.text
    review = live.http.get(f"/v1/reviews/{review_id}")
    assert review.status_code == 200 and review.json()["status"] == "pending" and not review.json()["decisions"]
    assert len(live.fake.sent) == before
    r = live.http.post(f"/v1/reviews/{review_id}/decision", json={"verdict": "reject", "reviewer": "ann"})
    assert r.status_code == 200 and held.result(timeout=10).json()["status"] == "rejected"
    assert len(live.fake.sent) == before
    pool.shutdown()



def _upgrade(url: str, extra: bytes = b"", path: str = f"/v1/events?token={TOKEN}", body: bytes = b"") -> bytes:
    """A raw WebSocket upgrade request (``extra`` header lines, then ``body``); what the
    daemon answered, up to its close or its 101."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n".encode()
                  + extra + b"\r\n" + body)  # fmt: skip
        got = b""
        while b"101 Switching Protocols" not in got:  # socket.timeout: the old code never answered
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


@pytest.mark.parametrize(("extra", "body", "status"), [
    (b"X-A: " + b"a" * 70_000 + b"\r\n", b"", 431),
    (b"".join(b"X-%d: v\r\n" % i for i in range(200)), b"", 431),
    (b"Content-Length: 5\r\n", b"hello", 400),
], ids=["header line over 64 kB", "200 headers", "a body"])  # fmt: skip
def test_an_upgrade_websockets_cannot_read_is_answered_and_closed(
    live: Live, extra: bytes, body: bytes, status: int
) -> None:
    """websockets gave up on such a request without a word: no answer, the connection open
    until the client left, and a shutdown meanwhile crashed (exit 1, the app's close skipped).
    Now: an answer, then the close (``_upgrade`` reads to the end)."""
    head, _, text = _upgrade(live.url, extra, body=body).partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head[:200]
    assert "could not be read" in json.loads(text)["error"]


def test_an_upgrade_line_too_long_is_414(live: Live) -> None:
    got = _upgrade(live.url, path=f"/v1/events?token={TOKEN}&pad={'a' * 70_000}")
    assert got.startswith(b"HTTP/1.1 414 "), got[:200]


def test_a_browser_s_big_cookie_still_opens_the_stream(live: Live) -> None:
    """Every cookie a browser holds for 127.0.0.1 comes along, whatever port set it."""
    assert b"101 Switching Protocols" in _upgrade(live.url, b"Cookie: c=" + b"x" * 9000 + b"\r\n")


def _http_answers(url: str, *writes: bytes, gap: float = 0.0) -> list[tuple[int, dict[str, Any]]]:
    """``writes`` on one raw connection (``gap`` seconds apart); every answer until the
    daemon closes it, as (status, JSON body)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        for i, w in enumerate(writes):
            if i and gap:
                time.sleep(gap)  # the bad data must come while the first request runs
            s.sendall(w)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    answers = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        answers.append((int(head.split()[1]), json.loads(rest[:length])))
        raw = rest[length:]
    return answers


def _post(body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return (b"POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data) + data)  # fmt: skip


DRAG = {"action": "drag", "path": [[100, 100], [500, 500]], "duration": 0.4}


@pytest.mark.parametrize("gap", [0.0, 0.15], ids=["one write", "while it runs"])
def test_bad_data_after_a_request_lets_it_finish_and_answers_it_first(live: Live, gap: float) -> None:
    """uvicorn answered the bad data at once and closed: the drag before it stopped half-way
    as if its client had gone, and the client read the 400 as the drag's answer."""
    before = len(live.fake.sent)
    (ok, drag), (bad, error) = _http_answers(live.url, _post(DRAG), b"GARBAGE\r\n\r\n", gap=gap)
    assert (ok, drag["status"], bad) == (200, "executed", 400), drag
    assert "not valid HTTP/1.1" in error["error"]
    assert len(live.fake.sent) > before + 2


def test_a_request_broken_while_it_waits_its_turn_never_runs(live: Live) -> None:
    """Pipelined behind a running request, one whose chunked body breaks off: the first is
    answered, the broken one is not run, and the 400 comes last."""
    broken = (b"POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode()
              + b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"act\r\nZZ\r\n")  # fmt: skip
    answers = _http_answers(live.url, _post({"action": "wait", "duration": 0.2}) + broken)
    assert [(status, body.get("status")) for status, body in answers] == [(200, "executed"), (400, None)]


def test_bad_data_alone_is_answered_at_once_in_json(live: Live) -> None:
    ((status, body),) = _http_answers(live.url, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n")
    assert status == 400 and "not valid HTTP/1.1" in body["error"]
