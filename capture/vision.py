"""Find the UI element under a point of a screenshot, and draw correction feedback.

Everything here works on BGR ``uint8`` arrays (OpenCV's layout) and is deterministic.

The locator looks at a window around the point only. It splits the window into
*surfaces* (large regions of near-constant colour: page background, button fills,
input interiors) and *ink* (everything else: glyphs, icons, borders, pictures), then

1. if there is ink at or next to the point, it groups the ink blobs of one text line
   (glyphs into words, words into a label) or takes the blob itself (icon, picture,
   a box's border ring); if that group sits in a small surface that hugs it (a button,
   a tag), the surface is the element; for a small (text/icon) group, the smallest
   outline of the dilated Canny edges around the point is preferred when it holds
   the whole group, since it matches rendered line boxes more closely; an isolated thin,
   elongated group (a rule, a carousel dot) is its own box, and a small square single-blob
   glyph (an icon) gets its bounding square plus a margin that never reaches its neighbours;
2. otherwise the point is on a surface: a bounded one (input, button, card) is the
   element; on the open page background the nearest ink group wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from capture._layout import _PHRASE_GAP, _is_text, bar_cell, field_beside, row_at, row_cell
from capture.errors import CaptureError

__all__ = ["Box", "annotate", "crop_around", "locate"]


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned pixel rectangle; ``x1`` and ``y1`` are exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return max(0, self.x1 - self.x0)

    @property
    def height(self) -> int:
        return max(0, self.y1 - self.y0)

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def center(self) -> tuple[int, int]:
        return ((self.x0 + self.x1) // 2, (self.y0 + self.y1) // 2)

    def contains(self, x: int, y: int) -> bool:
        """Whether pixel (x, y) lies inside the box."""
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other`` (0.0 when both are empty)."""
        iw = min(self.x1, other.x1) - max(self.x0, other.x0)
        ih = min(self.y1, other.y1) - max(self.y0, other.y0)
        inter = max(0, iw) * max(0, ih)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


# --- tuning (all in screenshot pixels; no per-image constants) -------------------------
_HALF_W = 320  # the window around the point
_HALF_H = 240
_FLAT = 12  # max 3x3 colour range of a flat pixel away from strong edges
_STRONG = 32  # a strong edge; weaker ones next to it are compression/antialias halo
_MIN_SURFACE = 80  # min area of a flat region to count as a surface
_NEAR = 6  # ink this close to the point counts as under it
_FAR = 14  # on open background, ink this close is still taken
_WORD_GAP = 0.25  # glyphs/words closer than this x line height belong to one label
_HUG_H = 3.5  # a button/tag is at most this many times its content's height
_ROWS = True  # a text line in a list is its row's cell
_FORM = True  # a label beside a field is as tall as the field
_BAR = True  # items in bars (menus, tool bars, tabs, rows) span the band
_EDGE = True  # text/icons: prefer the outline of dilated Canny edges (tighter on glyphs)
_THIN = 5  # ink no thicker than this is a line or bar, not text
_SPECK = 6  # ink blobs smaller than this (px) never join a group
_ICON_PAD = 0.1  # an icon's hit area: its glyph square grown by this x its size (capped by
# half the free space around it)
_ICON_BLOBS = 1  # an icon is one connected glyph; text of that size is several
_ICON_MIN = 9  # icon glyph sizes
_ICON_MAX = 28
_TEXT_PAD = 1.2  # ink height -> line-box height for text-like groups


def _check(image: np.ndarray, x: int, y: int) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise CaptureError("image must be a numpy array", type=type(image).__name__)
    if image.dtype != np.uint8:
        raise CaptureError("image must be uint8", dtype=str(image.dtype))
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 1 or image.shape[1] < 1:
        raise CaptureError("image must be HxWx3 (BGR) or HxWx4 (BGRA)", shape=image.shape)
    h, w = image.shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise CaptureError("point outside the image", x=x, y=y, width=w, height=h)
    return image[:, :, :3] if image.shape[2] == 4 else image


