"""The webhook against a real local HTTP receiver: signed, retried, never in the way."""

from __future__ import annotations

import logging

import pytest

from daemon.notify.item import Item
from daemon.notify.webhook import Webhook, sign
from tests.daemon.live import poll
from tests.notify.receiver import receiving, valid

SECRET = b"s3cret-webhook-key"
ITEM = Item(kind="review", id="r1", summary="driverseat: a type waits for you to approve it",
            body="", urgency="critical", rule="shell-danger", created=100.0, expires=1000.0,
            link="http://127.0.0.1:8765/v1/reviews/r1")  # fmt: skip


def test_a_delivery_is_signed_over_its_body_and_says_what_waits() -> None:
    with receiving() as r:
        hook = Webhook(r.url, SECRET)
        try:
            hook.post(ITEM.payload("opened", 101.0, "d1"))
            assert poll(lambda: len(r.deliveries) == 1)
        finally:
            hook.close()
    d = r.deliveries[0]
    assert valid(SECRET, d) and not valid(b"another key", d)
    assert d.headers["x-driverseat-delivery"] == "d1" and d.headers["content-type"] == "application/json"
    assert d.json == {
        "event": "opened", "kind": "review", "id": "r1", "urgency": "critical",
        "summary": "driverseat: a type waits for you to approve it", "rule": "shell-danger",
        "created": 100.0, "expires": 1000.0, "escalated": False,
        "link": "http://127.0.0.1:8765/v1/reviews/r1", "sent": 101.0, "delivery": "d1",
    }  # fmt: skip
    assert sign(SECRET, d.body) == d.headers["x-driverseat-signature"]


def test_a_5xx_is_retried_with_backoff_and_a_4xx_is_not(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "driverseat.notify")
    with receiving() as r:
        r.answers = [500, 503]
        hook = Webhook(r.url, SECRET, first_delay=0.05)
        try:
            hook.post(ITEM.payload("opened", 1.0, "again"))
            assert poll(lambda: [d.answered for d in r.deliveries] == [500, 503, 200])
            assert {d.body for d in r.deliveries} == {r.deliveries[0].body}  # the same delivery
            assert all(valid(SECRET, d) for d in r.deliveries)
            r.answers = [404]
            hook.post(ITEM.payload("resolved", 2.0, "refused"))
            assert poll(lambda: any("HTTP 404" in m for m in caplog.messages))
        finally:
            hook.close()
        assert [d.json["delivery"] for d in r.deliveries].count("refused") == 1
    logged = "\n".join(caplog.messages)
    assert "T0K3N" not in logged and "also-secret" not in logged and SECRET.decode() not in logged


def test_post_never_waits_for_a_hung_receiver() -> None:
    with receiving() as r:
        r.hang.set()
        hook = Webhook(r.url, SECRET, timeout=30)
        try:
            hook.post(ITEM.payload("opened", 1.0, "a"))
            assert poll(lambda: len(r.deliveries) == 1)  # in flight, unanswered
            for n in range(50):  # queued behind it: each post returns at once
                hook.post(ITEM.payload("opened", 1.0, f"b{n}"))
        finally:
            r.release.set()
            hook.close()


def test_a_webhook_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        Webhook("http://127.0.0.1:1/", b"")


def test_a_stop_cuts_the_backoff_short() -> None:
    with receiving() as r:
        r.answers = [500] * 10
        hook = Webhook(r.url, SECRET, first_delay=60)
        hook.post(ITEM.payload("opened", 1.0, "x"))
        assert poll(lambda: len(r.deliveries) == 1)
        hook.close(wait=5)  # the worker waits 60 s before its retry unless the stop wakes it
        assert not hook._worker.is_alive()
