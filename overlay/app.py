"""The overlay process: listens to the daemon's event stream, shows reviews, posts decisions.

Threads: the Qt main thread owns every widget and the presenter. An
:class:`EventListener` thread holds the WebSocket ``/v1/events`` (websockets' sync
client), lists the pending reviews after each (re)connect and fetches screenshots; a
one-worker pool posts decisions. Both hand results to the Qt thread through the
signals of a :class:`Bridge` (queued, because they are emitted from other threads).

Event contract (``/v1/events?token=...``): ``{"type": "review", "review": {...}}`` is a
new or updated :class:`~daemon.outcomes.Review`; ``{"type": "review_resolved", "id": ...}``
removes one; ``{"type": "outcome", "review_id": ...}`` says the action of a review has
run (or will not); other types are ignored. If the daemon goes away the window keeps its
state, the listener reconnects with backoff, and nothing is ever decided for the person.

Stepping aside: once a review is decided (here or anywhere else) the overlay shows no
window until that review's outcome arrives (at most :data:`STEP_ASIDE_S`), because the
daemon runs an approved action only when no overlay window is mapped on its display
(daemon/control/clearance.py), and the next review popping up at once would hold it.
The windows' WM_CLASS class, :data:`WM_CLASS`, is how the daemon knows them. The
overlay subscribes as ``role=overlay`` and acknowledges each event's ``seq`` once the Qt
thread has handled it (``{"type": "ack", "seq": n}``): an approved action waits for that
(daemon/events.py), so a review window the overlay was about to show when the decision
came never appears under the action's input.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from daemon.address import ENV_URL, resolve_url
from daemon.client import DEFAULT_URL, Client
from daemon.errors import DaemonError
from daemon.outcomes import DecisionRequest, Review
from overlay.asking import QuestionLink, fetch_frame, fetch_questions, parse_question_event
from overlay.attention import SeenReporter
from overlay.presenter import ReviewPresenter
from overlay.questions import first_in_line
from overlay.widgets import GraceToast, NoticeToast, ReviewWindow

__all__ = ["Bridge", "EventListener", "OverlayApp", "main", "parse_event", "token_of", "ws_url"]

log = logging.getLogger("driverseat.overlay")
# ("review" | "decided", Review) | ("resolved" | "outcome" | "raise", review id) | ("snapshot", [Review])
# | ("ack", seq): the daemon is told once the events before it are handled
Event = tuple[str, Any]
WM_CLASS = "driverseat-overlay"  # = daemon.control.clearance.OVERLAY_WM_CLASS (the wire contract)
# Long enough for an approved action to start (it starts within milliseconds of our
# windows going), bounded for decisions whose outcome names no review (a model's safety
# checks acknowledged, then run as an action of their own).
STEP_ASIDE_S = 3.0
_RUNS = ("approved", "edited")  # review statuses whose action runs
NOTICES = ("honeypot_missed", "honeypot_caught", "reviewer_fatigue")


def ws_url(url: str, token: str) -> str:
    """The event stream's URL for a daemon at ``url`` (http -> ws, https -> wss)."""
    base = url.rstrip("/")
    scheme, rest = base.split("://", 1) if "://" in base else ("http", base)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/v1/events?token={quote(token)}&role=overlay"


def token_of(client: Client) -> str:
    """The bearer token a client sends (the CLI's way of finding it, reused)."""
    return client.headers.get("Authorization", "").removeprefix("Bearer ")


def _review(data: Any) -> Review:
    return data if isinstance(data, Review) else Review.model_validate(data)


def parse_event(data: Any) -> Event | None:
    """One event-stream message as an :data:`Event`, or None for what the overlay ignores."""
    if not isinstance(data, dict):
        return None
    if data.get("type") == "review" and isinstance(data.get("review"), dict):
        return ("review", _review(data["review"]))
    if data.get("type") == "review_decided" and isinstance(data.get("review"), dict):
        return ("decided", _review(data["review"]))
    if data.get("type") == "review_resolved" and isinstance(data.get("id"), str):
        return ("resolved", data["id"])
    if data.get("type") == "outcome" and isinstance(data.get("review_id"), str):
        return ("outcome", data["review_id"])
    if data.get("type") == "overlay_raise" and isinstance(data.get("id"), str):
        return ("raise", data["id"])  # the person clicked "Open review" on a notification
    if data.get("type") in NOTICES and isinstance(data.get("review_id", ""), str):
        return ("notice", data)  # a test review decided, or a reviewer past the duty limit
    return parse_question_event(data)


class Bridge(QObject):
    """Signals from the worker threads to the Qt thread."""

    event = Signal(object)  # Event
    screenshot = Signal(str, bytes)
    connection = Signal(bool, str)  # connected?, detail
    sent = Signal(str, object)  # review id, the Review the daemon answered (or None)
    failed = Signal(str, str)  # review id, why the decision was not sent
    element = Signal(str, object, str)  # review id, screen box or None, the words


