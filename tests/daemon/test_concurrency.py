"""Eight agents at once over real HTTP: two actions' primitives never interleave, and
actions are run in the order they arrived.

*Arrival* is the moment the daemon takes the action in: :meth:`Daemon.to_screen`, the
first thing :meth:`Daemon.act` does, on the event loop, once uvicorn has read and parsed
the request (a total order, since the loop is one thread). *Served* is the order the
executor runs them (its ``on_start`` hook, on the executor thread). Between the two an
action crosses the store and the policy on worker threads, which finish in any order:
the daemon puts the actions back in arrival order before they reach the executor.

The daemon runs on the fake backend (no X needed): what it sent is in ``fake.sent``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from capture.input import Primitive
from capture.input._base import Kind
from capture.input._fake import FakeBackend
from capture.input.keys import keysym_for_char
from daemon.actions import Action, Type
from daemon.api.app import create_app
from daemon.control.runtime import Runtime
from daemon.review.gate import Gate
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import poll, serving
from tests.daemon.test_gate import PNG, POLICY, SCREEN

TOKEN = "concurrency-token-0123456789"
CLIENTS = 8
PER_CLIENT = 25
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _text(client: int, n: int) -> str:
    """A text no other action types: client letter, sequence in base 36, padding."""
    return ALPHABET[client] + ALPHABET[n // 36] + ALPHABET[n % 36] + "xyz"


def _primitives(text: str) -> list[tuple[Kind, int]]:
    out: list[tuple[Kind, int]] = []
    for ch in text:
        ks = keysym_for_char(ch)
        out += [(Kind.KEY_DOWN, ks), (Kind.KEY_UP, ks)]
    return out


class Recorded:
    def __init__(self, url: str, fake: FakeBackend, daemon: Daemon) -> None:
        self.url, self.fake, self.daemon = url, fake, daemon
        self.arrived: list[str] = []  # texts, in the order the daemon took them in
        self.started: list[str] = []  # texts, in the order the executor ran them
        self._by_id: dict[str, str] = {}
        self._lock = threading.Lock()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Recorded]:
    fake = FakeBackend((1366, 768))
    runtime = Runtime(fake, step_interval=0.0)
    store = Store(tmp_path / "d.db")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp_path / "frames"), SCREEN, grab_frame=lambda: PNG)
    daemon = Daemon(runtime, store, gate)
    try:
        with serving(create_app(daemon, TOKEN)) as url:
            rec = Recorded(url, fake, daemon)
            to_screen, on_start = daemon.to_screen, runtime.executor.on_start

            def arriving(action: Action) -> Action:
                if isinstance(action, Type):
                    with rec._lock:
                        rec.arrived.append(action.text)
                return to_screen(action)

            def starting(action_id: str) -> str | None:
                text = store.get_action(action_id)
                if text is not None and text["action"].get("action") == "type":
                    rec.started.append(text["action"]["text"])
                return on_start(action_id) if on_start is not None else None

            daemon.to_screen = arriving  # type: ignore[method-assign]
            runtime.executor.on_start = starting
            yield rec
    finally:
        runtime.close()
        store.close()


def _agent(url: str, client: int, errors: list[Any], go: threading.Barrier) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        go.wait()
        for n in range(PER_CLIENT):
            r = http.post("/v1/actions", json={"action": "type", "text": _text(client, n)})
            if r.status_code != 200 or r.json()["status"] != "executed":
                errors.append((client, n, r.status_code, r.text[:200]))


def test_eight_agents_never_interleave_and_are_served_in_arrival_order(live: Recorded) -> None:
    errors: list[Any] = []
    go = threading.Barrier(CLIENTS)
    agents = [threading.Thread(target=_agent, args=(live.url, c, errors, go)) for c in range(CLIENTS)]
    for t in agents:
        t.start()
    for t in agents:
        t.join(timeout=60)
    assert errors == []
    sent: list[Primitive] = live.fake.sent
    per_action = len(_primitives(_text(0, 0)))
    assert len(sent) == CLIENTS * PER_CLIENT * per_action
    # The sent list is a concatenation of whole actions: cut into action-sized pieces,
    # each piece is exactly one action's primitives, and every action is there once.
    by_primitives = {tuple(_primitives(_text(c, n))): _text(c, n) for c in range(CLIENTS) for n in range(PER_CLIENT)}
    ran: list[str] = []
    for i in range(0, len(sent), per_action):
        piece = tuple((p.kind, p.code) for p in sent[i : i + per_action])
        assert piece in by_primitives, f"primitives of two actions interleaved at {i}: {piece}"
        ran.append(by_primitives[piece])
    assert sorted(ran) == sorted(by_primitives.values())
    # each agent's own actions in its order, and all of them in the daemon's arrival order
    for c in range(CLIENTS):
        assert [t for t in ran if t[0] == ALPHABET[c]] == [_text(c, n) for n in range(PER_CLIENT)]
    assert live.started == ran
    assert live.arrived == ran, "the executor did not serve the actions in arrival order"


def test_an_action_held_for_a_person_does_not_hold_up_later_arrivals(live: Recorded) -> None:
    held: list[httpx.Response] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def hold() -> None:  # "TWO" needs two approvals (tests/daemon/test_gate.py POLICY)
        held.append(httpx.post(live.url + "/v1/actions", json={"action": "type", "text": "TWO"},
                               headers=headers, timeout=30))  # fmt: skip

    waiting = threading.Thread(target=hold)
    waiting.start()
    reviews = live.daemon.reviews
    assert reviews is not None
    assert poll(lambda: len(reviews.pending()) == 1)
    r = httpx.post(live.url + "/v1/actions", json={"action": "type", "text": "later"}, headers=headers, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "executed", r.text
    assert live.fake.typed() == "later" and live.daemon.arrivals.waiting == 0  # the held one left
    review_id = reviews.pending()[0].id
    for who in ("ann", "bob"):
        d = httpx.post(live.url + f"/v1/reviews/{review_id}/decision", headers=headers,
                       json={"verdict": "approve", "reviewer": who})  # fmt: skip
        assert d.status_code == 200, d.text
    waiting.join(timeout=30)
    assert held and held[0].json()["status"] == "executed" and live.fake.typed() == "laterTWO"
    assert live.daemon.arrivals.waiting == 0
