"""An action held for a person's review: the client waits as long as the review can live, and
if it still gives up, it says the action is waiting for review and where to see it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

import daemon.exchanges
from daemon.cli import main
from daemon.client import AsyncClient, Client
from daemon.exchanges import ACTION_TIMEOUT, REVIEW_LIFETIME, StillHeld
from daemon.review.policy_file import default_policy
from tests.daemon.live import serving

REVIEW = {
    "id": "r/1", "action_id": "a1", "action": {"action": "click", "x": 1, "y": 2},
    "screen_action": {"action": "click", "x": 1, "y": 2}, "tier": "approve", "rule": "r",
    "created": 1.0,
}  # fmt: skip


def test_the_action_timeout_outlasts_the_shipped_review_lifetime() -> None:
    expiry = default_policy().review_expiry_seconds
    assert expiry == REVIEW_LIFETIME
    assert ACTION_TIMEOUT.read is not None and ACTION_TIMEOUT.read > expiry + 60  # + the action itself


def _held_daemon(pending: list[dict[str, Any]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path in ("/v1/actions", "/v1/anthropic/computer"):
            raise httpx.ReadTimeout("timed out", request=request)
        assert request.url.path == "/v1/reviews"
        return httpx.Response(200, json=pending)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize("method", ["act", "anthropic"])
def test_a_timed_out_action_names_the_review_it_waits_for(method: str) -> None:
    arg = {"action": "click", "x": 1, "y": 2} if method == "act" else {"action": "left_click", "coordinate": [1, 2]}
    with Client("http://daemon.test", "tok", transport=_held_daemon([REVIEW])) as c, \
            pytest.raises(StillHeld) as sync:  # fmt: skip
        getattr(c, method)(arg)

    async def run() -> None:
        async with AsyncClient("http://daemon.test", "tok", transport=_held_daemon([REVIEW])) as c:
            await getattr(c, method)(arg)

    with pytest.raises(StillHeld) as asynchronous:
        asyncio.run(run())
    for err in (sync.value, asynchronous.value):
        text = str(err)
        assert text.startswith(f"no outcome after {ACTION_TIMEOUT.read:g} s: the action is still waiting")
        assert "review r/1, action a1" in text and "GET /v1/reviews/r%2F1?wait=60" in text
        assert "`driverseat view`" in text and err.details["review"] == "r/1"
        assert isinstance(err.__cause__, httpx.ReadTimeout)


def test_a_timeout_with_no_review_pending_says_so() -> None:
    with Client("http://daemon.test", "tok", transport=_held_daemon([])) as c, pytest.raises(StillHeld) as err:
        c.act({"action": "click", "x": 1, "y": 2})
    assert "no review is pending now" in str(err.value) and err.value.details["review"] is None


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A daemon whose /v1/actions holds the request (a review nobody decides)."""
    app = FastAPI()
    release, hold = threading.Event(), threading.Event()

    @app.post("/v1/actions")
    async def act() -> JSONResponse:
        hold.set()
        await asyncio.to_thread(release.wait)  # set once the client has given up
        return JSONResponse({})

    @app.get("/v1/reviews")
    async def reviews() -> JSONResponse:
        return JSONResponse([REVIEW] if hold.is_set() else [])

    data = tmp_path / "data"
    assert main(["token", "--data-dir", str(data)]) == 0
    with serving(app) as url:
        try:
            yield url, data
        finally:
            release.set()


def test_the_cli_says_the_action_is_waiting_for_review(
    held: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, data = held
    capsys.readouterr()
    # the wait under test, made short: a real one is REVIEW_LIFETIME + 120 s
    monkeypatch.setattr(daemon.exchanges, "ACTION_TIMEOUT", httpx.Timeout(5.0, read=0.5))
    assert main(["act", '{"action": "click", "x": 1, "y": 2}', "--url", url, "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("driverseat: no outcome after 0.5 s: the action is still waiting for a person's review")
    assert "review r/1" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