class EventListener(threading.Thread):
    """Keeps a WebSocket to the daemon open, reconnecting with backoff; never decides."""

    def __init__(
        self, client: Client, token: str, bridge: Bridge, *, retry: tuple[float, float] = (0.5, 5.0)
    ) -> None:
        super().__init__(name="overlay-events", daemon=True)
        self.client, self.bridge, self.retry = client, bridge, retry
        self.url = ws_url(client.url, token)
        self._stopping = threading.Event()
        self._ws: Any = None
        self._fetched: set[str] = set()

    def stop(self) -> None:
        self._stopping.set()
        if (ws := self._ws) is not None:
            ws.close()  # unblocks the iteration in run()

    def run(self) -> None:
        delay = self.retry[0]
        while not self._stopping.is_set():
            try:
                with connect(self.url, open_timeout=5, close_timeout=1, proxy=None,
                             max_size=8 * 2**20) as ws:  # fmt: skip
                    self._ws = ws
                    self.bridge.connection.emit(True, "")
                    delay = self.retry[0]
                    self._resync()  # after subscribing, so nothing falls between the two
                    for raw in ws:
                        self._handle(raw)
                detail = "the daemon closed the event stream"
            except (OSError, TimeoutError, WebSocketException, DaemonError) as exc:
                detail = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
            if self._stopping.is_set():
                break
            self.bridge.connection.emit(False, detail)
            self._stopping.wait(delay)  # an Event wait: stop() cuts it short
            delay = min(delay * 2, self.retry[1])

    def _resync(self) -> None:
        reviews = [_review(r) for r in self.client.reviews()]
        for r in reviews:
            self._fetch(r)
        self.bridge.event.emit(("snapshot", reviews))
        self.bridge.event.emit(("question_snapshot", fetch_questions(self.client)))

    def _handle(self, raw: str | bytes) -> None:
        seq = None
        try:
            data = json.loads(raw)
            seq = data.get("seq") if isinstance(data, dict) else None
            event = parse_event(data)
        except ValueError as exc:  # bad JSON or a Review that does not validate
            log.warning("ignored an event the overlay cannot read: %s", exc)
            event = None
        if event is not None and event[0] == "review":
            self._fetch(event[1])
        if event is not None and event[0] == "question" and event[1].status == "pending":
            self.bridge.event.emit(("question_snapshot_one", (event[1], fetch_frame(self.client, event[1]))))
        elif event is not None:
            self.bridge.event.emit(event)
        if type(seq) is int:  # through the Qt thread: acknowledged once what came before is handled
            self.bridge.event.emit(("ack", seq))

    def ack(self, seq: int) -> None:
        """Tell the daemon every message up to ``seq`` is handled (any thread: websockets'
        sync ``send`` takes the connection's lock); nothing if the stream is down."""
        ws = self._ws
        if ws is None:
            return
        try:
            ws.send(json.dumps({"type": "ack", "seq": seq}))
        except (OSError, WebSocketException):
            pass  # the stream is going: the reconnect's subscription starts acknowledged

    def _fetch(self, review: Review) -> None:
        if review.tier == "grace" or review.status != "pending" or review.id in self._fetched:
            return
        try:
            png = self.client.review_screenshot(review.id)
        except DaemonError as exc:
            log.warning("no screenshot for review %s: %s", review.id, exc)
            return
        self._fetched.add(review.id)
        self.bridge.screenshot.emit(review.id, png)


