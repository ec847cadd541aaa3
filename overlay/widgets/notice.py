"""A short notice in a corner: what a test review was, or that the reviewer is tired.

It never takes the keyboard (``WA_ShowWithoutActivating``) and leaves by itself after
:data:`NOTICE_MS`, shorter than the 5 s the daemon waits for the overlay to leave the
screen before an approved action runs (daemon/control/clearance.py): a notice never makes
an agent's action fail. The text stays in the review window's message line afterwards.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QVBoxLayout, QWidget

from overlay.widgets.why import plain_label

__all__ = ["NOTICE_MS", "NoticeToast"]

NOTICE_MS = 3000


class NoticeToast(QFrame):
    """``show_notice(text, alarm)``: red border for a missed test, green for a catch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        flags = Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        super().__init__(parent, flags)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setObjectName("notice")
        self.setWindowTitle("driverseat notice")
        layout = QVBoxLayout(self)
        self.text = plain_label(name="text")
        layout.addWidget(self.text)
        self.setFixedWidth(420)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.hide)

    def show_notice(self, text: str, alarm: bool) -> None:
        colour = "#e0483e" if alarm else "#3fb950"
        self.setStyleSheet(
            f"#notice {{ background: #1d2027; border: 2px solid {colour}; border-radius: 8px; }}"
            " QLabel { color: #f0f0f0; }"
        )
        self.text.setText(text)
        self.adjustSize()
        screen = QGuiApplication.primaryScreen().availableGeometry()
        self.move(screen.left() + 24, screen.top() + 24)
        self.show()
        self.timer.start(NOTICE_MS)
