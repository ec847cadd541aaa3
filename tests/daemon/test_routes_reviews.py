"""The reviews API (daemon/routes_reviews.py) over real HTTP, and the client's review methods."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from daemon.actions import Click
from daemon.api.http import install_http
from daemon.api.routes_reviews import router
from daemon.client import AsyncClient, Client, ClientError
from daemon.errors import ActionError
from daemon.outcomes import DecisionRequest, Review
from daemon.review.queue import ReviewQueue
from daemon.store import Store
from tests.daemon.live import poll, serving

RECT = (0, 0, 1920, 1080)
AGENT = (1366, 768)


def _png() -> bytes:
    ok, buf = cv2.imencode(".png", np.full((6, 9, 3), 77, np.uint8))
    assert ok
    return buf.tobytes()


PNG = _png()


class Live:
    def __init__(self, url: str, queue: ReviewQueue, published: list[dict[str, Any]]) -> None:
        self.url, self.queue, self.published = url, queue, published
        self.http = httpx.Client(base_url=url, timeout=30)

    def create(self, tier: str = "approve") -> Review:
        c = Click(x=10, y=10)
        return self.queue.create("a1", c, c, tier, "rule", PNG, RECT, AGENT)  # type: ignore[arg-type]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    published: list[dict[str, Any]] = []
    with Store(tmp_path / "d.db") as store:
        queue = ReviewQueue(store, tmp_path / "frames")
        queue.listeners.append(
            lambda kind, review: published.append({"type": "review_decided", "review": review.model_dump(mode="json")})
            if kind == "decided" else None
        )
        app = FastAPI()
        install_http(app)
        app.include_router(router(queue))
        with serving(app) as url:
            lv = Live(url, queue, published)
            try:
                yield lv
            finally:
                lv.http.close()


def test_list_get_and_screenshot(live: Live) -> None:
    first, second = live.create(), live.create("approve2")
    listed = live.http.get("/v1/reviews")
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [first.id, second.id]  # newest last
    got = live.http.get(f"/v1/reviews/{second.id}")
    assert got.status_code == 200 and Review.model_validate(got.json()) == second
    shot = live.http.get(f"/v1/reviews/{first.id}/screenshot")
    assert shot.status_code == 200 and shot.headers["content-type"] == "image/png"
    assert shot.content == PNG


def test_long_poll_returns_on_a_decision_from_another_thread(live: Live) -> None:
    r = live.create()
    with ThreadPoolExecutor(1) as pool:
        t0 = time.monotonic()
        waiting = pool.submit(live.http.get, f"/v1/reviews/{r.id}", params={"wait": 30})
        assert poll(lambda: r.id in live.queue._waiters, timeout=10), "the long-poll never waited"
        with httpx.Client(base_url=live.url) as other:
            answer = other.post(
                f"/v1/reviews/{r.id}/decision",
                json={"verdict": "reject", "reviewer": "ann", "rationale": "wrong window"},
            )
        assert answer.status_code == 200 and answer.json()["status"] == "rejected"
        resp = waiting.result(timeout=20)
    assert resp.status_code == 200 and time.monotonic() - t0 < 20
    assert resp.json()["status"] == "rejected"
    assert resp.json()["decisions"][0]["rationale"] == "wrong window"
    assert [(m["type"], m["review"]["status"]) for m in live.published] == [
        ("review_decided", "rejected")
    ]


def test_long_poll_times_out_pending(live: Live) -> None:
    r = live.create()
    t0 = time.monotonic()
    resp = live.http.get(f"/v1/reviews/{r.id}", params={"wait": 0.3})
    assert resp.status_code == 200 and resp.json()["status"] == "pending"
    assert time.monotonic() - t0 >= 0.29


def test_errors_are_readable_with_the_right_status(live: Live) -> None:
    r = live.create("approve2")
    decide = f"/v1/reviews/{r.id}/decision"
    cases: list[tuple[httpx.Response, int, str]] = [
        (live.http.get("/v1/reviews/nope"), 404, "no review with id 'nope'"),
        (live.http.get("/v1/reviews/nope", params={"wait": 5}), 404, "no review with id 'nope'"),
        (live.http.get("/v1/reviews/nope/screenshot"), 404, "no review with id 'nope'"),
        (live.http.post("/v1/reviews/nope/decision", json={"verdict": "approve", "reviewer": "a"}),
         404, "no review with id 'nope'"),
        (live.http.get(f"/v1/reviews/{r.id}", params={"wait": "soon"}), 422, "wait: "),
        (live.http.get(f"/v1/reviews/{r.id}", params={"wait": "-1"}), 422, "wait: "),
        (live.http.post(decide, content=b"{nope"), 422, "not valid JSON"),
        (live.http.post(decide, content=b""), 422, "body is empty"),
        (live.http.post(decide, json={"reviewer": "a"}), 422, "verdict: required field is missing"),
        (live.http.post(decide, json={"verdict": "maybe", "reviewer": "a"}), 422, "verdict"),
        (live.http.post(decide, json={"verdict": "correct", "reviewer": "a"}), 422,
         "needs 1 point, got 0"),
        (live.http.post(decide, json={"verdict": "approve", "reviewer": "a"}), 200, ""),
        (live.http.post(decide, json={"verdict": "approve", "reviewer": "a"}), 409,
         "a already approved"),
        (live.http.post(decide, json={"verdict": "approve", "reviewer": "b"}), 200, ""),
        (live.http.post(decide, json={"verdict": "reject", "reviewer": "c"}), 409,
         "already approved"),
    ]  # fmt: skip
    for resp, status, message in cases:
        assert resp.status_code == status, (resp.request.url, resp.text)
        if status != 200:
            assert set(resp.json()) <= {"error", "details"}
            assert message in resp.json()["error"], resp.json()


def test_wait_is_checked_and_capped_at_a_minute(live: Live) -> None:
    r = live.create()
    for bad in ("nan", "inf", "-0.1", "x"):
        resp = live.http.get(f"/v1/reviews/{r.id}", params={"wait": bad})
        assert resp.status_code == 422 and resp.json()["error"].startswith("wait: "), resp.text
    live.queue.decide(r.id, DecisionRequest(verdict="reject", reviewer="ann"))
    resp = live.http.get(f"/v1/reviews/{r.id}", params={"wait": "1000"})  # capped, not refused
    assert resp.status_code == 200 and resp.json()["status"] == "rejected"


def test_openapi_documents_the_routes(live: Live) -> None:
    doc = live.http.get("/openapi.json").json()
    decision = doc["paths"]["/v1/reviews/{review_id}/decision"]["post"]
    body = decision["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/DecisionRequest"}  # inferred from the typed body
    assert "verdict" in doc["components"]["schemas"]["DecisionRequest"]["properties"]
    assert {"200", "404", "409", "422"} <= set(decision["responses"])
    assert "image/png" in doc["paths"]["/v1/reviews/{review_id}/screenshot"]["get"]["responses"]["200"]["content"]  # fmt: skip
    assert "Review" in doc["components"]["schemas"]


def test_client_review_methods(live: Live) -> None:
    r = live.create()
    with Client(live.url, "test-token") as client:
        assert [x.id for x in client.reviews()] == [r.id]
        assert client.review(r.id) == r
        assert client.review_screenshot(r.id) == PNG
        assert client.review(r.id, wait=0.2).status == "pending"
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(client.review, r.id, 30)
            assert poll(lambda: r.id in live.queue._waiters, timeout=10)
            done = client.decide(r.id, DecisionRequest(verdict="correct", reviewer="ann",
                                                       points=((50, 60),)))  # fmt: skip
            assert done.status == "corrected" and done.decisions[0].points == ((50, 60),)
            assert waiting.result(timeout=20).status == "corrected"
        with pytest.raises(ClientError, match="already corrected") as conflict:
            client.decide(r.id, {"verdict": "approve", "reviewer": "bob"})
        assert conflict.value.details["status"] == 409
        with pytest.raises(ClientError) as missing:
            client.review_screenshot("nope")
        assert missing.value.details["status"] == 404
        other = live.create()
        with pytest.raises(ActionError, match="needs 1 point"):
            client.decide(other.id, {"verdict": "correct", "reviewer": "bob"})


def test_async_client_review_methods(live: Live) -> None:
    r = live.create()

    async def scenario() -> None:
        async with AsyncClient(live.url, "test-token") as client:
            assert [x.id for x in await client.reviews()] == [r.id]
            assert await client.review_screenshot(r.id) == PNG
            waiting = asyncio.create_task(client.review(r.id, wait=30))
            ok = await asyncio.to_thread(poll, lambda: r.id in live.queue._waiters, 10)
            assert ok
            done = await client.decide(r.id, {"verdict": "approve", "reviewer": "ann"})
            assert done.status == "approved"
            assert (await asyncio.wait_for(waiting, 20)).status == "approved"
            with pytest.raises(ClientError, match="no review"):
                await client.review("nope")

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"verdict": "correct", "reviewer": "ann", "points": [[50, 50]], "box": [60, 40, 40, 70]}, "not a rectangle"),
        ({"verdict": "correct", "reviewer": "ann", "points": [[50, 50]], "box": [10, 10, 2000, 70]}, "off the reviewed"),
        ({"verdict": "correct", "reviewer": "ann", "points": [[50, 50]], "box": [100, 100, 140, 170]}, "does not hold"),
        ({"verdict": "approve", "reviewer": "ann", "box": [10, 10, 90, 70]}, "goes with a correction"),
        ({"verdict": "correct", "reviewer": "ann", "points": [[50, 50]], "box": [1, 2, 3]}, "box"),
    ],
)
def test_a_bad_drawn_box_is_refused_and_nothing_is_decided(live: Live, body: dict[str, Any], says: str) -> None:
    r = live.create()
    resp = live.http.post(f"/v1/reviews/{r.id}/decision", json=body)
    assert resp.status_code == 422, resp.text
    assert says in resp.text
    got = live.queue.get(r.id)
    assert got is not None and got.status == "pending" and not got.decisions


def test_a_drawn_box_is_kept_with_the_decision(live: Live) -> None:
    r = live.create()
    body = {"verdict": "correct", "reviewer": "ann", "points": [[50, 50]], "box": [30, 40, 90, 61]}
    resp = live.http.post(f"/v1/reviews/{r.id}/decision", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["decisions"][-1]["box"] == [30, 40, 90, 61]
    # and it survives: the queue's stored review has it
    stored = live.queue.store.get_review(r.id)
    assert stored is not None and stored["review"]["decisions"][-1]["box"] == [30, 40, 90, 61]


def test_the_element_route_without_a_lookup_says_so(live: Live) -> None:
    r = live.create()
    resp = live.http.get(f"/v1/reviews/{r.id}/element", params={"x": 5, "y": 5})
    assert resp.status_code == 404 and "not available" in resp.text
    assert live.http.get(f"/v1/reviews/{r.id}/element", params={"x": "a", "y": 5}).status_code == 422
