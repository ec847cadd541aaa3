"""``driverseat mcp``'s calls that wait, against a real daemon: concurrency, cancellation,
and a client that leaves while a call waits.

An ``ask_human`` call waits for the person (here: this test, answering over HTTP), so it
is the call that is in flight while others come and go. Raw JSON-RPC lines on the
server's pipes (tests/daemon/mcp_wire.py); the daemon is ``driverseat serve
--virtual-display`` (tests/daemon/test_mcp.py's).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.cli.mcp_server import GRACE_S
from tests.daemon.live import poll
from tests.daemon.mcp_wire import RawClient
from tests.daemon.test_mcp import _Daemon

pytestmark = pytest.mark.x11


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    data = tmp_path_factory.mktemp("mcp-calls") / "data"
    d = _Daemon(data)
    try:
        yield d.url(), data
    finally:
        d.close()


class _Person:
    """The daemon's questions, seen and answered over HTTP as the overlay would."""

    def __init__(self, url: str, data: Path) -> None:
        token = (data / "token").read_text().strip()
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def pending(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.http.get("/v1/questions").json()
        return found

    def wait_for_question(self) -> str:
        assert poll(lambda: bool(self.pending()), timeout=30), "the question never arrived"
        return str(self.pending()[0]["id"])

    def answer(self, question_id: str) -> None:
        r = self.http.post(f"/v1/questions/{question_id}/answer",
                           json={"kind": "point", "point": [640, 400], "reviewer": "t"})  # fmt: skip
        r.raise_for_status()


@pytest.fixture
def person(daemon: tuple[str, Path]) -> Iterator[_Person]:
    p = _Person(*daemon)
    try:
        yield p
    finally:  # no question left on the screen for the next test
        for q in p.pending():
            p.answer(q["id"])
        p.http.close()


@pytest.fixture
def client(daemon: tuple[str, Path]) -> Iterator[RawClient]:
    with RawClient(*daemon) as c:
        c.initialize()
        yield c


def _ask(c: RawClient, request_id: int) -> None:
    c.request(request_id, "tools/call", {"name": "ask_human", "arguments": {"question": "Which one?"}})


def test_a_state_call_answers_while_ask_human_waits(client: RawClient, person: _Person) -> None:
    _ask(client, 1)
    question = person.wait_for_question()
    state = client.call(2, "tools/call", {"name": "state", "arguments": {}})  # the next line: not 1's
    assert state["result"]["isError"] is False
    assert json.loads(state["result"]["content"][0]["text"])["control"] == "agent"
    assert client.call(3, "ping")["result"] == {}
    person.answer(question)
    asked = client.recv()
    assert asked["id"] == 1 and asked["result"]["isError"] is False, asked
    assert "pointed at" in asked["result"]["content"][0]["text"]
    assert [c["type"] for c in asked["result"]["content"]] == ["text", "image"]


def test_a_cancelled_call_gets_no_reply_and_its_question_leaves_the_screen(
    client: RawClient, person: _Person
) -> None:
    _ask(client, 1)
    question = person.wait_for_question()
    client.notify("notifications/cancelled", {"requestId": 1, "reason": "the user changed their mind"})
    client.notify("notifications/cancelled", {"requestId": 99})  # no such call: nothing happens
    # nobody waits for the answer any more: the person is not left with the question
    assert poll(lambda: person.http.get(f"/v1/questions/{question}").json()["status"] == "withdrawn", timeout=10)
    assert person.pending() == []
    assert client.call(2, "tools/call", {"name": "state", "arguments": {}})["result"]["isError"] is False
    code, rest = client.close()
    assert code == 0
    assert rest == []  # no reply for 1, ever


def test_calls_in_flight_when_the_client_leaves_are_closed(client: RawClient, person: _Person) -> None:
    """Closing stdin ends the server: a call still waiting after the grace is answered
    "Connection closed" (as the SDK's server did), and the exit code is 0."""
    _ask(client, 7)
    person.wait_for_question()
    code, rest = client.close(timeout=GRACE_S + 30)
    assert code == 0
    assert rest == [{"jsonrpc": "2.0", "id": 7, "error": {"code": -32000, "message": "Connection closed"}}]


def test_a_call_that_ends_within_the_grace_is_answered(daemon: tuple[str, Path]) -> None:
    """``printf requests | driverseat mcp``: stdin ends at once, every reply still comes."""
    with RawClient(*daemon) as c:
        c.initialize()
        c.request(1, "tools/call", {"name": "computer", "arguments": {"action": "screenshot"}})
        c.request(2, "tools/call", {"name": "state", "arguments": {}})
        code, rest = c.close()
    assert code == 0
    assert sorted(m["id"] for m in rest) == [1, 2]
    shot = next(m for m in rest if m["id"] == 1)["result"]
    assert shot["isError"] is False and shot["content"][-1]["mimeType"] == "image/png"


def test_unknown_arguments_never_reach_the_daemon(client: RawClient) -> None:
    """As the SDK's server did: the daemon, which refuses what it does not know, gets only
    the arguments the tool takes (nulls are as absent)."""
    reply = client.call(1, "tools/call", {"name": "computer", "arguments": {
        "action": "cursor_position", "bogus": 1, "text": None, "coordinate": None}})  # fmt: skip
    assert reply["result"]["isError"] is False, reply
    assert reply["result"]["content"][0]["type"] == "text"
