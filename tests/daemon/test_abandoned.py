"""An action whose client has gone away stops at its next primitive (released like a
takeover), or does not start; an OpenAI batch runs none of its later actions. An action
a person approved runs even so (README: a decision outlives the agent's connection).

Over real HTTP on the fake backend; the client is a raw socket closed mid-action.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.control.runtime import Runtime
from daemon.review.gate import Gate
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import poll, serving
from tests.daemon.test_gate import PNG, POLICY, SCREEN

TOKEN = "abandoned-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


class Live:
    def __init__(self, url: str, fake: FakeBackend, daemon: Daemon, runtime: Runtime) -> None:
        self.url, self.fake, self.daemon, self.runtime = url, fake, daemon, runtime
        self.outcomes: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def outcome_of(self, kind: str) -> dict[str, Any] | None:
        with self.lock:
            found = [o for o in self.outcomes if o.get("action") == kind]
        return found[-1] if found else None


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    fake = FakeBackend((1366, 768))
    runtime = Runtime(fake, step_interval=0.005)  # a 400-primitive type lasts about 2 s
    store = Store(tmp_path / "d.db")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp_path / "frames"), SCREEN, grab_frame=lambda: PNG)
    daemon = Daemon(runtime, store, gate)
    try:
        with serving(create_app(daemon, TOKEN)) as url:
            lv = Live(url, fake, daemon, runtime)
            publish = daemon.hub.publish

            def record(message: dict[str, Any]) -> None:
                if message.get("type") == "outcome":
                    with lv.lock:
                        lv.outcomes.append(message)
                publish(message)

            daemon.hub.publish = record  # type: ignore[method-assign]
            yield lv
    finally:
        runtime.close()
        store.close()


def _send_and_hang_up_later(url: str, path: str, body: dict[str, Any]) -> socket.socket:
    """POST ``body`` on a raw socket and return it, unread (the caller closes it)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    data = json.dumps(body).encode()
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data
    )
    return sock


def test_an_action_whose_client_hung_up_stops_at_its_next_primitive(live: Live) -> None:
    text = "abcdefghij" * 20  # 400 primitives
    sock = _send_and_hang_up_later(live.url, "/v1/actions", {"action": "type", "text": text})
    assert poll(lambda: len(live.fake.sent) >= 10)
    sock.close()
    assert poll(lambda: live.outcome_of("type") is not None, timeout=10)
    outcome = live.outcome_of("type")
    assert outcome is not None and outcome["status"] == "interrupted", outcome
    assert "client went away" in outcome["detail"]
    assert len(live.fake.sent) < 2 * len(text)
    assert live.fake.held() == ((), ())  # released, as after a takeover
    assert live.runtime.intervention.state == "agent"  # not a person's doing: nobody else waits
    r = httpx.post(live.url + "/v1/actions", json={"action": "type", "text": "next"}, headers=HEADERS)
    assert r.json()["status"] == "executed" and live.fake.typed().endswith("next")


def test_a_held_key_is_released_when_its_client_hangs_up(live: Live) -> None:
    sock = _send_and_hang_up_later(live.url, "/v1/actions", {"action": "hold_key", "keys": "shift", "duration": 30})
    assert poll(lambda: live.fake.held()[0] != ())
    sock.close()
    assert poll(lambda: live.outcome_of("hold_key") is not None, timeout=10)
    assert live.outcome_of("hold_key")["status"] == "interrupted"  # type: ignore[index]
    assert live.fake.held() == ((), ())


def test_an_openai_batch_stops_when_its_client_is_gone(live: Live) -> None:
    batch = {"call_id": "c1", "actions": [{"type": "wait", "ms": 300}] * 100}
    sock = _send_and_hang_up_later(live.url, "/v1/openai/computer", batch)
    assert poll(lambda: live.outcome_of("wait") is not None)  # the first wait has run
    sock.close()
    assert poll(lambda: not live.daemon.arrivals.waiting and not live.runtime.intervention.executing, timeout=10)
    with live.lock:
        waits = [o for o in live.outcomes if o.get("action") == "wait"]
    assert len(waits) < 10, f"{len(waits)} of 100 waits ran after the client left"
    assert waits[-1]["status"] == "interrupted" or len(waits) <= 2


def test_an_approved_action_runs_though_its_client_is_gone(live: Live) -> None:
    sock = _send_and_hang_up_later(live.url, "/v1/actions", {"action": "type", "text": "TWO"})
    reviews = live.daemon.reviews
    assert reviews is not None and poll(lambda: len(reviews.pending()) == 1)
    sock.close()
    review_id = reviews.pending()[0].id
    for who in ("ann", "bob"):
        d = httpx.post(live.url + f"/v1/reviews/{review_id}/decision", headers=HEADERS,
                       json={"verdict": "approve", "reviewer": who})  # fmt: skip
        assert d.status_code == 200, d.text
    assert poll(lambda: live.outcome_of("type") is not None, timeout=10)  # published after it ran
    assert live.fake.typed() == "TWO"
    outcome = live.outcome_of("type")
    assert outcome is not None and outcome["status"] == "executed"
