"""The overlay says when a review was shown and when the person first turned to it."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtWidgets import QApplication

from overlay.app import OverlayApp, parse_event
from overlay.presenter import ReviewPresenter
from tests.overlay.factories import CLICK, TYPE, review
from tests.overlay.test_app import FakeClient

pytestmark = pytest.mark.qt


def test_the_raise_event_is_read() -> None:
    assert parse_event({"type": "overlay_raise", "kind": "review", "id": "r9"}) == ("raise", "r9")
    assert parse_event({"type": "overlay_raise"}) is None


def test_shown_then_looked_once_each_by_input_or_by_a_notifications_action(qtbot) -> None:  # type: ignore[no-untyped-def]
    first, second = review(CLICK), review(TYPE)
    client = FakeClient("http://127.0.0.1:9", [first, second])
    app = OverlayApp(lambda: client, "t", ReviewPresenter("ann@desk"), listen=False)  # type: ignore[arg-type, return-value]
    qtbot.addWidget(app.window)
    try:
        app.on_event(("snapshot", [first, second]))
        qtbot.waitUntil(lambda: (first.id, "shown") in client.seen_reports)
        assert (first.id, "looked") not in client.seen_reports  # showing is not looking
        app.on_event(("review", first))  # refreshed again: still one report
        qtbot.mouseMove(app.window, QPoint(30, 30))
        qtbot.keyClick(app.window, Qt.Key.Key_P)  # moves the side panel: input, no decision
        qtbot.waitUntil(lambda: (first.id, "looked") in client.seen_reports)
        app.on_event(("resolved", first.id))  # decided elsewhere: the next one comes up
        qtbot.waitUntil(lambda: (second.id, "shown") in client.seen_reports)
        app.on_event(("raise", "someone-else"))  # not the review on screen: nothing said
        app.on_event(("raise", second.id))  # the person clicked "Open review"
        qtbot.waitUntil(lambda: (second.id, "looked") in client.seen_reports)
        assert sorted(client.seen_reports) == sorted(
            [(first.id, "shown"), (first.id, "looked"), (second.id, "shown"), (second.id, "looked")])
    finally:
        app.close()


def test_focus_back_counts_as_looked_but_the_windows_own_focus_does_not(qtbot) -> None:  # type: ignore[no-untyped-def]
    first, second = review(CLICK), review(TYPE)
    client = FakeClient("http://127.0.0.1:9", [first, second])
    app = OverlayApp(lambda: client, "t", ReviewPresenter("ann@desk"), listen=False)  # type: ignore[arg-type, return-value]
    qtbot.addWidget(app.window)

    def focus(kind: QEvent.Type) -> None:
        QApplication.sendEvent(app.window, QEvent(kind))

    try:
        app.on_event(("snapshot", [first]))
        qtbot.waitUntil(lambda: (first.id, "shown") in client.seen_reports)
        focus(QEvent.Type.WindowActivate)  # the window taking the focus as it appears
        app.on_event(("resolved", first.id))  # gone: the window hides, and loses the focus
        focus(QEvent.Type.WindowDeactivate)
        app.on_event(("review", second))
        focus(QEvent.Type.WindowActivate)  # the next review's own focus: not a look
        qtbot.waitUntil(lambda: (second.id, "shown") in client.seen_reports)
        assert not [r for r in client.seen_reports if r[1] == "looked"]
        focus(QEvent.Type.WindowDeactivate)  # the person went elsewhere...
        focus(QEvent.Type.WindowActivate)  # ... and came back to it
        qtbot.waitUntil(lambda: (second.id, "looked") in client.seen_reports)
        assert (first.id, "looked") not in client.seen_reports
    finally:
        app.close()
