"""Thin Qt wiring around the presenter: canvas, why panel, review window, grace toast."""

from overlay.widgets.canvas import ScreenshotCanvas
from overlay.widgets.notice import NoticeToast
from overlay.widgets.toast import GraceToast
from overlay.widgets.why import WhyPanel, plain_label
from overlay.widgets.window import ReviewWindow

__all__ = ["GraceToast", "NoticeToast", "ReviewWindow", "ScreenshotCanvas", "WhyPanel", "plain_label"]
