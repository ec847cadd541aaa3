"""Where an element without a border of its own ends: the layout rules of desktop toolkits.

Menu bar and tool bar items, tabs, list rows and form labels draw no outline; their
toolkit gives them a box anyway (the one the accessibility tree reports). These rules
find that box from the structure around an ink group: the band of a bar, the pitch and
columns of a list, the field a label names. :func:`capture.vision.locate` asks them
after the visible outlines; the figures are in docs/locator.md (bench/locate.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from capture.vision import _Window

Box4 = tuple[int, int, int, int]
_SPECK = 6  # = capture.vision._SPECK: ink blobs smaller than this never count
_BAR_EDGE = 0.9  # share of a bar's bounding row off its surface: a straight edge across
_PHRASE_GAP = 0.8  # words closer than this x line height are one cell's text (a list row)
_ROW_WIDE = 99.0  # a row's cell is at most this many times as wide as its text
_FIELD_GAP = 40  # px between a form's label and its field, at most


def _is_text(b: Box4) -> bool:
    """A text line's (or small glyph's) ink box, by its shape."""
    w, h = b[2] - b[0], b[3] - b[1]
    return h <= 40 and (w >= 1.5 * h or w <= 40)


def bar_cell(win: _Window, g: Box4) -> Box4 | None:
    """The cell of an ink group that sits in a bar (a menu bar, a tool bar, a tab
    strip, a list row): a band of one surface bounded above and below by long straight
    edges close to the group. Such items draw no border of their own; their element
    spans the band's height and reaches half-way to the next item (at most as far as
    the band's padding above and below the group)."""
    gx0, gy0, gx1, gy1 = g
    gh = gy1 - gy0
    lab = ring_surface(win, g)
    if lab is None:
        return None
    cols = [x for x in (gx0 - 2, gx1 + 1) if 0 <= x < win.w]
    if not cols:
        return None
    tops, bots = [], []
    for x in cols:
        col = win.slab[:, x] == lab
        y = gy0 + gh // 2
        if not col[y]:
            return None
        up = np.flatnonzero(~col[:y])
        down = np.flatnonzero(~col[y:])
        tops.append(int(up[-1]) + 1 if len(up) else 0)
        bots.append(y + int(down[0]) if len(down) else win.h)
    top, bot = max(tops), min(bots)
    if (top == 0 and win.open_t) or (bot == win.h and win.open_b):
        return None  # the band runs out of the window: open page, not a bar
    band = bot - top
    if not (1.25 * gh <= band <= max(3.2 * gh, gh + 36)):
        return None
    span = (max(0, gx0 - 3 * gh), min(win.w, gx1 + 3 * gh))
    for y, edge in ((top - 1, top == 0), (bot, bot == win.h)):
        if edge:
            continue  # the image's own edge bounds the band
        row = win.slab[y, span[0] : span[1]] != lab
        if not row.size or row.mean() < _BAR_EDGE:
            return None  # bounded by a neighbour, not by a straight edge across
    pad = max(2, min(gy0 - top, bot - gy1))
    inside = win.ilab[top:bot]
    own = np.zeros(len(win.istats), bool)
    own[win.ilab[gy0:gy1, gx0:gx1]] = True
    own[0] = True
    other = ~own[inside] & (win.istats[inside, cv2.CC_STAT_AREA] >= _SPECK)
    xs = np.flatnonzero(other.any(axis=0))
    left_ink, right_ink = xs[xs < gx0], xs[xs >= gx1]
    pl = min(pad + 2, (gx0 - int(left_ink[-1])) // 2) if len(left_ink) else pad + 2
    pr = min(pad + 2, (int(right_ink[0]) - gx1 + 1) // 2) if len(right_ink) else pad + 2
    return gx0 - pl, top, gx1 + pr, bot

def row_cell(win: _Window, g: Box4) -> Box4 | None:
    """The cell of a text line that is one row of a list or table: other rows start
    at the same x above and below it at a steady pitch. The cell spans the row's
    pitch and its column: from the pane's edge (or the column's start) to the next
    column's start (or the pane's edge). Rows draw no borders; this is where a list's
    accessibility tree puts its cells (GTK tree views, Qt item views)."""
    gx0, gy0, gx1, gy1 = g
    gh = gy1 - gy0
    if not 6 <= gh <= 30:
        return None
    st = win.istats
    bx0, by0 = st[:, 0] + 1, st[:, 1] + 1  # the gradient widens each blob by 1 px
    bh = st[:, 3] - 2
    cy = by0 + bh / 2
    gcy = (gy0 + gy1) / 2
    ok = (np.abs(bx0 - gx0) <= 2) & (bh >= 0.4 * gh) & (bh <= 1.6 * gh) & (st[:, cv2.CC_STAT_AREA] >= _SPECK)
    ok[0] = False
    d = np.abs(cy[ok] - gcy)
    d = d[(d >= 1.3 * gh) & (d <= 3.0 * gh)]
    if len(d) < 2:
        return None  # one neighbour is a coincidence; a list has rows on both sides or several
    pitch = float(d.min())
    if np.count_nonzero(np.abs(d - pitch) <= 2) + np.count_nonzero(np.abs(d - 2 * pitch) <= 3) < 2:
        return None  # no steady pitch: a form, a paragraph, not a list
    lab = ring_surface(win, g)
    if lab is None:
        return None
    pane = win.sbox(lab)
    # a list view's own base starts in sight (it may run out of the window to the right
    # or below: a wide list); a page's background runs out everywhere
    if (win.open_l and pane[0] <= 0) or (win.open_t and pane[1] <= 0):
        return None
    half = pitch / 2
    top, bot = round(gcy - half + 1), round(gcy + half - 1)
    band = win.ilab[max(0, top) : max(0, bot)]
    own = np.zeros(len(st), bool)
    own[win.ilab[gy0:gy1, gx0:gx1]] = True
    own[0] = True
    other = ~own[band] & (st[band, cv2.CC_STAT_AREA] >= _SPECK)
    xs = np.flatnonzero(other.any(axis=0))
    xs = xs[(xs >= pane[0]) & (xs < pane[2])]
    right = xs[xs >= gx1 + 2 * gh]  # a column further right starts past a wide gap
    left = xs[xs < gx0]
    x0 = gx0 - 3 if len(left) else pane[0] + 1
    x1 = int(right[0]) - 7 if len(right) else pane[2] - 1
    if x1 <= gx1 or x1 - x0 > _ROW_WIDE * (gx1 - gx0):
        return None  # not a row of a list: a page (its lines are elements by themselves)
    return x0, top, x1, bot

def row_at(win: _Window, px: int, py: int, lab: int) -> Box4 | None:
    """On the open background of a pane: the cell of the list row whose text is on the
    point's line, left of it (a row's text is left-aligned in its cell)."""
    if not win.is_surface[lab]:
        return None
    line = win.ilab[py, : px + 1]
    labs = line[(line > 0)]
    if not len(labs):
        return None
    seed = int(labs[-1])  # the nearest ink to the left on this very line
    if win.istats[seed, cv2.CC_STAT_AREA] < _SPECK:
        return None
    g = win.group(seed, _PHRASE_GAP)
    if not _is_text(g) or not (g[1] <= py < g[3]):
        return None
    cell = row_cell(win, g)
    return cell if cell is not None and cell[0] <= px < cell[2] else None

def field_beside(win: _Window, g: Box4) -> Box4 | None:
    """The box of the field (an entry, a combo box: a bordered box) just right of a text
    line, on its row: toolkits lay a form's label out as tall as its field."""
    _, gy0, gx1, gy1 = g
    gh = gy1 - gy0
    y = (gy0 + gy1) // 2
    row = win.ilab[y, gx1 : min(win.w, gx1 + _FIELD_GAP)]
    hits = np.flatnonzero(row > 0)
    if not len(hits):
        return None
    f = win.ibox(int(row[hits[0]]))
    fh = f[3] - f[1]
    if not (1.6 * gh <= fh <= 4 * gh + 4 and f[1] < gy0 and f[3] > gy1):
        return None
    if abs((f[1] + f[3]) - (gy0 + gy1)) > 6:
        return None  # a label is centred on its field's row
    if f[2] - f[0] < 2 * fh or win.istats[int(row[hits[0]]), cv2.CC_STAT_AREA] > 0.5 * (f[2] - f[0]) * fh:
        return None  # not a box's border ring: a picture, a filled shape
    return f[0] + 1, f[1] + 1, f[2] - 1, f[3] - 1

def ring_surface(win: _Window, g: Box4) -> int | None:
    """The surface most of the ring just outside box ``g`` lies on."""
    gx0, gy0, gx1, gy1 = g
    ax0, ay0 = max(0, gx0 - 2), max(0, gy0 - 2)
    ax1, ay1 = min(win.w - 1, gx1 + 1), min(win.h - 1, gy1 + 1)
    ring = np.concatenate([win.slab[ay0, ax0 : ax1 + 1], win.slab[ay1, ax0 : ax1 + 1],
                           win.slab[ay0 : ay1 + 1, ax0], win.slab[ay0 : ay1 + 1, ax1]])  # fmt: skip
    ring = ring[win.is_surface[ring]]
    return int(np.bincount(ring).argmax()) if len(ring) else None