class OverlayApp(QObject):
    """Wires the presenter, the window, the toast and the daemon together."""

    def __init__(
        self,
        make_client: Callable[[], Client],
        token: str,
        presenter: ReviewPresenter,
        *,
        listen: bool = True,
    ) -> None:
        super().__init__()
        self.presenter = presenter
        self.bridge = Bridge(self)
        self.window = ReviewWindow(presenter)
        self.toast = GraceToast(presenter)
        self.notice = NoticeToast()
        self._client = make_client()  # for decisions, used only by the pool's one worker
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="overlay-decide")
        self.bridge.event.connect(self.on_event)
        self.bridge.screenshot.connect(self.on_screenshot)
        self.bridge.connection.connect(self.window.set_connection)
        self.bridge.sent.connect(self.on_sent)
        self.bridge.failed.connect(self.on_failed)
        self.window.decided_review.connect(self.decide)
        self.window.hover_wanted.connect(self.ask_element)
        self.bridge.element.connect(self.window.show_element)
        # hover lookups on their own worker and connection, never behind a decision
        self._hover_client = make_client()
        self._hover_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="overlay-hover")
        self._hover_next: tuple[str, int, int] | None = None
        # questions share the queue: one item on the screen at a time, in arrival order
        self.asking = QuestionLink(make_client(), self.presenter.reviewer, self)
        self.asking.sent.connect(lambda *_: self._refresh())
        self.asking.failed.connect(lambda *_: self._refresh())
        self.toast.cancelled.connect(self.decide)
        self._aside: dict[str, QTimer] = {}  # decided reviews whose outcome has not come yet
        self._verdicts: dict[str, str] = {}  # our own decisions, by review id
        self._ran: deque[str] = deque(maxlen=64)  # reviews whose outcome came already
        self._closed = False
        self.seen = SeenReporter(self.window, presenter, self._report_seen)
        self.listener: EventListener | None = None
        if listen:
            self.listener = EventListener(make_client(), token, self.bridge)
            self.listener.start()

    def on_event(self, event: Event) -> None:
        kind, payload = event
        if kind == "ack":  # every event before it is handled: the windows are as they will stay
            if self.listener is not None:
                self.listener.ack(payload)
            return
        if kind == "question_snapshot_one":
            question, png = payload
            self.asking.on_event("question", question)
            if png is not None:
                self.asking.frame.emit(question.id, png)
        elif kind.startswith("question"):
            self.asking.on_event(kind, payload)
        elif kind == "snapshot":
            self.presenter.sync(payload)
        elif kind == "review":
            self.presenter.add(payload)
        elif kind == "decided":  # by anyone, through the API (may come after "resolved")
            if payload.status in _RUNS:
                self._step_aside(payload.id)
            self.presenter.add(payload)
        elif kind == "resolved":
            if self._may_run(payload):
                self._step_aside(payload)
            self.presenter.remove(payload)
            self.window.forget(payload)
            self._verdicts.pop(payload, None)
        elif kind == "outcome":
            self._ran.append(payload)
            self._step_back(payload)
        elif kind == "raise":
            self._raise(payload)
        elif kind == "notice":
            self._notice(payload)
        self._refresh()

    def _raise(self, review_id: str) -> None:
        """Bring the window to the front and take the focus (a notification's action)."""
        if self.window.isVisible() and QGuiApplication.platformName() != "offscreen":
            self.window.raise_()
            self.window.activateWindow()
        self.seen.raised(review_id)

    def _report_seen(self, review_id: str, moment: str) -> None:
        if self._closed:
            return
        self._pool.submit(self._post_seen, review_id, moment)  # after the decisions before it

    def _post_seen(self, review_id: str, moment: str) -> None:
        try:
            self._client.seen(review_id, moment)
        except DaemonError as exc:  # an older daemon, or one gone: only the report's figure lacks it
            log.info("could not report review %s %s: %s", review_id, moment, exc)

    def _notice(self, data: dict[str, Any]) -> None:
        """A test review's answer (nothing of it runs: stop stepping aside), or fatigue;
        shown to this overlay's person only when it was theirs."""
        if data.get("review_id"):
            self._ran.append(data["review_id"])
            self._step_back(data["review_id"])
        if data.get("reviewer") != self.presenter.reviewer:
            return
        if data["type"] == "reviewer_fatigue":
            hours, limit = float(data.get("on_duty_s", 0)) / 3600, float(data.get("limit_s", 0)) / 3600
            text = (f"You have been reviewing for {hours:.1f} h (the limit is {limit:g} h): "
                    "take a break, or hand over to another reviewer.")  # fmt: skip
        else:
            text = str(data.get("summary", ""))
        self.presenter.message = text
        self.notice.show_notice(text, alarm=data["type"] != "honeypot_caught")

    def _may_run(self, review_id: str) -> bool:
        """Whether a review that just left may have its action run now."""
        grace = self.presenter.grace(review_id)
        if grace is not None:
            return not grace.cancelled  # the undo window passed
        if self.presenter.get(review_id) is None:
            return False  # never ours to show
        # our own verdict, or (decided elsewhere, its "decided" event not here yet) unknown
        return self._verdicts.get(review_id) not in ("reject", "correct")

    def _step_aside(self, review_id: str) -> None:
        """Show nothing until ``review_id``'s action has run: it runs only once we are gone."""
        if self._closed or review_id in self._aside or review_id in self._ran:
            return
        timer = QTimer(self.window)  # dies with the window: never fires into a deleted one
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: self._step_back(review_id))
        timer.start(round(STEP_ASIDE_S * 1000))
        self._aside[review_id] = timer

    def _step_back(self, review_id: str) -> None:
        timer = self._aside.pop(review_id, None)
        if timer is not None:
            timer.stop()
            timer.deleteLater()
            self._refresh()

    def on_screenshot(self, review_id: str, png: bytes) -> None:
        self.window.set_screenshot(review_id, QImage.fromData(png))

    def ask_element(self, review_id: str, x: int, y: int) -> None:
        """Ask the daemon what a click at (x, y) would name; only the latest point is
        asked once the worker is free (a moving pointer never queues lookups)."""
        pending = self._hover_next is not None
        self._hover_next = (review_id, x, y)
        if not pending:
            self._hover_pool.submit(self._lookup)

    def _lookup(self) -> None:
        ask = self._hover_next
        self._hover_next = None
        if ask is None:
            return
        try:
            got = self._hover_client.element_under(*ask)
        except Exception as exc:  # noqa: BLE001 - a hover outline is a hint: never fatal
            log.debug("hover lookup failed: %s", exc)
            return
        box = got.get("box")
        self.bridge.element.emit(ask[0], tuple(box) if isinstance(box, list) else None, str(got.get("label", "")))

    def decide(self, review_id: str, request: DecisionRequest) -> None:
        """Post a decision from the pool's thread; the answer comes back as a signal."""
        self._verdicts[review_id] = request.verdict
        if request.verdict in ("approve", "edit"):
            self._step_aside(review_id)
            self._refresh()
        self._pool.submit(self._post, review_id, request)

    def _post(self, review_id: str, request: DecisionRequest) -> None:
        try:
            answer = self._client.decide(review_id, request)
        except DaemonError as exc:  # not running, refused, conflict: the person sees it
            self.bridge.failed.emit(review_id, str(exc))
            return
        self.bridge.sent.emit(review_id, _review(answer) if answer is not None else None)

    def on_sent(self, review_id: str, review: Review | None) -> None:
        self.presenter.confirm(review_id, review)
        if review is not None and review.status == "pending":
            self._step_back(review_id)  # approve2's first yes: nothing runs yet
        self._refresh()

    def on_failed(self, review_id: str, message: str) -> None:
        self.presenter.send_failed(review_id, message)
        self._step_back(review_id)
        self._refresh()

    def _refresh(self) -> None:
        aside = bool(self._aside) or self.asking.presenter.takeover
        first = first_in_line(self.presenter.current, self.asking.presenter.current)
        self.window.suspended = aside or first == "question"
        self.asking.window.suspended = aside or first == "review"
        self.toast.suspended = aside
        self.window.refresh()
        self.asking.window.refresh()
        self.toast.refresh()
        self.seen.refreshed()
        self.asking.seen.refreshed()

    def close(self) -> None:
        """Stop the listener and the pool; decisions in flight finish."""
        self._closed = True
        for timer in self._aside.values():
            timer.stop()  # none may fire into widgets that are gone
        self._aside.clear()
        if self.listener is not None:
            self.listener.stop()
            self.listener.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._hover_pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()
        self._hover_client.close()
        self.asking.close()
        if self.listener is not None:
            self.listener.client.close()


