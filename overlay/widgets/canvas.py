"""The frozen screenshot, painted 1:1 in screen pixels, with the presenter's shapes on it.

Every conversion between the widget and the screen goes through
:class:`capture.coords.WidgetPlacement`: the canvas's ``(0, 0)`` shows the top-left
pixel of the review's ``screen_rect``, and the device pixel ratio maps logical to
physical pixels, so a click lands on the screen pixel under the pointer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QWidget

from capture.coords import Point, Space, WidgetPlacement, WidgetPoint
from overlay.shapes import (
    Arrow,
    Callout,
    KeyChip,
    Marker,
    Outline,
    Role,
    ScreenPoint,
    ScrollArrow,
    Shape,
)

__all__ = ["COLOURS", "ScreenshotCanvas"]

COLOURS: dict[Role, QColor] = {
    "proposed": QColor("#ff3b30"), "correction": QColor("#30d158"), "hover": QColor("#0a84ff"),
}  # fmt: skip
DRAG_PX = 6  # a press and release this far apart (logical px) is a drag, not a click
HALO = QColor(0, 0, 0, 170)  # a dark outline keeps every mark visible on light and dark UIs
BACKDROP = QColor("#111318")


class ScreenshotCanvas(QWidget):
    """Paints the screenshot and the shapes; reports clicks, drags and hovering as SCREEN
    points. A press is a click when released within :data:`DRAG_PX`, else a drag (from
    the press to the release); while it is held the rectangle so far is ``dragging``."""

    clicked = Signal(object)  # capture.coords.Point, screen space
    dragged = Signal(object, object)  # start, end: capture.coords.Point, screen space
    hovered = Signal(object)  # capture.coords.Point, screen space (no button held)

    def __init__(self, parent: QWidget | None = None, device_pixel_ratio: float | None = None):
        super().__init__(parent)
        self._dpr_override = device_pixel_ratio
        self._image: QImage | None = None
        self._rect = (0, 0, 0, 0)
        self._shapes: list[Shape] = []
        self._missing = ""
        self._pressed: QPointF | None = None
        self.dragging: tuple[Point, Point] | None = None  # the drag so far, screen space
        self.setMouseTracking(True)  # hovering: move events without a button held
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def device_pixel_ratio(self) -> float:
        """The screen's ratio of physical to logical pixels (overridable for tests)."""
        return self._dpr_override or self.devicePixelRatioF()

    def placement(self) -> WidgetPlacement:
        """Where this canvas's ``(0, 0)`` is on the screen: the screenshot's top-left pixel."""
        left, top, _, _ = self._rect
        return WidgetPlacement(left, top, self.device_pixel_ratio())

    def set_screenshot(
        self, image: QImage | None, screen_rect: tuple[int, int, int, int], missing: str = ""
    ) -> None:
        """Show ``image`` (screen pixels of ``screen_rect``); ``missing`` says why there is none."""
        self._rect = screen_rect
        self._missing = missing
        if image is not None:
            image = QImage(image)  # a shallow copy: the ratio must not leak into the caller's
            image.setDevicePixelRatio(self.device_pixel_ratio())  # 1 image px = 1 screen px
        self._image = image
        self.update()

    def set_shapes(self, shapes: Sequence[Shape]) -> None:
        self._shapes = list(shapes)
        self.update()

    def _screen(self, pos: QPointF) -> Point:
        return self.placement().to_screen(WidgetPoint(pos.x(), pos.y()))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._pressed = event.position()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._pressed is None:
            self.hovered.emit(self._screen(pos))
            return
        if (pos - self._pressed).manhattanLength() >= DRAG_PX:
            self.dragging = (self._screen(self._pressed), self._screen(pos))
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._pressed is None:
            return
        start, pos = self._pressed, event.position()
        self._pressed, self.dragging = None, None
        if (pos - start).manhattanLength() >= DRAG_PX:
            self.dragged.emit(self._screen(start), self._screen(pos))
        else:
            self.clicked.emit(self._screen(start))
        self.update()

    # -- painting ------------------------------------------------------------------------

    def _w(self, p: ScreenPoint) -> QPointF:
        w = self.placement().to_widget(Point(p[0], p[1], Space.SCREEN))
        return QPointF(w.x, w.y)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKDROP)
        if self._image is not None:
            painter.drawImage(QPointF(0, 0), self._image)
        elif self._missing:
            painter.setPen(QColor("#ffcc00"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._missing)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        shapes = list(self._shapes)
        if self.dragging is not None:  # the box being drawn, live
            (ax, ay), (bx, by) = (self.dragging[0].x, self.dragging[0].y), (self.dragging[1].x, self.dragging[1].y)
            box = (int(min(ax, bx)), int(min(ay, by)), int(max(ax, bx)) + 1, int(max(ay, by)) + 1)
            shapes.append(Outline(box, "correction", "drawing the element's box"))
        for shape in shapes:
            if isinstance(shape, Marker):
                self._marker(painter, shape)
            elif isinstance(shape, Arrow):
                self._arrow(painter, shape)
            elif isinstance(shape, ScrollArrow):
                self._scroll(painter, shape)
            elif isinstance(shape, Callout):
                self._callout(painter, shape)
            elif isinstance(shape, Outline):
                self._outline(painter, shape)
            else:
                self._chips(painter, shape)
        painter.end()

    @staticmethod
    def _stroke(painter: QPainter, path: QPainterPath, colour: QColor, width: float) -> None:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for c, w in ((HALO, width + 3), (colour, width)):
            pen = QPen(c, w)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.drawPath(path)

    def _tag(self, painter: QPainter, at: QPointF, text: str, colour: QColor) -> None:
        """A small label box with its top-left near ``at``, kept inside the canvas."""
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        box = QFontMetrics(font).boundingRect(text).adjusted(-6, -3, 6, 3)
        box.moveTopLeft(at.toPoint())
        box.moveRight(min(box.right(), self.width() - 4))
        box.moveBottom(min(box.bottom(), self.height() - 4))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRectF(box), 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _marker(self, painter: QPainter, m: Marker) -> None:
        c, colour = self._w(m.point), COLOURS[m.role]
        path = QPainterPath()
        path.addEllipse(c, 14, 14)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):  # a gap at the centre keeps
            path.moveTo(c + QPointF(dx * 5, dy * 5))  # the exact pixel visible
            path.lineTo(c + QPointF(dx * 24, dy * 24))
        self._stroke(painter, path, colour, 2.5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(c, 1.5, 1.5)
        if m.label:
            self._tag(painter, c + QPointF(20, 18), m.label, colour)

    def _outline(self, painter: QPainter, o: Outline) -> None:
        colour = COLOURS[o.role]
        a, b = self._w((o.box[0], o.box[1])), self._w((o.box[2], o.box[3]))
        path = QPainterPath()
        path.addRect(QRectF(a, b))
        self._stroke(painter, path, colour, 2.0)
        if o.label:
            below = b.y() + 6 < self.height() - 30
            self._tag(painter, QPointF(a.x(), b.y() + 6 if below else a.y() - 28), o.label, colour)

    def _head(self, painter: QPainter, tip: QPointF, angle: float, colour: QColor) -> None:
        size = 16.0
        pts = [tip] + [
            tip - QPointF(size * math.cos(angle + s), size * math.sin(angle + s))
            for s in (0.45, -0.45)
        ]
        painter.setPen(QPen(HALO, 2))
        painter.setBrush(colour)
        painter.drawPolygon(QPolygonF(pts))

    def _arrow(self, painter: QPainter, a: Arrow) -> None:
        colour = COLOURS[a.role]
        pts = [self._w(p) for p in a.path]
        path = QPainterPath(pts[0])
        for p in pts[1:]:
            path.lineTo(p)
        self._stroke(painter, path, colour, 3.5)
        painter.setPen(QPen(HALO, 2))
        painter.setBrush(colour)
        painter.drawEllipse(pts[0], 6, 6)
        # the head follows the last segment that has a length (paths may repeat a point)
        tail = next((p for p in reversed(pts[:-1]) if p != pts[-1]), pts[0])
        d = pts[-1] - tail
        self._head(painter, pts[-1], math.atan2(d.y(), d.x()), colour)
        if a.label:
            self._tag(painter, pts[0] + QPointF(10, 10), a.label, colour)

    def _scroll(self, painter: QPainter, s: ScrollArrow) -> None:
        colour = COLOURS["proposed"]
        c = self._w(s.point)
        length = min(40 + 12 * math.hypot(s.dx, s.dy), 160)
        angle = math.atan2(s.dy, s.dx)
        tip = c + QPointF(length * math.cos(angle), length * math.sin(angle))
        path = QPainterPath(c)
        path.lineTo(tip)
        path.addEllipse(c, 9, 13)  # a mouse wheel
        self._stroke(painter, path, colour, 3.5)
        self._head(painter, tip, angle, colour)
        if s.label:
            self._tag(painter, c + QPointF(18, -30), s.label, colour)

    def _box_near(self, anchor: QPointF, width: float, height: float) -> QRectF:
        box = QRectF(anchor.x() - width / 2, anchor.y() - height / 2, width, height)
        box.moveLeft(max(8.0, min(box.left(), self.width() - width - 8)))
        box.moveTop(max(8.0, min(box.top(), self.height() - height - 8)))
        return box

    def _callout(self, painter: QPainter, c: Callout) -> None:
        colour = COLOURS["correction" if c.edited else "proposed"]
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        flags = Qt.TextFlag.TextWrapAnywhere
        text_rect = QFontMetrics(font).boundingRect(QRect(0, 0, 520, 100_000), flags, c.text)
        box = self._box_near(self._w(c.anchor), text_rect.width() + 28, text_rect.height() + 24)
        painter.setPen(QPen(colour, 2))
        painter.setBrush(QColor(20, 22, 28, 235))
        painter.drawRoundedRect(box, 8, 8)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        # QPainter.drawText never interprets markup: agent text stays inert
        painter.drawText(box.adjusted(14, 12, -14, -12), flags, c.text)
        if c.label:
            self._tag(painter, box.topLeft() + QPointF(0, -26), c.label, colour)

    def _chips(self, painter: QPainter, k: KeyChip) -> None:
        colour = COLOURS["correction" if k.edited else "proposed"]
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        fm = QFontMetrics(font)
        items: list[tuple[str, bool]] = []  # (text, is a key cap)
        for i, combo in enumerate(k.combos):
            if i:
                items.append(("  ", False))
            for j, key in enumerate(combo):
                items += [(" + ", False)] if j else []
                items.append((key, True))
        widths = [fm.horizontalAdvance(t) + (24 if cap else 0) for t, cap in items]
        height = fm.height() + 16
        box = self._box_near(self._w(k.anchor), sum(widths) + 32, height + 24)
        painter.setPen(QPen(colour, 2))
        painter.setBrush(QColor(20, 22, 28, 235))
        painter.drawRoundedRect(box, 8, 8)
        painter.setFont(font)
        x = box.left() + 16
        for (text, cap), w in zip(items, widths, strict=True):
            cell = QRectF(x, box.top() + 12, w, height)
            if cap:
                painter.setPen(QPen(QColor("#c8c8c8"), 1.5))
                painter.setBrush(QColor("#f4f4f4"))
                painter.drawRoundedRect(cell, 6, 6)
                painter.setPen(QColor("#111111"))
            else:
                painter.setPen(QColor("white"))
            painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, text)
            x += w
        if k.label:
            self._tag(painter, box.topLeft() + QPointF(0, -26), k.label, colour)
