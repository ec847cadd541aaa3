"""Requests that arrive slowly, or never, over real HTTP: each connection's next request
must arrive whole within ``REQUEST_TIMEOUT`` (408 otherwise, and the connection closed), so
that stalled clients cannot keep the daemon's file descriptors (slowloris). Also requests
with two ``Host`` headers, which a guard reading one of them could be fooled by.
"""

from __future__ import annotations

import time

import pytest

from daemon.api import one_write
from tests.daemon.test_hostile_http import TOKEN, Live, _http_answers, _post, live  # noqa: F401 - the fixture

AUTH = b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"


@pytest.fixture
def short(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(one_write, "REQUEST_TIMEOUT", 0.3)
    return 0.3


@pytest.mark.parametrize("sent", [
    b"",
    b"GET /v1/state HTTP/1.1\r\nHo",
    b"POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH + b"Content-Length: 100\r\n\r\n{\"action\": ",
], ids=["nothing", "half a head", "half a body"])  # fmt: skip
def test_a_request_that_does_not_arrive_whole_is_answered_408_and_closed(
    live: Live, short: float, sent: bytes  # noqa: F811
) -> None:
    """uvicorn waited for such a request for as long as the client kept the connection."""
    before = len(live.fake.sent)
    t0 = time.monotonic()
    answers = _http_answers(live.url, *([sent] if sent else []))  # reads until the daemon closes
    assert [status for status, _ in answers] == [408], answers
    assert "did not arrive whole" in answers[0][1]["error"]
    assert time.monotonic() - t0 < 5
    assert len(live.fake.sent) == before  # the half-sent action never ran


def test_a_request_sent_in_pieces_within_the_time_is_served(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(one_write, "REQUEST_TIMEOUT", 2.0)
    pieces = [b"GET /v1/state HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", AUTH, b"Connection: close\r\n\r\n"]
    (status, body), = _http_answers(live.url, *pieces, gap=0.1)  # fmt: skip
    assert status == 200 and "screen" in body


def test_the_clock_stops_while_a_request_waits_behind_a_long_one(live: Live, short: float) -> None:  # noqa: F811
    """Behind a 1 s wait, the daemon stops reading: the next request's body, sent late,
    is the daemon's delay, not the client's."""
    second = _post({"action": "wait", "duration": 0.0})
    head, _, body = second.partition(b"\r\n\r\n")
    answers = _http_answers(live.url, _post({"action": "wait", "duration": 1.0}) + head + b"\r\n\r\n", body, gap=0.6)
    assert [(s, b.get("status")) for s, b in answers[:2]] == [(200, "executed"), (200, "executed")], answers


def test_a_keep_alive_connection_idle_between_requests_is_not_timed_out(live: Live, short: float) -> None:  # noqa: F811
    """Idle between requests (longer than the request timeout), uvicorn's keep-alive
    timeout (5 s) rules: the next request is served on the same connection."""
    get = b"GET /v1/state HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH
    answers = _http_answers(live.url, get + b"\r\n", get + b"Connection: close\r\n\r\n", gap=0.6)
    assert [status for status, _ in answers] == [200, 200], answers


@pytest.mark.parametrize("twice", [b"Host: 127.0.0.1\r\nHost: evil.example\r\n", b"Host: evil.example\r\nHost: 127.0.0.1\r\n"])
def test_a_request_with_two_hosts_is_refused(live: Live, twice: bytes) -> None:  # noqa: F811
    """The guard read the last ``Host``; a proxy in between might have read the first."""
    before = len(live.fake.sent)
    request = _post({"action": "click", "x": 5, "y": 5}).replace(b"Host: 127.0.0.1\r\n", twice)
    (status, body), = _http_answers(live.url, request.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))  # fmt: skip
    assert status == 400 and "more than one Host" in body["error"]
    assert len(live.fake.sent) == before