def _quit_on_signals(app: QApplication) -> QSocketNotifier:
    """SIGINT/SIGTERM quit the Qt loop (Python handlers only run when Python runs)."""
    rsock, wsock = socket.socketpair()
    rsock.setblocking(False)
    wsock.setblocking(False)
    signal.set_wakeup_fd(wsock.fileno())
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: app.quit())
    notifier = QSocketNotifier(rsock.fileno(), QSocketNotifier.Type.Read, app)
    notifier.activated.connect(lambda: rsock.recv(64))
    notifier.setProperty("keep", (rsock, wsock))  # the sockets live as long as the notifier
    return notifier


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m overlay --url URL [--data-dir DIR] [--reviewer NAME]``."""
    parser = argparse.ArgumentParser(prog="python -m overlay", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", default=None, help=f"the daemon's URL (default: ${ENV_URL}, the data dir's url file, {DEFAULT_URL})"
    )
    parser.add_argument("--data-dir", default=None, help="the daemon's data dir (for the token)")
    parser.add_argument("--reviewer", default=None, help="who decides (default: user@host)")
    args = parser.parse_args(argv)
    args.url = resolve_url(args.url, args.data_dir)
    logging.basicConfig(level=logging.INFO, format="overlay: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    try:
        with Client.from_data_dir(args.url, args.data_dir) as probe:
            token = token_of(probe)
    except DaemonError as exc:
        print(f"overlay: {exc}", file=sys.stderr)
        return 2
    # before the app exists: Qt's xcb plugin reads it once, for every window's WM_CLASS
    QApplication.setApplicationName(WM_CLASS)
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # the window hides between reviews
    notifier = _quit_on_signals(app)
    overlay = OverlayApp(lambda: Client(args.url, token), token, ReviewPresenter(args.reviewer))
    try:
        return app.exec()
    finally:
        overlay.close()
        notifier.setEnabled(False)
