"""The overlay process against a fake daemon: a real WebSocket server and a fake client."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from websockets.sync.server import ServerConnection, serve

from daemon.client import NotRunning
from daemon.outcomes import DecisionRequest, Review
from overlay.app import OverlayApp, parse_event, ws_url
from overlay.presenter import ReviewPresenter
from tests.overlay.factories import CLICK, TYPE, review
from tests.overlay.test_widgets import synthetic_png

pytestmark = pytest.mark.qt


class FakeClient:
    """The client surface the overlay uses: reviews, review_screenshot, decide."""

    def __init__(self, url: str, pending: list[Review], *, down: bool = False) -> None:
        self.url, self.pending, self.down = url, pending, down
        self.decisions: list[tuple[str, DecisionRequest]] = []
        self.seen_reports: list[tuple[str, str]] = []

    def _check(self) -> None:
        if self.down:
            raise NotRunning(f"the driverseat daemon is not running at {self.url}")

    def reviews(self) -> list[Review]:
        self._check()
        return list(self.pending)

    def review_screenshot(self, review_id: str) -> bytes:
        self._check()
        return synthetic_png(1280, 800)

    def decide(self, review_id: str, request: DecisionRequest) -> dict[str, Any]:
        self._check()
        self.decisions.append((review_id, request))
        r = next(r for r in self.pending if r.id == review_id)
        return r.model_copy(update={"status": "approved"}).model_dump(mode="json")

    def seen(self, review_id: str, moment: str) -> None:
        self._check()
        self.seen_reports.append((review_id, moment))

    def questions(self) -> list[Any]:
        self._check()
        return []

    def close(self) -> None:
        pass


class FakeDaemon:
    """A WebSocket endpoint that checks the token and lets the test push events."""

    def __init__(self) -> None:
        self.connections: list[ServerConnection] = []
        self.paths: list[str] = []
        self.connected = threading.Event()
        self.received: list[Any] = []  # what the overlay said (its acks)
        self.server = serve(self._handler, "127.0.0.1", 0)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.paths.append(ws.request.path)
        self.connections.append(ws)
        ws.send(json.dumps({"type": "state", "control": "agent"}))  # ignored by the overlay
        self.connected.set()
        for raw in ws:  # keep it open until the client goes
            self.received.append(json.loads(raw))

    def push(self, message: dict[str, Any]) -> None:
        self.connections[-1].send(json.dumps(message))

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    d = FakeDaemon()
    yield d
    d.close()


def test_ws_url_and_event_parsing() -> None:
    assert ws_url("http://127.0.0.1:8765/", "a b") == "ws://127.0.0.1:8765/v1/events?token=a%20b&role=overlay"
    assert ws_url("https://h", "t").startswith("wss://h/v1/events")
    r = review(CLICK)
    assert parse_event({"type": "review", "review": r.model_dump(mode="json")}) == ("review", r)
    assert parse_event({"type": "review_resolved", "id": "r1"}) == ("resolved", "r1")
    assert parse_event({"type": "outcome"}) is None and parse_event([1]) is None


def test_reviews_arrive_and_decisions_are_posted(qtbot, daemon: FakeDaemon) -> None:  # type: ignore[no-untyped-def]
    before, live = review(CLICK), review(TYPE)
    client = FakeClient(f"http://127.0.0.1:{daemon.port}", [before, live])
    app = OverlayApp(lambda: client, "s3cret", ReviewPresenter("ann@desk"))  # type: ignore[arg-type, return-value]
    qtbot.addWidget(app.window)
    try:
        # pending from before the overlay started: listed once at (re)connect
        qtbot.waitUntil(lambda: app.presenter.current == before)
        assert daemon.paths == ["/v1/events?token=s3cret&role=overlay"]
        daemon.push({"type": "review", "review": live.model_dump(mode="json")})
        qtbot.waitUntil(lambda: before.id in app.window._images)  # the screenshot came too
        assert app.presenter.count == 2 and app.window.isVisible()
        qtbot.keyClick(app.window, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: app.presenter.get(before.id) is None)  # the daemon took it
        assert [(i, d.verdict) for i, d in client.decisions] == [(before.id, "approve")]
        daemon.push({"type": "review_resolved", "id": live.id})  # decided elsewhere
        qtbot.waitUntil(lambda: app.presenter.count == 0)
        assert not app.window.isVisible()
    finally:
        app.close()


def test_a_missing_daemon_decides_nothing(qtbot) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = FakeClient(f"http://127.0.0.1:{port}", [], down=True)
    app = OverlayApp(lambda: client, "t", ReviewPresenter("ann@desk"))  # type: ignore[arg-type, return-value]
    qtbot.addWidget(app.window)
    try:
        with qtbot.waitSignal(app.bridge.connection) as blocker:
            pass
        assert blocker.args[0] is False
        r = review(CLICK)
        app.on_event(("review", r))  # as if it had arrived before the daemon went away
        qtbot.keyClick(app.window, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: app.presenter.current == r)  # back, undecided
        assert "not sent" in app.window.message.text() and client.decisions == []
    finally:
        app.close()


def test_the_overlay_steps_aside_until_the_approved_action_ran(qtbot, daemon: FakeDaemon) -> None:  # type: ignore[no-untyped-def]
    first, second = review(CLICK), review(TYPE)
    client = FakeClient(f"http://127.0.0.1:{daemon.port}", [first, second])
    app = OverlayApp(lambda: client, "t", ReviewPresenter("ann@desk"))  # type: ignore[arg-type, return-value]
    qtbot.addWidget(app.window)
    try:
        qtbot.waitUntil(lambda: app.presenter.current == first and app.window.isVisible())
        qtbot.keyClick(app.window, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: app.presenter.get(first.id) is None)
        # the next review waits: the daemon runs the click only once no overlay window is up
        assert app.presenter.current == second and not app.window.isVisible()
        daemon.push({"type": "outcome", "status": "executed", "review_id": first.id})
        qtbot.waitUntil(lambda: app.window.isVisible())
        # decided through the API: the same
        approved = second.model_copy(update={"status": "approved"})
        daemon.push({"type": "review_decided", "review": approved.model_dump(mode="json")})
        qtbot.waitUntil(lambda: not app.window.isVisible())
        assert app._aside.keys() == {second.id}
    finally:
        app.close()


def test_the_overlay_acknowledges_an_event_once_it_has_handled_it(qtbot, daemon: FakeDaemon) -> None:  # type: ignore[no-untyped-def]
    """The daemon runs an approved action only after this ack: by then the review's window
    is hidden and the next one held back (daemon/events.py)."""
    first, second = review(CLICK), review(TYPE)
    client = FakeClient(f"http://127.0.0.1:{daemon.port}", [first, second])
    app = OverlayApp(lambda: client, "t", ReviewPresenter("ann@desk"))  # type: ignore[arg-type, return-value]
    qtbot.addWidget(app.window)
    seen_at_ack: list[bool] = []
    ack = app.listener.ack  # type: ignore[union-attr]

    def noting(seq: int) -> None:  # what the windows look like when the ack leaves
        seen_at_ack.append(app.window.isVisible())
        ack(seq)

    app.listener.ack = noting  # type: ignore[union-attr, method-assign]
    try:
        qtbot.waitUntil(lambda: app.presenter.current == first and app.window.isVisible())
        approved = first.model_copy(update={"status": "approved"})
        daemon.push({"type": "review_decided", "review": approved.model_dump(mode="json"), "seq": 7})
        qtbot.waitUntil(lambda: {"type": "ack", "seq": 7} in daemon.received)
        assert seen_at_ack == [False]  # the window was down when the ack left
        assert app.presenter.current == second and not app.window.isVisible()  # held back
        daemon.push({"type": "outcome", "status": "executed", "seq": 8})  # no review of ours: acked too
        qtbot.waitUntil(lambda: {"type": "ack", "seq": 8} in daemon.received)
        daemon.push({"type": "state"})  # no seq (the stream's first message): nothing to ack
        daemon.push({"type": "outcome", "seq": 9})
        qtbot.waitUntil(lambda: {"type": "ack", "seq": 9} in daemon.received)
        assert [m["seq"] for m in daemon.received] == [7, 8, 9]
    finally:
        app.close()
