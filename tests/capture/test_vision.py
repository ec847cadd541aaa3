"""The element locator and the feedback drawing (capture/vision.py)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.errors import CaptureError
from capture.vision import Box, annotate, crop_around, locate

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "midscene"

BG = (245, 245, 245)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _canvas(w: int = 800, h: int = 600, colour: tuple[int, int, int] = BG) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    img[:] = colour
    return img


def _text_box(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.6) -> Box:
    """Draw ``text`` with its baseline at ``org``; return the tight ink box."""
    before = img.copy()
    cv2.putText(img, text, org, FONT, scale, (30, 30, 30), 1, cv2.LINE_AA)
    ys, xs = np.nonzero(np.any(img != before, axis=2))
    return Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def _button(img: np.ndarray, box: Box, fill: tuple[int, int, int], label: str) -> None:
    cv2.rectangle(img, (box.x0, box.y0), (box.x1 - 1, box.y1 - 1), fill, -1)
    cv2.rectangle(img, (box.x0, box.y0), (box.x1 - 1, box.y1 - 1), (150, 150, 150), 1)
    (tw, th), _ = cv2.getTextSize(label, FONT, 0.55, 1)
    cx, cy = box.center
    cv2.putText(img, label, (cx - tw // 2, cy + th // 2), FONT, 0.55, (20, 20, 20), 1, cv2.LINE_AA)


# --- Box ---------------------------------------------------------------------------


def test_box_geometry() -> None:
    b = Box(10, 20, 30, 60)
    assert (b.width, b.height, b.center) == (20, 40, (20, 40))
    assert b.contains(10, 20) and b.contains(29, 59)
    assert not b.contains(30, 20) and not b.contains(10, 60)
    assert b.iou(b) == 1.0
    assert b.iou(Box(30, 20, 50, 60)) == 0.0
    assert b.iou(Box(20, 20, 40, 60)) == pytest.approx(1 / 3)
    with pytest.raises(AttributeError):
        b.x0 = 3  # type: ignore[misc]


# --- synthetic screens -------------------------------------------------------------


def test_button_with_text_gives_the_button() -> None:
    img = _canvas()
    truth = Box(300, 250, 420, 284)
    _button(img, truth, (255, 140, 40), "Submit")
    for pt in (truth.center, (truth.x0 + 8, truth.y0 + 6), (truth.x1 - 10, truth.y1 - 6)):
        assert locate(img, *pt).iou(truth) >= 0.8, pt


def test_filled_button_without_border() -> None:
    img = _canvas(colour=(255, 255, 255))
    truth = Box(100, 100, 196, 132)
    cv2.rectangle(img, (truth.x0, truth.y0), (truth.x1 - 1, truth.y1 - 1), (255, 119, 22), -1)
    (tw, th), _ = cv2.getTextSize("OK", FONT, 0.55, 1)
    cx, cy = truth.center
    cv2.putText(img, "OK", (cx - tw // 2, cy + th // 2), FONT, 0.55, (255, 255, 255), 1)
    assert locate(img, *truth.center).iou(truth) >= 0.8


def test_text_label_on_page_background() -> None:
    img = _canvas()
    ink = _text_box(img, "Settings", (120, 200))
    _text_box(img, "Other label", (120, 260))  # a neighbour that must stay out
    # a text element's box is its line box: the ink plus side bearings and leading
    line = Box(ink.x0 - 2, ink.y0 - 3, ink.x1 + 2, ink.y1 + 3)
    got = locate(img, *ink.center)
    assert got.iou(line) >= 0.8
    assert got.y1 < 240


def test_icon() -> None:
    img = _canvas()
    cv2.circle(img, (400, 300), 9, (200, 90, 20), 2, cv2.LINE_AA)
    cv2.line(img, (406, 306), (414, 314), (200, 90, 20), 2, cv2.LINE_AA)
    truth = Box(388, 288, 418, 318)  # the 26 px glyph plus a 2 px hit margin
    assert locate(img, 400, 300).iou(truth) >= 0.8  # the centre is empty inside the lens
    assert locate(img, 409, 300).iou(truth) >= 0.8


def test_thin_bar_gives_the_bar() -> None:
    img = _canvas(colour=(90, 60, 50))
    truth = Box(300, 200, 324, 203)  # a carousel dot: a 24x3 bar, not a text line
    cv2.rectangle(img, (truth.x0, truth.y0), (truth.x1 - 1, truth.y1 - 1), (255, 255, 255), -1)
    cv2.rectangle(img, (340, 200), (355, 202), (160, 130, 120), -1)  # the next, dimmer dot
    got = locate(img, 312, 201)
    assert got.iou(truth) >= 0.6
    assert got.x1 <= 340


def test_nested_button_inside_panel_gives_the_button() -> None:
    img = _canvas()
    panel = Box(100, 80, 700, 520)
    cv2.rectangle(img, (panel.x0, panel.y0), (panel.x1 - 1, panel.y1 - 1), (255, 255, 255), -1)
    cv2.rectangle(img, (panel.x0, panel.y0), (panel.x1 - 1, panel.y1 - 1), (180, 180, 180), 1)
    _text_box(img, "Panel title", (130, 120))
    inner = Box(480, 440, 660, 476)
    _button(img, inner, (230, 230, 230), "Apply changes")
    got = locate(img, *inner.center)
    assert got.iou(inner) >= 0.8
    assert got.iou(panel) < 0.2


def test_empty_input_field() -> None:
    img = _canvas()
    field = Box(200, 150, 560, 182)
    cv2.rectangle(img, (field.x0, field.y0), (field.x1 - 1, field.y1 - 1), (255, 255, 255), -1)
    cv2.rectangle(img, (field.x0, field.y0), (field.x1 - 1, field.y1 - 1), (160, 160, 160), 1)
    assert locate(img, *field.center).iou(field) >= 0.8


def test_bgra_input_accepted_and_deterministic() -> None:
    img = _canvas()
    truth = Box(300, 250, 420, 284)
    _button(img, truth, (255, 140, 40), "Go")
    bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    assert locate(bgra, *truth.center) == locate(img, *truth.center)


# --- real screenshots --------------------------------------------------------------

REAL = [
    # (folder, element content or index, nodeType)
    ("antd-form", "Register", "BUTTON Node"),
    ("antd-form", "Get captcha", "BUTTON Node"),
    ("antd-form", "Confirm Password", "TEXT Node"),
    ("antd-tooltip", "Bottom", "BUTTON Node"),
    ("antd-tooltip", "Left", "BUTTON Node"),
    ("githubstatus", "Git Operations", "TEXT Node"),
    ("githubstatus", "Community", "TEXT Node"),
]


@pytest.mark.parametrize(("folder", "content", "kind"), REAL)
def test_real_screenshot_elements(folder: str, content: str, kind: str) -> None:
    if not (DATA / folder / "input.png").is_file():
        pytest.skip(f"dev data not found at {DATA / folder} (see /work/shared/data/README.md)")
    img = cv2.imread(str(DATA / folder / "input.png"), cv2.IMREAD_COLOR)
    assert img is not None
    elements = json.loads((DATA / folder / "element-snapshot.json").read_text(encoding="utf-8"))
    el = next(e for e in elements if e["content"] == content and e["nodeType"] == kind)
    r = el["rect"]
    z = r.get("zoom", 1)
    truth = Box(
        round(r["left"] * z),
        round(r["top"] * z),
        round((r["left"] + r["width"]) * z),
        round((r["top"] + r["height"]) * z),
    )
    assert locate(img, *truth.center).iou(truth) >= 0.5


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("pt", [(-1, 10), (10, -1), (800, 10), (10, 600), (10**6, 10**6)])
def test_point_outside_raises(pt: tuple[int, int]) -> None:
    with pytest.raises(CaptureError):
        locate(_canvas(), *pt)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((100, 100, 3), np.float32),
        np.zeros((100, 100, 3), np.uint16),
        np.zeros((100, 100), np.uint8),
        np.zeros((100, 100, 2), np.uint8),
        np.zeros((0, 100, 3), np.uint8),
        [[0, 0, 0]],
    ],
)
def test_bad_array_raises(bad: object) -> None:
    with pytest.raises(CaptureError):
        locate(bad, 0, 0)  # type: ignore[arg-type]


def test_capture_error_details() -> None:
    with pytest.raises(CaptureError) as exc:
        locate(_canvas(80, 60), 80, 5)
    assert exc.value.details["width"] == 80


# --- annotate / crop ---------------------------------------------------------------


def _is_red(px: np.ndarray) -> bool:
    b, g, r = (int(v) for v in px)
    return r > 180 and g < 80 and b < 80


def _is_green(px: np.ndarray) -> bool:
    b, g, r = (int(v) for v in px)
    return g > 150 and r < 80 and b < 80


def test_annotate_colours_and_no_mutation() -> None:
    img = _canvas(400, 300, (255, 255, 255))
    original = img.copy()
    box = Box(250, 180, 330, 220)
    out = annotate(img, (60, 50), (290, 200), box)
    assert np.array_equal(img, original)
    assert out.shape == img.shape and out.dtype == np.uint8 and out is not img
    assert _is_red(out[50, 60])
    assert _is_green(out[200, 290])
    assert _is_green(out[180, 270])  # the box's top edge
    # something is drawn between the two points (the arrow)
    assert not np.array_equal(out[125, 175], original[125, 175]) or np.any(
        out[110:140, 160:190] != 255
    )


def test_annotate_without_correction() -> None:
    img = _canvas(200, 200, (255, 255, 255))
    out = annotate(img, (100, 100), None, None)
    assert _is_red(out[100, 100])
    assert not any(_is_green(p) for p in out.reshape(-1, 3)[::7])


def test_crop_around_is_clamped() -> None:
    img = np.arange(300 * 400 * 3, dtype=np.uint32).astype(np.uint8).reshape(300, 400, 3)
    c = crop_around(img, 5, 5, size=100)
    assert c.shape == (100, 100, 3)
    assert np.array_equal(c, img[:100, :100])
    c = crop_around(img, 399, 299, size=100)
    assert np.array_equal(c, img[200:, 300:])
    c = crop_around(img, 200, 150, size=1000)
    assert c.shape == img.shape
    c[:] = 0
    assert img.any()  # a copy


# --- real desktop shots (bench/data/desktop: GTK under Xvfb, boxes from AT-SPI) ---------

DESKTOP = Path(__file__).resolve().parents[2] / "bench" / "data" / "desktop"


def _desktop(shot: str, role: str, name: str) -> tuple[np.ndarray, Box]:
    img = cv2.imread(str(DESKTOP / shot / "input.png"), cv2.IMREAD_COLOR)
    assert img is not None
    for el in json.loads((DESKTOP / shot / "elements.json").read_text(encoding="utf-8")):
        if el["role"] == role and el["name"] == name:
            return img, Box(*el["box"])
    raise AssertionError(f"no {role} {name!r} in {shot}")


@pytest.mark.parametrize(
    ("shot", "role", "name"),
    [
        ("mousepad-dark", "menu", "Edit"),  # a menu bar item: the bar's height, half-way to its neighbours
        ("zenity-list-dark", "table cell", "LH 401"),  # a list row's cell, its column
        ("zenity-list-light", "table cell", "18:30"),
        ("zenity-forms-light", "label", "Customer"),  # a form's label: as tall as its field
    ],
)
def test_desktop_elements_without_borders_get_their_toolkits_box(shot: str, role: str, name: str) -> None:
    img, truth = _desktop(shot, role, name)
    got = locate(img, *truth.center)
    assert got.iou(truth) >= 0.8, (got, truth)
