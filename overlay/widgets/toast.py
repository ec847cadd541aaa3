"""The grace-tier toast: "runs in 4 s" with a Cancel button, in a corner of the screen.

The countdown comes from :class:`~overlay.grace.GraceCountdown`; the timer here only
repaints it. When the window passes the toast says so and waits for the daemon's
``review_resolved``: it never decides anything by itself.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QProgressBar, QPushButton, QVBoxLayout, QWidget

from overlay.presenter import ReviewPresenter
from overlay.widgets.why import plain_label

__all__ = ["GraceToast"]

TICK_MS = 100  # a display refresh, not a poll: the deadline itself is a number


class GraceToast(QFrame):
    """Shows the most urgent undo window; ``cancelled(review_id, DecisionRequest)``."""

    cancelled = Signal(str, object)

    def __init__(self, presenter: ReviewPresenter, parent: QWidget | None = None) -> None:
        flags = (
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
        )
        super().__init__(parent, flags)
        self.presenter = presenter
        self.suspended = False  # set by the app while an approved action runs: show nothing
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)  # never steal keys
        self.setObjectName("toast")
        self.setWindowTitle("driverseat undo window")
        self.setStyleSheet(
            "#toast { background: #1d2027; border: 2px solid #ffb020; border-radius: 8px; }"
            " QLabel { color: #f0f0f0; } #more { color: #9aa4b2; }"
        )
        layout = QVBoxLayout(self)
        self.what = plain_label(name="what")
        self.left = plain_label(name="left")
        self.more = plain_label(name="more")
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(6)
        self.cancel = QPushButton("Cancel", self)
        self.cancel.clicked.connect(self._cancel)
        row = QHBoxLayout()
        row.addWidget(self.left, 1)
        row.addWidget(self.cancel)
        for w in (self.what, self.bar, self.more):
            layout.addWidget(w)
        layout.insertLayout(2, row)
        self.setFixedWidth(340)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.refresh)

    def refresh(self) -> None:
        """Show the most urgent undo window, or hide when there is none."""
        graces = self.presenter.graces
        if not graces or self.suspended:
            self.timer.stop()
            self.hide()
            return
        g, now = graces[0], self.presenter.clock()
        left = g.seconds_left(now)
        self.what.setText(f"Agent will {g.summary}")
        if g.cancelled:
            self.left.setText("cancelling…")
        elif left > 0:
            self.left.setText(f"runs in {left:.1f} s")
        else:
            self.left.setText("running…")
        self.cancel.setEnabled(not g.cancelled and left > 0)
        self.bar.setValue(round(1000 * g.fraction_left(now)))
        self.more.setText(f"+{len(graces) - 1} more" if len(graces) > 1 else "")
        self.more.setVisible(len(graces) > 1)
        if not self.isVisible():
            self.adjustSize()
            screen = QGuiApplication.primaryScreen().availableGeometry()
            self.move(screen.right() - self.width() - 24, screen.top() + 24)
            self.show()
        if not self.timer.isActive():
            self.timer.start()

    def _cancel(self) -> None:
        graces = self.presenter.graces
        if graces and (request := graces[0].on_cancel()) is not None:
            self.cancelled.emit(graces[0].review.id, request)
        self.refresh()
