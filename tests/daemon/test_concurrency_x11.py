"""Eight agents at once against a real X server and a real window: what the window
receives is a concatenation of whole actions, in the order the daemon took them in
(arrival as defined in tests/daemon/test_concurrency.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.actions import Action, Type
from daemon.api.app import create_app
from daemon.control.runtime import Runtime
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving
from tests.daemon.test_concurrency import ALPHABET, CLIENTS, TOKEN, _text
from tests.daemon.test_server_x11 import typed

pytestmark = pytest.mark.x11

PER_CLIENT = 4


@pytest.fixture
def live(xserver: str, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    runtime = Runtime(display=xserver, resume_after=0.3)
    store = Store(tmp_path / "d.db")
    daemon = Daemon(runtime, store)
    arrived: list[str] = []
    to_screen = daemon.to_screen

    def arriving(action: Action) -> Action:
        if isinstance(action, Type):
            arrived.append(action.text)  # the event loop's thread: a total order
        return to_screen(action)

    daemon.to_screen = arriving  # type: ignore[method-assign]
    try:
        with serving(create_app(daemon, TOKEN)) as url:
            yield url, arrived
    finally:
        runtime.close()
        store.close()


def _agent(url: str, client: int, errors: list[Any], go: threading.Barrier) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as http:
        go.wait()
        for n in range(PER_CLIENT):
            r = http.post("/v1/actions", json={"action": "type", "text": _text(client, n)})
            if r.status_code != 200 or r.json()["status"] != "executed":
                errors.append((client, n, r.status_code, r.text[:200]))


def test_eight_agents_type_whole_texts_into_a_window_in_arrival_order(
    live: tuple[str, list[str]], target: Any
) -> None:
    url, arrived = live
    errors: list[Any] = []
    go = threading.Barrier(CLIENTS)
    agents = [threading.Thread(target=_agent, args=(url, c, errors, go)) for c in range(CLIENTS)]
    for t in agents:
        t.start()
    for t in agents:
        t.join(timeout=120)
    assert errors == []
    size = len(_text(0, 0))
    total = CLIENTS * PER_CLIENT * size
    assert target.wait_for(lambda: len(typed(target)) >= total, timeout=30)
    got = typed(target)
    pieces = [got[i : i + size] for i in range(0, len(got), size)]
    every = {_text(c, n) for c in range(CLIENTS) for n in range(PER_CLIENT)}
    assert set(pieces) == every and len(pieces) == len(every), f"interleaved: {got}"
    for c in range(CLIENTS):
        assert [p for p in pieces if p[0] == ALPHABET[c]] == [_text(c, n) for n in range(PER_CLIENT)]
    assert pieces == arrived
