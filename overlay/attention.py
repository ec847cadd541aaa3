"""When the person saw a review: the overlay tells the daemon ``shown`` and ``looked``.

``shown``: the window displayed the review (it became the current one on a visible,
not stepped-aside window). ``looked``: the person first turned to it, which is the
first key, button, wheel or pointer motion the window receives while the review is on,
or the window gaining the focus back after losing it (the person clicked it, or
switched to it), or the person's click on the desktop notification's "Open review"
(which raises the window). The window taking the focus itself when it appears does
not count: that is "shown". Each is reported once per review; the daemon stamps the
moment on its own clock (``POST /v1/reviews/{id}/seen``) so the report can split the
wait for the person from the decision.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

from overlay.presenter import ReviewPresenter

__all__ = ["INPUT_EVENTS", "SeenReporter"]

INPUT_EVENTS = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel,
    QEvent.Type.MouseMove, QEvent.Type.TabletPress,
})  # fmt: skip
Report = Callable[[str, str], None]  # (review id, "shown" | "looked"), on the Qt thread


class SeenReporter(QObject):
    """Watches the review window's events (an application-wide filter, read-only)."""

    def __init__(self, window: QWidget, presenter: ReviewPresenter, report: Report) -> None:
        super().__init__(window)
        self.window, self.presenter, self.report = window, presenter, report
        self._said: deque[tuple[str, str]] = deque(maxlen=256)
        self._lost_for: str | None = None  # the review on screen when the window lost the focus
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def _once(self, moment: str) -> None:
        review = self.presenter.current
        if review is None or not self.window.isVisible():
            return
        key = (review.id, moment)
        if key not in self._said:
            self._said.append(key)
            self.report(review.id, moment)

    def refreshed(self) -> None:
        """After each refresh of the window: a new current review on screen is shown."""
        if self.presenter.current is None or not self.window.isVisible():
            return
        self._once("shown")

    def raised(self, review_id: str) -> None:
        """The person asked for this review from a notification."""
        current = self.presenter.current
        if current is not None and current.id == review_id:
            self._once("looked")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt names it
        kind = event.type()
        if watched is self.window and kind in (QEvent.Type.WindowDeactivate, QEvent.Type.WindowActivate):
            current = self.presenter.current
            on = current.id if current is not None and self.window.isVisible() else None
            if kind == QEvent.Type.WindowDeactivate:
                self._lost_for = on  # hiding between reviews loses the focus too: that is no one's
            elif on is not None and on == self._lost_for:
                self._lost_for = None
                self._once("looked")
        # spontaneous: from the window system (the person), not one Qt made up (a hover update)
        if kind in INPUT_EVENTS and event.spontaneous() and isinstance(watched, QWidget) and (
            watched is self.window or self.window.isAncestorOf(watched)
        ):
            self._once("looked")
        return False  # only watching: every event goes on to its widget
