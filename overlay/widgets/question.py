"""The question window: the frozen screen 1:1 with the options drawn on it, numbered.

Thin wiring around a :class:`~overlay.questions.QuestionPresenter`, like the review window
around its presenter: digit keys, clicks, the answer field and the takeover key call the
presenter's intents; an :class:`AnswerRequest` that comes back is emitted as ``answered``.
Agent text is plain text everywhere (labels from :func:`plain_label`, QPainter text).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QFrame, QLineEdit, QPushButton, QVBoxLayout, QWidget

from capture.coords import Point
from daemon.question import AnswerRequest, Question
from overlay.questions import OptionMark, QuestionPresenter
from overlay.widgets.canvas import HALO, ScreenshotCanvas
from overlay.widgets.holding import HoldingWindow
from overlay.widgets.why import plain_label
from overlay.widgets.window import SIDE_WIDTH, STYLE

__all__ = ["TITLE", "QuestionCanvas", "QuestionWindow"]

TITLE = "driverseat question"
OPTION = QColor("#0a84ff")
SPOT = QColor("#30d158")
_HINT = ("1-9 or click an option · click elsewhere, then Enter: that spot · "
         "type an answer, Enter · Ctrl+T: take over and show it")  # fmt: skip


class QuestionCanvas(ScreenshotCanvas):
    """The screenshot with each option numbered: a ring at a point, an outline round a box."""

    def __init__(self, parent: QWidget | None = None, device_pixel_ratio: float | None = None):
        super().__init__(parent, device_pixel_ratio)
        self._marks: list[OptionMark] = []
        self._spot: tuple[int, int] | None = None

    def set_marks(self, marks: list[OptionMark], spot: tuple[int, int] | None) -> None:
        self._marks, self._spot = list(marks), spot
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for m in self._marks:
            if m.box is not None:
                a, b = self._w((m.box[0], m.box[1])), self._w((m.box[2], m.box[3]))
                for colour, width in ((HALO, 6.0), (OPTION, 3.0)):
                    painter.setPen(QPen(colour, width))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawRoundedRect(QRectF(a, b), 4, 4)
                self._tag(painter, a + QPointF(0, -26), f"{m.number}", OPTION)
            elif m.point is not None:
                c = self._w(m.point)
                for colour, width in ((HALO, 6.0), (OPTION, 3.0)):
                    painter.setPen(QPen(colour, width))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawEllipse(c, 16, 16)
                self._tag(painter, c + QPointF(14, -34), f"{m.number}", OPTION)
        if self._spot is not None:
            c = self._w(self._spot)
            for colour, width in ((HALO, 6.0), (SPOT, 3.0)):
                painter.setPen(QPen(colour, width))
                painter.drawEllipse(c, 12, 12)
            self._tag(painter, c + QPointF(16, 14), "this spot", SPOT)
        painter.end()


class QuestionWindow(HoldingWindow):
    """Shows the presenter's current question; hides itself when there is none."""

    answered = Signal(str, object)  # question id, AnswerRequest

    def __init__(
        self, presenter: QuestionPresenter, *, device_pixel_ratio: float | None = None,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        flags = Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        super().__init__(parent, flags)
        self.presenter = presenter
        self._images: dict[str, QImage] = {}
        self._shown: Question | None = None
        self._start_holding()
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._show_expiry)
        self.suspended = False  # set by the app while a review is first in line
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setWindowTitle(TITLE)
        self.setStyleSheet(STYLE + "#question { font-size: 17px; font-weight: bold; }")
        self.canvas = QuestionCanvas(self, device_pixel_ratio)
        self.canvas.clicked.connect(self._clicked)
        self._build_side()

    def _build_side(self) -> None:
        self.side = QFrame(self)
        self.side.setObjectName("side")
        col = QVBoxLayout(self.side)
        col.setContentsMargins(16, 14, 16, 14)
        self.status = plain_label(name="status")
        self.expiry = plain_label(name="expiry")
        self.question = plain_label(name="question")
        self.context = plain_label(name="summary")
        self.message = plain_label(name="message")
        for w in (self.status, self.expiry, self.question, self.context, self.message):
            col.addWidget(w)
        self.options = QVBoxLayout()
        col.addLayout(self.options)
        col.addStretch(1)
        self.field = QLineEdit(self.side)
        self.field.textEdited.connect(self.presenter.set_text)
        self.field.installEventFilter(self)
        col.addWidget(self.field)
        self.send_button = self._button("Send answer  ⏎", "approve", self.enter)
        self.takeover_button = self._button("Take over and show it  Ctrl+T", "edit", self.takeover)
        col.addWidget(self.send_button)
        col.addWidget(self.takeover_button)
        col.addWidget(plain_label(_HINT))

    def _button(self, text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text, self.side)
        button.setObjectName(name)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(slot)
        return button

    # -- the outside world ---------------------------------------------------------------
    def set_screenshot(self, question_id: str, image: QImage) -> None:
        self._images[question_id] = image
        if self._shown is not None and self._shown.id == question_id:
            self._shown = None
        self.refresh()

    def forget(self, question_id: str) -> None:
        self._images.pop(question_id, None)

    def refresh(self) -> None:
        p, q = self.presenter, self.presenter.current
        if q is None or self.suspended:
            self._shown = None
            if self._held_key is None:
                self.hide()
            return
        if self._shown is None or self._shown.id != q.id:
            self._new_question(q)
        self._shown = q
        self.canvas.set_marks(p.marks(), p.point)
        self.status.setText(p.status())
        self._show_expiry()
        if not self._tick.isActive():
            self._tick.start()
        self.message.setText(p.message)
        self.message.setVisible(bool(p.message))
        self._layout_side()
        if not self.isVisible():
            self.show()
            if QGuiApplication.platformName() != "offscreen":
                self.raise_()
                self.activateWindow()
            self._focus(q)

    def _focus(self, q: Question) -> None:
        # a secret (a one-time code is digits) or a question without options: type at once
        if q.secret or not q.options:
            self.field.setFocus()
        else:
            self.setFocus()

    def _show_expiry(self) -> None:
        text = self.presenter.expiry()
        self.expiry.setText(text)
        self.expiry.setVisible(bool(text))
        if self.presenter.current is None:
            self._tick.stop()

    def _new_question(self, q: Question) -> None:
        left, top, width, height = q.screen_rect
        image = self._images.get(q.id)
        self.canvas.set_screenshot(image, q.screen_rect, "" if image else "loading screenshot…")
        self.question.setText(q.question)
        context = [f"Goal: {q.goal}"] if q.goal else []
        context += [f"Done: {s}" for s in q.steps[-6:]]
        context += [f"Stuck: {q.stuck}"] if q.stuck else []
        self.context.setText("\n".join(context))
        while (item := self.options.takeAt(0)) is not None:
            if (w := item.widget()) is not None:
                w.deleteLater()
        for o in q.options:
            b = QPushButton(f"{o.number}.  {o.text}", self.side)
            b.setObjectName("option")
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(lambda _=False, n=o.number: self._emit(self.presenter.on_digit(n)))
            self.options.addWidget(b)
        self.field.clear()
        secret = QLineEdit.EchoMode.Password if q.secret else QLineEdit.EchoMode.Normal
        self.field.setEchoMode(secret)
        self.field.setPlaceholderText(
            "the secret (masked, never stored), then Enter" if q.secret else "or type an answer, then Enter"
        )
        dpr = self.canvas.device_pixel_ratio()
        if width and height:
            self.setGeometry(QRect(round(left / dpr), round(top / dpr),
                                   math.ceil(width / dpr), math.ceil(height / dpr)))  # fmt: skip
        self._focus(q)

    def _layout_side(self) -> None:
        width = min(SIDE_WIDTH, max(260, self.width() // 3))
        self.side.setGeometry(self.width() - width - 16, 16, width, max(200, self.height() - 32))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.canvas.setGeometry(0, 0, self.width(), self.height())
        self._layout_side()
        super().resizeEvent(event)

    # -- intents -------------------------------------------------------------------------
    def _emit(self, request: AnswerRequest | None, question_id: str | None = None) -> None:
        qid = question_id or (self._shown.id if self._shown is not None else None)
        if request is not None:
            self.field.clear()
        self.refresh()
        if request is not None and qid is not None:
            self.answered.emit(qid, request)

    def _current_id(self) -> str | None:
        return self.presenter.current.id if self.presenter.current else None

    def enter(self) -> None:
        qid = self._current_id()
        self._emit(self.presenter.on_enter(), qid)

    def takeover(self) -> None:
        qid = self._current_id()
        self._emit(self.presenter.on_takeover(), qid)

    def _clicked(self, point: Point) -> None:
        qid = self._current_id()
        self._emit(self.presenter.on_click((point.x, point.y)), qid)

    def _takeover_key(self, event: QKeyEvent) -> bool:
        return event.key() == Qt.Key.Key_T and bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, k = event.key(), Qt.Key
        qid = self._current_id()
        if self._takeover_key(event):
            self._hold(event)
            self.takeover()
        elif k.Key_1.value <= key <= k.Key_9.value:
            self._hold(event)
            self._emit(self.presenter.on_digit(key - k.Key_0.value), qid)
        elif key in (k.Key_Return, k.Key_Enter):
            self._hold(event)
            self.enter()
        elif key == k.Key_Backspace:
            self.presenter.on_backspace()
            self.refresh()
        elif key == k.Key_Tab:
            self.field.setFocus()
        else:
            super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter, Esc and the takeover key in the answer field."""
        if not isinstance(event, QKeyEvent):
            return super().eventFilter(watched, event)
        if event.type() == QEvent.Type.KeyRelease and event.key() == self._held_key and not event.isAutoRepeat():
            self._let_go()
            return True
        if event.type() == QEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._hold(event)
                self.enter()
                return True
            if self._takeover_key(event):
                self._hold(event)
                self.takeover()
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.setFocus()
                return True
        return super().eventFilter(watched, event)
