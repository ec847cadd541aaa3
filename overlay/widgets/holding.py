"""A window that keeps the key which decided mapped until that key is let go.

The review and question windows decide on a key press; unmapped at once, the key's
release would go to the application below, which never saw the press. So the window
stays until the release comes (or :data:`HOLD_MAX_MS` passes).
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QWidget

__all__ = ["HOLD_MAX_MS", "HoldingWindow"]

HOLD_MAX_MS = 1000


class HoldingWindow(QWidget):
    """Call :meth:`_start_holding` in ``__init__``; :meth:`_hold` on a deciding press."""

    def _start_holding(self) -> None:
        self._held_key: int | None = None
        self._hold_timer = QTimer(self)
        self._hold_timer.setSingleShot(True)
        self._hold_timer.setInterval(HOLD_MAX_MS)
        self._hold_timer.timeout.connect(self._let_go)

    def refresh(self) -> None:
        raise NotImplementedError

    def _hold(self, event: QKeyEvent) -> None:
        self._held_key = event.key()
        self._hold_timer.start()

    def _let_go(self) -> None:
        self._held_key = None
        self._hold_timer.stop()
        self.refresh()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == self._held_key and not event.isAutoRepeat():
            self._let_go()
        else:
            super().keyReleaseEvent(event)