def _gradient(win: np.ndarray) -> np.ndarray:
    """Per-pixel 3x3 max-min range, the max over the colour channels."""
    k = np.ones((3, 3), np.uint8)
    g = cv2.morphologyEx(win, cv2.MORPH_GRADIENT, k)
    return np.asarray(g.max(axis=2), dtype=np.uint8)


class _Window:
    """The segmentation of the window around the point into surfaces and ink blobs."""

    def __init__(self, image: np.ndarray, x: int, y: int) -> None:
        h, w = image.shape[:2]
        self.ox, self.oy = max(0, x - _HALF_W), max(0, y - _HALF_H)
        ex, ey = min(w, x + _HALF_W + 1), min(h, y + _HALF_H + 1)
        self.w, self.h = ex - self.ox, ey - self.oy
        # window edges that are not image edges: a region touching them is unbounded
        self.open_l, self.open_t = self.ox > 0, self.oy > 0
        self.open_r, self.open_b = ex < w, ey < h
        win = image[self.oy : ey, self.ox : ex]
        self.win = win
        grad = _gradient(win)
        strong = (grad > _STRONG).astype(np.uint8)
        halo = cv2.dilate(strong, np.ones((5, 5), np.uint8))
        flat = (grad <= _FLAT).astype(np.uint8)
        _, self.slab, sstats, _ = cv2.connectedComponentsWithStats(flat, connectivity=4)
        is_surface = sstats[:, cv2.CC_STAT_AREA] >= _MIN_SURFACE
        is_surface[0] = False  # label 0 is the non-flat pixels
        self.sstats = sstats
        self.is_surface = is_surface
        # weak edges right next to strong ones are antialiasing or compression ringing
        ink = ((flat == 0) & ((strong > 0) | (halo == 0))).astype(np.uint8)
        _, self.ilab, istats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        self.istats = istats

    def ibox(self, i: int) -> tuple[int, int, int, int]:
        s = self.istats[i]
        return int(s[0]), int(s[1]), int(s[0] + s[2]), int(s[1] + s[3])

    def sbox(self, i: int) -> tuple[int, int, int, int]:
        s = self.sstats[i]
        return int(s[0]), int(s[1]), int(s[0] + s[2]), int(s[1] + s[3])

    def edge_blob(self, px: int, py: int) -> tuple[int, int, int, int] | None:
        """The smallest closed outline (of dilated Canny edges) around the point."""
        gray = cv2.cvtColor(self.win, cv2.COLOR_BGR2GRAY)
        edges = cv2.dilate(cv2.Canny(gray, 50, 150), np.ones((5, 5), np.uint8))
        contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        best: tuple[int, int, int, int] | None = None
        best_area = 0
        for c in contours:
            x, y, w, h = cv2.boundingRect(c)
            if x <= px < x + w and y <= py < y + h and (best is None or w * h < best_area):
                best, best_area = (x, y, x + w, y + h), w * h
        return best

    def bounded(self, b: tuple[int, int, int, int]) -> bool:
        return not (
            (self.open_l and b[0] <= 0)
            or (self.open_t and b[1] <= 0)
            or (self.open_r and b[2] >= self.w)
            or (self.open_b and b[3] >= self.h)
        )

    def nearest_ink(self, px: int, py: int, r: int) -> int:
        """The ink label nearest to (px, py) within ``r`` pixels, or 0."""
        x0, y0 = max(0, px - r), max(0, py - r)
        patch = self.ilab[y0 : py + r + 1, x0 : px + r + 1]
        ys, xs = np.nonzero(patch)
        if len(xs) == 0:
            return 0
        d = (xs + x0 - px) ** 2 + (ys + y0 - py) ** 2
        j = int(np.argmin(d))
        if d[j] > r * r:
            return 0
        return int(patch[ys[j], xs[j]])

    def group(self, seed: int, word_gap: float = _WORD_GAP) -> tuple[int, int, int, int]:
        """Grow an ink blob along its text line: glyphs into words, words into a label
        (``word_gap``: the widest gap joined, in line heights)."""
        st = self.istats
        gx0, gy0, gx1, gy1 = self.ibox(seed)
        line_h = gy1 - gy0 - 2  # the gradient widens every blob by 1 px each side
        if line_h > 120 or (gx1 - gx0) > 400:
            return gx0 + 1, gy0 + 1, gx1 - 1, gy1 - 1  # a picture, a border ring, a big graphic
        x0 = st[:, 0]
        y0 = st[:, 1]
        x1 = x0 + st[:, 2]
        y1 = y0 + st[:, 3]
        hh = st[:, 3]
        used = st[:, cv2.CC_STAT_AREA] < _SPECK  # compression noise, not glyphs
        used[0] = True
        used[seed] = True
        for _ in range(64):
            lh = max(line_h, gy1 - gy0 - 2)
            ov = np.minimum(y1, gy1) - np.maximum(y0, gy0)
            gap = np.maximum(x0 - gx1, gx0 - x1)
            ok = (
                ~used
                & (ov >= 0.5 * np.minimum(hh, gy1 - gy0))
                & (gap <= max(1.0, word_gap * lh))
                & (hh <= 1.6 * lh + 2)
                & ((hh >= 0.4 * lh) | (lh <= 40))
            )
            if not ok.any():
                break
            used |= ok
            gx0 = min(gx0, int(x0[ok].min()))
            gy0 = min(gy0, int(y0[ok].min()))
            gx1 = max(gx1, int(x1[ok].max()))
            gy1 = max(gy1, int(y1[ok].max()))
        return gx0 + 1, gy0 + 1, gx1 - 1, gy1 - 1

    def blobs(self, g: tuple[int, int, int, int]) -> int:
        """How many (non-speck) ink blobs lie inside box ``g``."""
        labs = np.unique(self.ilab[g[1] : g[3], g[0] : g[2]])
        labs = labs[labs > 0]
        return int(np.count_nonzero(self.istats[labs, cv2.CC_STAT_AREA] >= _SPECK))

    def free_margin(self, g: tuple[int, int, int, int], m: int) -> int:
        """Chebyshev distance (capped at ``m``) from box ``g`` to the nearest ink outside it."""
        x0, y0 = max(0, g[0] - m), max(0, g[1] - m)
        x1, y1 = min(self.w, g[2] + m), min(self.h, g[3] + m)
        lab = self.ilab[y0:y1, x0:x1]
        own = np.zeros(len(self.istats), bool)
        own[self.ilab[g[1] : g[3], g[0] : g[2]]] = True  # the glyph's own blobs
        own[0] = True
        other = ~own[lab] & (self.istats[lab, cv2.CC_STAT_AREA] >= _SPECK)
        ys, xs = np.nonzero(other)
        xs, ys = xs + x0, ys + y0
        dx = np.maximum(np.maximum(g[0] - xs, xs - (g[2] - 1)), 0)
        dy = np.maximum(np.maximum(g[1] - ys, ys - (g[3] - 1)), 0)
        d = np.maximum(dx, dy)
        d = d[d > 0]
        return int(min(m, d.min())) if len(d) else m

    def hugging_surface(self, g: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
        """The small bounded surface (button, tag) that tightly encloses ink group ``g``."""
        gx0, gy0, gx1, gy1 = g
        gw, gh = gx1 - gx0, gy1 - gy0
        ring = []
        for d in (2, 3):
            ax0, ay0 = max(0, gx0 - d), max(0, gy0 - d)
            ax1, ay1 = min(self.w - 1, gx1 - 1 + d), min(self.h - 1, gy1 - 1 + d)
            ring.extend(
                [
                    self.slab[ay0, ax0 : ax1 + 1],
                    self.slab[ay1, ax0 : ax1 + 1],
                    self.slab[ay0 : ay1 + 1, ax0],
                    self.slab[ay0 : ay1 + 1, ax1],
                ]
            )
        labels = np.concatenate(ring)
        labels = labels[self.is_surface[labels]]
        if len(labels) == 0:
            return None
        lab = int(np.bincount(labels).argmax())
        s = self.sbox(lab)
        sw, sh = s[2] - s[0], s[3] - s[1]
        if not self.bounded(s):
            return None
        if not (s[0] <= gx0 and s[1] <= gy0 and s[2] >= gx1 and s[3] >= gy1):
            return None
        if sh > _HUG_H * gh + 4 or sw > 12 * sh:
            return None
        # buttons and tags centre their content; inputs left-align theirs
        centred = abs((s[0] + s[2]) - (gx0 + gx1)) <= 0.3 * sw + 6
        tight = sw <= gw + 2 * gh + 8
        return s if centred or tight else None


def _is_icon(b: tuple[int, int, int, int]) -> bool:
    """A small, roughly square glyph: an icon, whose hit area is a larger square."""
    w, h = b[2] - b[0], b[3] - b[1]
    return _ICON_MIN <= max(w, h) <= _ICON_MAX and 0.7 * h <= w <= 1.4 * h


def _is_bar(b: tuple[int, int, int, int]) -> bool:
    """A rule, a bar, a slider track: thin and elongated ink whose box is the element's."""
    short, long_ = sorted((b[2] - b[0], b[3] - b[1]))
    return short <= _THIN and long_ >= 3 * short + 4


def _within(a: tuple[int, int, int, int], b: tuple[int, int, int, int], m: int) -> bool:
    """Whether box ``a`` lies inside box ``b`` grown by ``m`` pixels."""
    return a[0] >= b[0] - m and a[1] >= b[1] - m and a[2] <= b[2] + m and a[3] <= b[3] + m


def _pad(b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Ink box -> element box: a text line gets its line height, a small icon its hit area."""
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    if h > 40:
        return b
    if w >= 1.5 * h:
        dy = round(h * (_TEXT_PAD - 1) / 2)
        return x0, y0 - dy, x1, y1 + dy
    if w <= 40:
        side = max(w, h)
        dx = round((side * 1.1 - w) / 2)
        dy = round((side * 1.1 - h) / 2)
        return x0 - dx, y0 - dy, x1 + dx, y1 + dy
    return b


def locate(image: np.ndarray, x: int, y: int) -> Box:
    """The bounding box of the UI element (button, label, input, icon, picture) at (x, y).

    ``image`` is an HxWx3 BGR (or HxWx4 BGRA) ``uint8`` screenshot and (x, y) a pixel in it.
    Only a window around the point is analysed, so the cost does not grow with the frame.

    Raises:
        CaptureError: if ``image`` is not such an array or the point lies outside it.
    """
    x, y = int(x), int(y)
    img = _check(image, x, y)
    win = _Window(img, x, y)
    px, py = x - win.ox, y - win.oy
    b: tuple[int, int, int, int] | None = None
    seed = int(win.ilab[py, px])
    if win.istats[seed, cv2.CC_STAT_AREA] < _SPECK:
        seed = 0  # compression noise
    seed = seed or win.nearest_ink(px, py, _NEAR)
    if seed:
        g = win.group(seed)
        s = win.hugging_surface(g)
        cell = bar_cell(win, g) if s is None and _BAR else None
        if cell is None and s is None and _ROWS and _is_text(g):
            cell = row_cell(win, win.group(seed, _PHRASE_GAP))
        if s is not None:
            b = (s[0] - 1, s[1] - 1, s[2] + 1, s[3] + 1)
        elif cell is not None:
            b = cell
        elif _is_icon(g) and win.blobs(g) <= _ICON_BLOBS:
            side = max(g[2] - g[0], g[3] - g[1])
            pad = min(round(_ICON_PAD * side / 2), win.free_margin(g, side) // 2)
            cx2, cy2 = g[0] + g[2], g[1] + g[3]
            half = side + 2 * pad  # twice the half side
            b = ((cx2 - half) // 2, (cy2 - half) // 2, (cx2 + half + 1) // 2, (cy2 + half + 1) // 2)
        elif _EDGE and _is_text(g):
            e = win.edge_blob(px, py)
            if _is_bar(g) and (e is None or _within(e, g, 4)):
                e = g  # an isolated rule, bar or slider track: its ink is its box
            # an outline strictly inside the ink group is a hole (the inside of an icon)
            hole = e is not None and e[0] > g[0] and e[1] > g[1] and e[2] < g[2] and e[3] < g[3]
            b = e if e is not None and not hole else _pad(g)
            field = field_beside(win, g) if _FORM else None
            if field is not None:  # a form's label: as tall as the field it names
                b = (min(b[0], g[0] - 1), field[1], max(b[2], g[2] + 1), field[3])
        else:
            b = _pad(g)
    else:
        lab = int(win.slab[py, px])
        s = win.sbox(lab)
        row = row_at(win, px, py, lab) if _ROWS else None
        if row is not None:
            b = row
        elif win.bounded(s) and s[2] - s[0] < win.w - 2 and s[3] - s[1] < win.h - 2:
            b = (s[0] - 1, s[1] - 1, s[2] + 1, s[3] + 1)
        else:
            seed = win.nearest_ink(px, py, _FAR)
            if seed:
                b = _pad(win.group(seed))
    if b is None:
        b = (px - 8, py - 8, px + 9, py + 9)
    h, w = img.shape[:2]
    return Box(
        max(0, b[0] + win.ox),
        max(0, b[1] + win.oy),
        min(w, b[2] + win.ox),
        min(h, b[3] + win.oy),
    )


# --- feedback drawing ----------------------------------------------------------------

_RED = (0, 0, 255)
_GREEN = (0, 200, 0)


def _bgr(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise CaptureError("image must be a uint8 numpy array")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image.copy()
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    raise CaptureError("image must be HxW, HxWx3 or HxWx4", shape=image.shape)


def annotate(
    image: np.ndarray,
    proposed: tuple[int, int],
    corrected: tuple[int, int] | None,
    box: Box | None,
) -> np.ndarray:
    """A copy of ``image`` with the agent's proposed point in red and the correction in green.

    The proposed point gets a red ring and crosshair; the corrected point (if any) a green
    ring and crosshair, the element ``box`` (if any) a green rectangle, and a green arrow runs
    from the proposed to the corrected point. The input array is never modified.
    """
    out = _bgr(image)
    scale = max(1, round(max(out.shape[:2]) / 1000))
    thick = 2 * scale
    r = 10 * scale
    if box is not None:
        cv2.rectangle(out, (box.x0, box.y0), (box.x1 - 1, box.y1 - 1), _GREEN, thick)
    if corrected is not None:
        cv2.arrowedLine(out, proposed, corrected, _GREEN, thick, cv2.LINE_AA, tipLength=0.15)
    for pt, colour in ((proposed, _RED), (corrected, _GREEN)):
        if pt is None:
            continue
        cx, cy = int(pt[0]), int(pt[1])
        cv2.circle(out, (cx, cy), r, colour, thick, cv2.LINE_AA)
        cv2.line(out, (cx - r - 4 * scale, cy), (cx + r + 4 * scale, cy), colour, scale)
        cv2.line(out, (cx, cy - r - 4 * scale), (cx, cy + r + 4 * scale), colour, scale)
        cv2.circle(out, (cx, cy), 2 * scale, colour, -1)
    return out


def crop_around(image: np.ndarray, x: int, y: int, size: int = 200) -> np.ndarray:
    """A ``size`` x ``size`` crop centred on (x, y), shifted to stay inside the image.

    Smaller than ``size`` only when the image itself is. Returns a copy.
    """
    if not isinstance(image, np.ndarray) or image.ndim < 2 or image.size == 0:
        raise CaptureError("image must be a non-empty numpy array")
    if size < 1:
        raise CaptureError("size must be positive", size=size)
    h, w = image.shape[:2]
    cw, ch = min(size, w), min(size, h)
    x0 = min(max(0, int(x) - cw // 2), w - cw)
    y0 = min(max(0, int(y) - ch // 2), h - ch)
    return image[y0 : y0 + ch, x0 : x0 + cw].copy()
