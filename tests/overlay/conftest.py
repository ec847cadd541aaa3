"""Qt for the overlay's tests: offscreen unless the caller chose a platform (e.g. xcb)."""

from __future__ import annotations

import os

# before pytest-qt makes the QApplication; the presenter tests never touch Qt
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
