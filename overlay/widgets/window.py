"""The review window: frameless, on top, covering the review's screen 1:1.

Thin wiring around a :class:`~overlay.presenter.ReviewPresenter`: keys, buttons and
canvas clicks call the presenter's intent methods; a :class:`DecisionRequest` that comes
back is emitted as ``decided`` (and ``decided_review`` with the review's id, for the app).
The side column (status, why panel, editor, reason, buttons) sits on the side away from
the proposed action; P moves it to the other side.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from capture.coords import Point
from daemon.outcomes import DecisionRequest, Review
from overlay.presenter import ReviewPresenter
from overlay.widgets.canvas import ScreenshotCanvas
from overlay.widgets.holding import HoldingWindow
from overlay.widgets.why import WARNING, WhyPanel, plain_label

__all__ = ["ReviewWindow"]

SIDE_WIDTH = 440
DECIDING_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)
# A person lets go of Enter within a few hundred ms; past this the window goes anyway
# (the release then reaches the application below, as it would without us).
HOVER_REST_MS = 40  # the pointer rests this long before the element under it is asked
_REASON_HINT = "reject reason (optional): R, then Enter or Esc"
STYLE = f"""
#side {{ background: rgb(17, 19, 24); border-radius: 10px; }}
#side QLabel {{ color: #e8e8e8; }}
#status {{ font-size: 15px; font-weight: bold; }}
#summary {{ font-size: 14px; }}
#message {{ color: {WARNING}; font-weight: bold; }}
#side QPushButton {{ padding: 6px 10px; font-weight: bold; }}
#approve {{ background: #1f7a3a; color: white; }}
#reject {{ background: #a3281f; color: white; }}
"""


class ReviewWindow(HoldingWindow):
    """Shows the presenter's current review; hides itself when there is none."""

    decided = Signal(object)  # DecisionRequest
    decided_review = Signal(str, object)  # review id, DecisionRequest
    # the pointer rests at a screen point of a review: the app asks the daemon what a
    # click there would name, and answers with show_element()
    hover_wanted = Signal(str, int, int)  # review id, screen x, y

    def __init__(
        self,
        presenter: ReviewPresenter,
        *,
        device_pixel_ratio: float | None = None,
        parent: QWidget | None = None,
    ) -> None:
        flags = (
            Qt.WindowType.Window
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
        )
        super().__init__(parent, flags)
        self.presenter = presenter
        self._images: dict[str, QImage] = {}
        self._shown: Review | None = None
        # The key that decided: the window stays mapped until it is let go, so that its
        # release comes here and not to the application below (which never saw the press).
        self._start_holding()
        # the expiry countdown ticks on its own; refresh() happens only on events and keys
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._show_expiry)
        self.suspended = False  # set by the app while an approved action runs: show nothing
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setWindowTitle("driverseat review")
        self.setStyleSheet(STYLE)
        self.canvas = ScreenshotCanvas(self, device_pixel_ratio)
        self.canvas.clicked.connect(self._clicked)
        self.canvas.dragged.connect(self._dragged)
        self.canvas.hovered.connect(self._hovered)
        # ask once the pointer rests, not at every move event
        self._hover_at: tuple[int, int] | None = None
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(HOVER_REST_MS)
        self._hover_timer.timeout.connect(self._ask_hover)
        self._build_side()

    def _build_side(self) -> None:
        self.side = QFrame(self)
        self.side.setObjectName("side")
        col = QVBoxLayout(self.side)
        col.setContentsMargins(16, 14, 16, 14)
        self.status = plain_label(name="status")
        self.expiry = plain_label(name="expiry")
        self.summary = plain_label(name="summary")
        self.message = plain_label(name="message")
        self.offline = plain_label(name="message")
        self.offline.hide()
        for w in (self.offline, self.status, self.expiry, self.summary, self.message):
            col.addWidget(w)
        self.why = WhyPanel()
        scroll = QScrollArea(self.side)
        scroll.setStyleSheet(
            "QScrollArea, #qt_scrollarea_viewport { background: transparent; border: none; }"
        )
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidgetResizable(True)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setWidget(self.why)
        col.addWidget(scroll, 1)
        self.editor = QPlainTextEdit(self.side)
        self.editor.setPlaceholderText("Enter keeps the edit, Shift+Enter a new line, Esc drops it")
        self.editor.setMaximumHeight(90)
        self.editor.textChanged.connect(self._edited)
        self.editor.hide()
        col.addWidget(self.editor)
        self.rationale = QComboBox(self.side)
        self.rationale.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.rationale.activated.connect(self._rationale)
        col.addWidget(self.rationale)
        self.reason = QLineEdit(self.side)
        self.reason.setPlaceholderText(_REASON_HINT)
        self.reason.textEdited.connect(self._reason)
        col.addWidget(self.reason)
        grid = QGridLayout()
        self.approve_button = self._button("Approve  ⏎", "approve", self.enter)
        self.reject_button = self._button("Reject  Esc", "reject", self.escape)
        self.edit_button = self._button("Edit text/keys  E", "edit", self.edit)
        self.clear_button = self._button("Clear correction  ⌫", "clear", self.backspace)
        grid.addWidget(self.approve_button, 0, 0)
        grid.addWidget(self.reject_button, 0, 1)
        grid.addWidget(self.edit_button, 1, 0)
        grid.addWidget(self.clear_button, 1, 1)
        col.addLayout(grid)
        col.addWidget(plain_label("Click the screenshot to set the right target · P: move panel"))
        for w in (self.editor, self.reason):
            w.installEventFilter(self)

    def _button(self, text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text, self.side)
        button.setObjectName(name)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Enter/Space must reach the window
        button.clicked.connect(slot)
        return button

    # -- the outside world ---------------------------------------------------------------

    def set_screenshot(self, review_id: str, image: QImage) -> None:
        """The frozen screenshot of a review (PNG decoded), shown when it is current."""
        self._images[review_id] = image
        if self._shown is not None and self._shown.id == review_id:
            self._shown = None  # repaint it on the next refresh
        self.refresh()

    def set_connection(self, connected: bool, detail: str) -> None:
        """Say when the daemon is unreachable (decisions then fail and stay undecided)."""
        self.offline.setText("" if connected else f"daemon unreachable, reconnecting ({detail})")
        self.offline.setVisible(not connected)

    def forget(self, review_id: str) -> None:
        self._images.pop(review_id, None)

    def refresh(self) -> None:
        """Make the window show the presenter's state."""
        p, review = self.presenter, self.presenter.current
        if review is None or self.suspended:
            self._shown = None
            if self._held_key is None:
                self.hide()
            return
        if self._shown is None or self._shown.id != review.id:
            self._new_review(review)
        elif self._shown is not review:
            self.why.set_review(review)
        self._shown = review
        self.canvas.set_shapes(p.shapes())
        self.status.setText(p.status())
        self._show_expiry()
        if not self._tick.isActive():
            self._tick.start()
        self.summary.setText("\n".join(t for t in (p.summary(), p.candidates_hint()) if t))
        self.message.setText(p.message)
        self.message.setVisible(bool(p.message))
        self.rationale.setVisible(p.needs_rationale)
        self._reason_field(p)
        if p.rationale in p.rationales:
            self.rationale.setCurrentIndex(p.rationales.index(p.rationale) + 1)
        self.edit_button.setEnabled(p.editable_field is not None and p.mode == "review")
        self.clear_button.setEnabled(bool(p.points))
        verdict = "Send correction" if p.points else "Approve edit" if p.edited else "Approve"
        self.approve_button.setText(f"{verdict}  ⏎")
        if p.mode != "edit" and self.editor.isVisible():
            self.editor.hide()
            self.setFocus()
        self._layout_side()
        if not self.isVisible():
            self.show()
            if QGuiApplication.platformName() != "offscreen":  # raise() is unsupported there
                self.raise_()
                self.activateWindow()
            self.setFocus()

    def _show_expiry(self) -> None:
        text = self.presenter.expiry() if self.presenter.current is not None else ""
        self.expiry.setText(text)
        self.expiry.setVisible(bool(text))
        if self.presenter.current is None:
            self._tick.stop()

    def _reason_field(self, p: ReviewPresenter) -> None:
        """The text field takes a reject reason, or the rationale a rule demands for approving."""
        need = p.rationale_min_length
        if p.mode == "justify" or (need is not None and p.mode == "review"):
            self.reason.setPlaceholderText(f"why approve (at least {need} characters), then Enter")
        else:
            self.reason.setPlaceholderText(_REASON_HINT)
        if p.mode == "review" and not p.reason and self.reason.text():
            self.reason.clear()  # Esc left the rationale: the field starts over

    def _new_review(self, review: Review) -> None:
        left, top, width, height = review.screen_rect
        image = self._images.get(review.id)
        self.canvas.set_screenshot(
            image, review.screen_rect, "" if image else "loading screenshot…"
        )
        self.why.set_review(review)
        self.reason.clear()
        self.editor.hide()
        self.rationale.clear()
        self.rationale.addItem("choose a rationale (1-9)")
        self.rationale.addItems([f"{i}. {r}" for i, r in enumerate(self.presenter.rationales, 1)])
        dpr = self.canvas.device_pixel_ratio()
        if width and height:  # logical pixels: the canvas paints the image at 1:1 physical
            self.setGeometry(QRect(round(left / dpr), round(top / dpr),
                                   math.ceil(width / dpr), math.ceil(height / dpr)))  # fmt: skip
        self.setFocus()

    def _layout_side(self) -> None:
        width = min(SIDE_WIDTH, max(260, self.width() // 3))
        x = 16 if self.presenter.panel_side() == "left" else self.width() - width - 16
        self.side.setGeometry(x, 16, width, max(200, self.height() - 32))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.canvas.setGeometry(0, 0, self.width(), self.height())
        self._layout_side()
        super().resizeEvent(event)

    # -- intents -------------------------------------------------------------------------

    def _emit(self, review_id: str | None, request: DecisionRequest | None) -> None:
        self.refresh()
        if request is not None and review_id is not None:
            self.decided.emit(request)
            self.decided_review.emit(review_id, request)

    def _current_id(self) -> str | None:
        return self.presenter.current.id if self.presenter.current else None

    def enter(self) -> None:
        """Approve / send the correction or edit; commit the editor; reject from the reason."""
        rid = self._current_id()
        self._emit(rid, self.presenter.on_enter())
        if self.presenter.mode == "justify":  # the rule wants the person's words first
            self.reason.setFocus()

    def escape(self) -> None:
        """Reject (with the typed reason); in the editor, drop the edit."""
        rid = self._current_id()
        self._emit(rid, self.presenter.on_escape())

    def number(self, number: int, event: QKeyEvent | None = None) -> None:
        """Approve candidate ``number`` (or rank it next); a key that decides is held."""
        rid = self._current_id()
        request = self.presenter.on_number(number)
        if request is not None and event is not None:
            self._hold(event)  # its release must not reach the application below
        self._emit(rid, request)

    def backspace(self) -> None:
        self.presenter.on_backspace()
        self.refresh()

    def edit(self) -> None:
        start = self.presenter.on_edit()
        if start is not None:
            self.editor.setPlainText(start)
            self.editor.show()
            self.editor.selectAll()
            self.editor.setFocus()
        self.refresh()

    def start_reason(self) -> None:
        if self.presenter.on_reason():
            self.reason.setFocus()
        self.refresh()

    def _clicked(self, point: Point) -> None:
        self.presenter.on_click((point.x, point.y))
        self.refresh()

    def _dragged(self, start: Point, end: Point) -> None:
        self.presenter.on_drag((int(start.x), int(start.y)), (int(end.x), int(end.y)))
        self.refresh()

    def _hovered(self, point: Point) -> None:
        self._hover_at = (int(point.x), int(point.y))
        self._hover_timer.start()

    def _ask_hover(self) -> None:
        review_id = self._current_id()
        if review_id is not None and self._hover_at is not None and self.presenter.points_needed:
            self.hover_wanted.emit(review_id, *self._hover_at)

    def show_element(self, review_id: str, box: tuple[int, int, int, int] | None, label: str) -> None:
        """The daemon's answer to hover_wanted: outline what a click there would name."""
        self.presenter.set_hover(review_id, box, label)
        self.canvas.set_shapes(self.presenter.shapes())

    def _edited(self) -> None:
        self.presenter.set_edit_value(self.editor.toPlainText())
        if self.presenter.mode == "edit":
            self.canvas.set_shapes(self.presenter.shapes())  # the callout follows the editor

    def _reason(self, text: str) -> None:
        if self.presenter.mode == "review":
            self.presenter.on_reason()
        self.presenter.set_reason(text)

    def _rationale(self, index: int) -> None:
        self.presenter.set_rationale(index - 1 if index > 0 else None)
        self.refresh()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, k = event.key(), Qt.Key
        if key in DECIDING_KEYS:
            # not skipped when Qt says "auto-repeat": on X11 it says so for any release and
            # press of one key with the same timestamp, which two quick taps can have
            self._hold(event)
        if key in (k.Key_Return, k.Key_Enter):
            self.enter()
        elif key == k.Key_Escape:
            self.escape()
        elif key == k.Key_Backspace:
            self.backspace()
        elif key == k.Key_E:
            self.edit()
        elif key == k.Key_R:
            self.start_reason()
        elif key == k.Key_P:
            self.presenter.on_flip_panel()
            self.refresh()
        elif k.Key_1.value <= key <= k.Key_9.value and self.presenter.numbers_pick_candidates:
            self.number(key - k.Key_0.value, event)
        elif key == k.Key_O and self.presenter.candidate_count > 1:
            self.presenter.on_rank()
            self.refresh()
        elif k.Key_1.value <= key <= k.Key_9.value and self.presenter.needs_rationale:
            if (index := key - k.Key_1.value) < len(self.presenter.rationales):
                self.presenter.set_rationale(index)
            self.refresh()
        else:
            super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Enter and Esc in the editor and the reason field go to the presenter."""
        if (
            event.type() == QEvent.Type.KeyRelease
            and isinstance(event, QKeyEvent)
            and event.key() == self._held_key
            and not event.isAutoRepeat()
        ):
            self._let_go()
            return True
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key, shift = event.key(), event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not shift:
                self._hold(event)
                self.enter()
                return True
            if key == Qt.Key.Key_Escape:
                self._hold(event)
                self.escape()
                return True
        return super().eventFilter(watched, event)
