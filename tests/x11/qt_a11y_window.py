"""A Qt 6 window for the accessibility tests: run as ``python -m tests.x11.qt_a11y_window``.

A label, a push button and a password field (focused) in a window titled "Qt Ticket" at
(300, 200), 300x200, on $DISPLAY.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget


def main() -> int:
    app = QApplication(sys.argv[:1])
    app.setApplicationName("qt-a11y-window")
    window = QWidget()
    window.setWindowTitle("Qt Ticket")
    layout = QVBoxLayout(window)
    layout.addWidget(QLabel("Due date"))
    layout.addWidget(QPushButton("Escalate"))
    secret = QLineEdit()
    secret.setEchoMode(QLineEdit.EchoMode.Password)
    layout.addWidget(secret)
    window.setGeometry(300, 200, 300, 200)
    window.show()
    secret.setFocus()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
