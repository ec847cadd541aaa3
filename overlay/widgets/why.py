"""The "why" panel: the agent's reason, confidence, goal and steps, and apart from them,
in a warning colour, the text it read from the screen or the web (it may be an injection).
A model's own safety checks (OpenAI's ``pending_safety_checks``) get a box of their own,
first: they are neither the agent's reasoning nor text it read.

All agent text is plain text: every QLabel here is made by :func:`plain_label`
(``Qt.PlainText``), the screen text sits in a read-only ``QPlainTextEdit``, and no
agent text goes into a tooltip (Qt renders tooltips as rich text when they look like it).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QFrame, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from daemon.outcomes import Review
from overlay.presenter import rule_text

__all__ = ["WARNING", "WhyPanel", "plain_label"]

WARNING = "#ffb020"
DANGER = "#ff5a5a"
MAX_STEPS = 8  # the latest steps; the agent may send 50


def plain_label(text: str = "", parent: QWidget | None = None, *, name: str = "") -> QLabel:
    """A word-wrapped QLabel that shows ``text`` literally, never as rich text or links."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setOpenExternalLinks(False)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    label.setText(text)
    if name:
        label.setObjectName(name)
    return label


def _read_only(parent: QWidget, name: str) -> QPlainTextEdit:
    """Agent or model text: read-only, plain, wrapped, never focused."""
    edit = QPlainTextEdit(parent)
    edit.setObjectName(name)
    edit.setReadOnly(True)
    edit.setMaximumHeight(180)
    # long URLs wrap instead of scrolling sideways
    edit.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    edit.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    edit.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return edit


class WhyPanel(QFrame):
    """What the agent said about the action, and what it read, kept visibly apart."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("why")
        self.setStyleSheet(
            "#why { background: transparent; } #why QLabel { color: #e8e8e8; }"
            " #why QLabel#heading { color: #9aa4b2; font-weight: bold; margin-top: 4px; }"
            f" #screenBox {{ border: 2px solid {WARNING}; border-radius: 6px;"
            "  background: rgba(255, 176, 32, 40); }"
            f" #screenBox QLabel {{ color: {WARNING}; }}"
            f" #screenText {{ color: {WARNING}; background: rgba(0, 0, 0, 170); border: none; }}"
            f" #safetyBox {{ border: 2px solid {DANGER}; border-radius: 6px;"
            "  background: rgba(255, 90, 90, 40); }"
            f" #safetyBox QLabel {{ color: {DANGER}; font-weight: bold; }}"
            f" #safetyText {{ color: #ffd0d0; background: rgba(0, 0, 0, 170); border: none; }}"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.safety_box = QFrame(self)
        self.safety_box.setObjectName("safetyBox")
        sbox = QVBoxLayout(self.safety_box)
        sbox.addWidget(
            plain_label(
                "⛔ The model's own safety checks flagged this action. Approving acknowledges "
                "them to the model; reject unless you are sure."
            )
        )
        self.safety_text = _read_only(self.safety_box, "safetyText")
        sbox.addWidget(self.safety_text)
        layout.addWidget(self.safety_box)
        self.reason = plain_label(name="reason")
        self.confidence = plain_label(name="confidence")
        self.goal = plain_label(name="goal")
        self.steps = plain_label(name="steps")
        self.rule = plain_label(name="rule")
        self._titles: dict[str, QLabel] = {}
        for heading, widget in (
            ("Why (the agent's words)", self.reason),
            ("Confidence", self.confidence),
            ("Goal", self.goal),
            ("Steps so far", self.steps),
            ("Held by policy rule", self.rule),
        ):
            title = plain_label(heading, name="heading")
            layout.addWidget(title)
            layout.addWidget(widget)
            self._titles[widget.objectName()] = title  # hidden together when empty

        self.screen_box = QFrame(self)
        self.screen_box.setObjectName("screenBox")
        box = QVBoxLayout(self.screen_box)
        box.addWidget(
            plain_label(
                "⚠ Text the agent read from the screen or the web. It is not the agent's "
                "reasoning and may contain instructions meant to steer it."
            )
        )
        self.screen_text = _read_only(self.screen_box, "screenText")
        box.addWidget(self.screen_text)
        layout.addWidget(self.screen_box)
        layout.addStretch(1)

    def set_review(self, review: Review | None) -> None:
        """Show ``review``'s explanation (or nothing)."""
        r = review
        self._show(self.reason, r.reason if r and r.reason else "(the agent gave no reason)")
        conf = r.confidence if r else None
        self._show(self.confidence, "not given" if conf is None else f"{conf:.0%}")
        self._show(self.goal, r.goal if r else None)
        steps = list(r.steps) if r else []
        first = max(0, len(steps) - MAX_STEPS)
        self._show(self.steps, "\n".join(f"{i}. {s}" for i, s in list(enumerate(steps, 1))[first:]))
        self._show(self.rule, rule_text(r) if r else None)
        self.screen_text.setPlainText(r.screen_text if r and r.screen_text else "")
        self.screen_box.setVisible(bool(r and r.screen_text))
        checks = r.safety_checks if r else ()
        self.safety_text.setPlainText("\n\n".join(checks))
        self.safety_box.setVisible(bool(checks))

    def _show(self, label: QLabel, text: str | None) -> None:
        label.setText(text or "")
        label.setVisible(bool(text))
        self._titles[label.objectName()].setVisible(bool(text))
