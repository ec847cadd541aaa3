"""daemon.client: the sync and async shells over one set of exchanges.

The network is replaced by ``httpx.MockTransport`` (the injection point httpx ships) where
the test is about what is sent and how answers read, and is real (uvicorn on loopback, a
closed port) where it is about connections.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from daemon.actions import Click
from daemon.client import AsyncClient, Client, ClientError, NotRunning
from daemon.errors import ActionError, AuthError
from daemon.exchanges import ACTION_TIMEOUT, MAX_WAIT, _review
from daemon.outcomes import DecisionRequest
from tests.daemon.live import serving

REVIEW = {
    "id": "r/1", "action_id": "a1", "action": {"action": "click", "x": 1, "y": 2},
    "screen_action": {"action": "click", "x": 1, "y": 2}, "tier": "approve", "rule": "r",
    "created": 1.0,
}  # fmt: skip
OUTCOME = {"id": "o1", "action": "click", "status": "executed"}

Handler = Callable[[httpx.Request], httpx.Response]


def _answer(request: httpx.Request) -> httpx.Response:
    """A plausible daemon: the right shape of answer for each route."""
    path = request.url.path
    if path == "/v1/actions":
        return httpx.Response(200, json=OUTCOME)
    if path == "/v1/reviews":
        return httpx.Response(200, json=[REVIEW])
    if path.endswith("/screenshot"):
        return httpx.Response(200, content=b"\x89PNG...", headers={"content-type": "image/png"})
    if path.startswith("/v1/reviews/"):
        return httpx.Response(200, json={**REVIEW, "status": "approved"})
    if path == "/healthz":
        return httpx.Response(200, json={"ok": True})
    return httpx.Response(200, json={"control": "agent", "path": path})


def _both(handler: Handler, method: str, *args: Any) -> tuple[Any, Any]:
    """``method(*args)`` on a Client and on an AsyncClient over ``handler``: each one's result,
    or the exception it raised."""
    transport = httpx.MockTransport(handler)
    try:
        with Client("http://daemon.test/", "tok", transport=transport) as c:
            sync: Any = getattr(c, method)(*args)
    except Exception as exc:  # noqa: BLE001 - compared with the async one below
        sync = exc

    async def run() -> Any:
        async with AsyncClient("http://daemon.test/", "tok", transport=transport) as c:
            return await getattr(c, method)(*args)

    try:
        asynchronous: Any = asyncio.run(run())
    except Exception as exc:  # noqa: BLE001
        asynchronous = exc
    return sync, asynchronous


CALLS: list[tuple[str, tuple[Any, ...], str, str, Any]] = [
    # method, args, HTTP method, path and query as sent, JSON body
    ("act", ({"action": "click", "x": 3, "y": 4},), "POST", "/v1/actions",
     {"action": "click", "x": 3, "y": 4}),
    ("act", (Click(x=3, y=4),), "POST", "/v1/actions", Click(x=3, y=4).model_dump(
        mode="json", exclude_none=True)),
    # with driverseat's envelope: the client reads the record's id and the refusal's sentence
    ("anthropic", ({"action": "screenshot"},), "POST", "/v1/anthropic/computer?envelope=1",
     {"action": "screenshot"}),
    ("state", (), "GET", "/v1/state", None),
    ("stop", (), "POST", "/v1/control/stop", None),
    ("resume", (), "POST", "/v1/control/resume", None),
    ("reviews", (), "GET", "/v1/reviews", None),
    ("review", ("r/1",), "GET", "/v1/reviews/r%2F1", None),
    ("review", ("r/1", 2.5), "GET", "/v1/reviews/r%2F1?wait=2.5", None),
    ("review_screenshot", ("r/1",), "GET", "/v1/reviews/r%2F1/screenshot", None),
    ("decide", ("r/1", DecisionRequest(verdict="approve", reviewer="ann")), "POST",
     "/v1/reviews/r%2F1/decision", {"verdict": "approve", "reviewer": "ann", "points": []}),
    ("decide", ("r/1", {"verdict": "reject", "reviewer": "bo"}), "POST",
     "/v1/reviews/r%2F1/decision", {"verdict": "reject", "reviewer": "bo"}),
    ("healthy", (), "GET", "/healthz", None),
]  # fmt: skip


@pytest.mark.parametrize(("method", "args", "verb", "target", "body"), CALLS)
def test_both_clients_send_the_same_request_and_read_it_alike(
    method: str, args: tuple[Any, ...], verb: str, target: str, body: Any
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _answer(request)

    sync, asynchronous = _both(handler, method, *args)
    assert not isinstance(sync, Exception), sync
    assert sync == asynchronous
    assert len(sent) == 2
    for request in sent:
        assert request.method == verb
        assert request.url.raw_path.decode() == target
        assert request.headers["authorization"] == "Bearer tok"
        assert (json.loads(request.content) if request.content else None) == body
    assert sent[0].extensions["timeout"] == sent[1].extensions["timeout"]


def test_actions_get_the_long_timeout() -> None:
    timeouts: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return _answer(request)

    _both(handler, "act", {"action": "wait"})
    assert timeouts == [ACTION_TIMEOUT.as_dict()] * 2


@pytest.mark.parametrize(
    ("response", "error", "message", "status"),
    [
        (httpx.Response(401, json={"error": "bad token"}), AuthError, "bad token", None),
        (httpx.Response(401, text="no"), AuthError, "the daemon refused the token", None),
        (httpx.Response(422, json={"error": "off the screen"}), ActionError, "off the screen",
         None),
        (httpx.Response(404, json={"error": "no review with id 'x'"}), ClientError,
         "the daemon answered 404: no review with id 'x'", 404),
        (httpx.Response(409, json={"error": "already approved"}), ClientError,
         "the daemon answered 409: already approved", 409),
        (httpx.Response(502, text="<html>proxy</html>"), ClientError,
         "the daemon answered 502: <html>proxy</html>", 502),
        (httpx.Response(200, text="not json"), ClientError, "the daemon answered 200", 200),
    ],
)  # fmt: skip
def test_error_answers_become_the_same_errors(
    response: httpx.Response, error: type[Exception], message: str, status: int | None
) -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("state", ()), ("review_screenshot", ("x",)), ("decide", ("x", {}))
    ]
    for method, args in calls:
        if method == "review_screenshot" and response.status_code == 200:
            continue  # a 200 screenshot is bytes, whatever they are
        results = _both(lambda _: _copy(response), method, *args)
        for result in results:
            assert type(result) is error, (method, result)
            assert str(result).startswith(message)
            if status is not None:
                assert isinstance(result, ClientError) and result.details["status"] == status
        if error is ActionError:
            assert all(r.details["response"] == {"error": message} for r in results)


def _copy(response: httpx.Response) -> httpx.Response:
    """A fresh response each time: httpx binds a response to the one request it answers."""
    return httpx.Response(response.status_code, content=response.content,
                          headers=response.headers)  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_nothing_listening_is_not_running_with_the_cause_kept() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with Client(url, "t") as c:
        with pytest.raises(NotRunning, match="not running at") as sync:
            c.state()
        assert not c.healthy()

    async def run() -> tuple[NotRunning, bool]:
        async with AsyncClient(url, "t") as c:
            with pytest.raises(NotRunning) as caught:
                await c.act({"action": "wait"})
            return caught.value, await c.healthy()

    asynchronous, healthy = asyncio.run(run())
    assert not healthy
    for err in (sync.value, asynchronous):
        assert err.details["url"] == url
        assert isinstance(err.__cause__, httpx.ConnectError)


def test_other_transport_failures_are_client_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("the daemon took too long", request=request)

    for result in _both(handler, "state"):
        assert type(result) is ClientError
        assert str(result) == (
            "request to http://daemon.test/v1/state failed: the daemon took too long"
        )
        assert isinstance(result.__cause__, httpx.ReadTimeout)
    assert _both(handler, "healthy") == (False, False)


def test_healthy_needs_an_ok_object() -> None:
    assert _both(lambda _: httpx.Response(200, json={"ok": True}), "healthy") == (True, True)
    assert _both(lambda _: httpx.Response(200, json=[1]), "healthy") == (False, False)
    assert _both(lambda _: httpx.Response(200, text="<html>"), "healthy") == (False, False)


def _pending(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=REVIEW, request=request)


def test_a_long_wait_takes_several_long_polls() -> None:
    now = [100.0]
    exchange = _review("r1", 130.0, clock=lambda: now[0])
    waits: list[float] = []
    call = next(exchange)
    with pytest.raises(StopIteration) as done:
        while True:
            assert call.params is not None and call.timeout.read is not None
            waits.append(call.params["wait"])
            assert call.timeout.read > waits[-1]
            now[0] += waits[-1]  # the daemon held the request that long, still pending
            call = exchange.send(_pending(httpx.Request("GET", "http://d" + call.path)))
    assert waits == [MAX_WAIT, MAX_WAIT, 10.0]
    assert done.value.value.status == "pending"


def test_a_long_wait_ends_at_the_decision() -> None:
    exchange = _review("r1", 600.0, clock=lambda: 0.0)
    call = next(exchange)
    assert call.params == {"wait": MAX_WAIT}
    call = exchange.send(_pending(httpx.Request("GET", "http://d/")))
    decided = httpx.Response(200, json={**REVIEW, "status": "rejected"})
    with pytest.raises(StopIteration) as done:
        exchange.send(decided)
    assert done.value.value.status == "rejected"


def test_no_wait_asks_once_without_waiting() -> None:
    exchange = _review("r1", 0, clock=lambda: 5.0)
    call = next(exchange)
    assert call.params is None
    with pytest.raises(StopIteration):
        exchange.send(_pending(httpx.Request("GET", "http://d/")))


@pytest.fixture(scope="module")
def peer_app() -> Iterator[str]:
    """A real server whose /v1/state says which client port asked."""
    app = FastAPI()

    @app.get("/v1/state")
    def state(request: Request) -> dict[str, Any]:
        assert request.client is not None
        return {"peer": request.client.port}

    @app.get("/healthz")
    def healthz(request: Request) -> dict[str, Any]:
        return {"ok": True, "authorization": request.headers.get("authorization")}

    with serving(app) as url:
        yield url


def test_one_keep_alive_connection_serves_every_call(peer_app: str) -> None:
    with Client(peer_app, "t") as c:
        sync = {c.state()["peer"] for _ in range(5)}

    async def run() -> set[int]:
        async with AsyncClient(peer_app, "t") as c:
            return {(await c.state())["peer"] for _ in range(5)}

    asynchronous = asyncio.run(run())
    assert len(sync) == 1 and len(asynchronous) == 1
    assert sync != asynchronous  # two clients, two connections


def test_without_a_token_no_authorization_is_sent(peer_app: str) -> None:
    """A probe without a token (the MCP proxy's, before the daemon wrote one) must work."""
    with Client(peer_app) as c:
        assert c.healthy()
        assert c.headers == {}

    async def run() -> bool:
        async with AsyncClient(peer_app, "") as c:
            return await c.healthy()

    assert asyncio.run(run())
    with Client(peer_app, "tok") as c:
        assert c.headers == {"Authorization": "Bearer tok"}
