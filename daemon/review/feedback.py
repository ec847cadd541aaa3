"""A person's answer to a review, as feedback the agent can act on, in agent space.

A correction says where the agent proposed to act, where the right element is (its
box, and which way and how far, in the agent's pixels), and asks it to retry. When the
accessibility tree knows the elements under the points (:mod:`capture.a11y`, looked up
by the gate and passed in), it names them: "the push button 'Escalate' in the dialog
'Ticket 4411'", and the box is the application's own; otherwise the box is
:func:`capture.vision.locate`'s guess from the pixels. The correction comes
with the frozen screenshot annotated (proposed point red, correction and element box
green, an arrow between) at the agent's size, and a crop around each point at full
resolution. A rejection carries the person's reason; an edit says what changed.

Pure functions of a :class:`~daemon.outcomes.Review` and its frame: no I/O, no clock.
The frame is the review's screenshot, screen pixels of ``review.screen_rect``, so an
image pixel is a screen point minus the rect's origin.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from capture.a11y import Element
from capture.coords import Rect, Scaling
from capture.vision import Box, annotate, crop_around, locate
from daemon.actions import SpaceName
from daemon.outcomes import Feedback, FeedbackElement, Image, Review

__all__ = [
    "CROP_SIZE", "Feedback", "Named", "correction_feedback", "edit_feedback", "points_to_name",
    "rejection_feedback",
]  # fmt: skip

CROP_SIZE = 240  # screen pixels around each point: enough to show the element and its label
RETRY = "Based on this, please reassess your strategy and retry."
_SHOWN = 200  # longest value quoted back to the agent

Point = tuple[int, int]
Named = Mapping[Point, Element | None]  # screen point -> the accessible element under it

# Roles that only group other elements: unnamed, they tell the agent nothing the box does
# not, and the pixels often find the control inside better (a click in a button's padding).
_CONTAINERS = frozenset({
    "filler", "panel", "frame", "dialog", "window", "scroll pane", "layered pane", "viewport",
    "split pane", "section", "document frame", "application", "desktop frame", "unknown",
    "redundant object", "invalid",
})  # fmt: skip
_WINDOWS = frozenset({"frame", "dialog", "window", "alert", "file chooser", "desktop frame"})


def _scaling(review: Review) -> Scaling:
    return Scaling(Rect(*review.screen_rect), *review.agent_size)


def _screen_points(review: Review) -> list[Point]:
    """The proposed point(s) in screen space: the point, or a drag's start and end."""
    act = review.screen_action
    if act.get("path"):
        path = act["path"]
        return [(int(path[0][0]), int(path[0][1])), (int(path[-1][0]), int(path[-1][1]))]
    if act.get("x") is not None and act.get("y") is not None:
        return [(int(act["x"]), int(act["y"]))]
    return []


def _noun(review: Review) -> str:
    """What the agent did, as a noun: "click", "double-click", "right-click", "drag"..."""
    act = review.action
    kind = str(act.get("action", "action"))
    if kind == "click":
        count = {2: "double-", 3: "triple-"}.get(int(act.get("count", 1)), "")
        button = "" if act.get("button", "left") == "left" else f"{act['button']}-"
        return f"{button}{count}click" if button or count else "click"
    return {
        "move": "pointer move", "mouse_down": "mouse press", "mouse_up": "mouse release",
        "scroll": "scroll", "drag": "drag", "type": "typing", "key": "key press",
        "hold_key": "key hold",
    }.get(kind, f"{kind} action")  # fmt: skip


def _at(p: Point) -> str:
    return f"({p[0]}, {p[1]})"


def _inside(box: tuple[int, int, int, int]) -> str:
    return f"({box[0]}, {box[1]})-({box[2]}, {box[3]})"


def _direction(dx: int, dy: int, what: str) -> str:
    """ "90 px right and 190 px below your click" (agent pixels; y grows downwards)."""
    horizontal = f"{abs(dx)} px {'right' if dx > 0 else 'left'}" if dx else ""
    vertical = f"{abs(dy)} px {'below' if dy > 0 else 'above'}" if dy else ""
    if horizontal and vertical:
        return f"{horizontal} and {vertical} your {what}"
    if horizontal:
        return f"{horizontal} of your {what}"
    if vertical:
        return f"{vertical} your {what}"
    return f"right at your {what}"


def _png(image: np.ndarray, space: SpaceName) -> Image:
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # cv2 reports failure with a flag; only an empty image gets here
        raise ValueError("could not encode the feedback image as PNG")
    h, w = image.shape[:2]
    data = base64.b64encode(buf.tobytes()).decode("ascii")
    return Image(media_type="image/png", data=data, width=w, height=h, space=space)


def _usable(el: Element | None, p: Point) -> Element | None:
    """The element if it names something under ``p``: its box holds the point (not a stale
    answer) and it is not a bare container or a whole window."""
    if el is None or el.box is None:
        return None
    b = el.box
    if not (b.left <= p[0] < b.right and b.top <= p[1] < b.bottom):
        return None
    if el.role in _WINDOWS or (el.role in _CONTAINERS and not el.name):
        return None
    return el


class _Located:
    """One point: in the frame's pixels and in agent space, with its element's box (from
    the accessibility tree when it names one, else from the pixels)."""

    def __init__(
        self, frame: np.ndarray, review: Review, scaling: Scaling, p: Point, el: Element | None,
        drawn: tuple[int, int, int, int] | None = None,
    ) -> None:
        left, top = review.screen_rect[0], review.screen_rect[1]
        self.left, self.top = left, top
        h, w = frame.shape[:2]
        # clamped: a point on the rect's edge rounds onto the last pixel, never off the image
        self.image = (min(max(p[0] - left, 0), w - 1), min(max(p[1] - top, 0), h - 1))
        self.a11y = _usable(el, p)
        self.drawn = drawn is not None
        if drawn is not None:  # the person's own box wins over the tree's and the pixels'
            self.box = Box(drawn[0] - left, drawn[1] - top, drawn[2] - left, drawn[3] - top)
        elif self.a11y is not None and self.a11y.box is not None:
            b = self.a11y.box  # clipped to the frame: an element may reach past the monitor
            self.box = Box(max(b.left - left, 0), max(b.top - top, 0),
                           min(b.right - left, w), min(b.bottom - top, h))  # fmt: skip
        else:
            self.box = locate(frame, *self.image)
        screen_box = Rect(left + self.box.x0, top + self.box.y0, self.box.width, self.box.height)
        r = scaling.rect_to_agent(screen_box)
        self.agent_box = (r.left, r.top, r.right, r.bottom)
        a = scaling.to_agent(p[0], p[1])
        self.agent = (a.x, a.y)

    @property
    def screen_box(self) -> tuple[int, int, int, int]:
        return (self.left + self.box.x0, self.top + self.box.y0, self.left + self.box.x1, self.top + self.box.y1)

    def element(self) -> FeedbackElement:
        el = self.a11y
        if el is None:
            return FeedbackElement(source="person" if self.drawn else "vision", box=self.agent_box)
        win = el.window
        return FeedbackElement(
            source="person" if self.drawn else "a11y", box=self.agent_box, role=el.role, name=el.name or None,
            window_role=win.role if win else None, window_name=(win.name or None) if win else None,
        )  # fmt: skip

    def naming(self) -> str:
        """ "the push button 'Escalate' in the dialog 'Ticket 4411'"; "" when unknown."""
        el = self.a11y
        if el is None:
            return ""
        win = el.window
        if win is not None and win.name:
            # Qt calls a top-level widget a "filler": to the agent it is a window
            kind = win.role if win.role in _WINDOWS else "window"
            return f"{el.describe()} in the {kind} {win.name!r}"
        if el.application:
            return f"{el.describe()} in a window of {el.application!r}"
        return el.describe()


def element_under(review: Review, frame_bgr: np.ndarray, p: Point, el: Element | None) -> dict[str, Any]:
    """What a correction at screen point ``p`` would name, for the overlay to show while
    the person hovers: the same choice :func:`correction_feedback` makes (the tree's
    element when it names one under the point, else the pixels' box), with the box in
    screen space (to draw) and in agent space, and the words the agent would read."""
    frame = frame_bgr[:, :, :3] if frame_bgr.shape[2] == 4 else frame_bgr
    at = _Located(frame, review, _scaling(review), p, el)
    element = at.element()
    return {
        "source": element.source, "box": at.screen_box, "agent_box": element.box,
        "role": element.role, "name": element.name, "label": at.naming() or "an element (from the pixels)",
    }  # fmt: skip


def points_to_name(review: Review, points: Sequence[Point]) -> list[Point]:
    """The screen points whose elements a correction to ``points`` names: the corrected
    point(s) and the agent's proposed point(s). The gate looks these up before it calls
    :func:`correction_feedback`."""
    return [*points[:2], *_screen_points(review)[:2]]


def correction_feedback(
    review: Review,
    frame_bgr: np.ndarray,
    points: tuple[Point, ...] | list[Point],
    named: Named | None = None,
    drawn: tuple[int, int, int, int] | None = None,
) -> Feedback:
    """Feedback for a correction to screen point(s) ``points`` (two for a drag).

    ``frame_bgr`` is the review's screenshot as a BGR (or BGRA) array of
    ``review.screen_rect``'s size. ``named`` holds the accessible element under each
    screen point of :func:`points_to_name`, where one is known. Everything in the result
    is in agent space; the fields describe the (first) point, the text both points of a
    drag. ``drawn`` is the element's box as the person drew it on the overlay (screen
    space): it is the box reported, whatever the tree or the pixels say.
    """
    named = named or {}
    left, top, width, height = review.screen_rect
    if frame_bgr.shape[:2] != (height, width):
        raise ValueError(
            f"the frame is {frame_bgr.shape[1]}x{frame_bgr.shape[0]}, the review's screen "
            f"area {width}x{height}"
        )
    if not points:
        raise ValueError("a correction needs at least one point")
    frame = frame_bgr[:, :, :3] if frame_bgr.shape[2] == 4 else frame_bgr
    scaling = _scaling(review)
    noun = _noun(review)
    proposed_screen = _screen_points(review)
    fixes = [_Located(frame, review, scaling, p, named.get(p), drawn if i == 0 else None)
             for i, p in enumerate(points[:2])]  # fmt: skip
    mine = [_Located(frame, review, scaling, p, named.get(p)) for p in proposed_screen[:1]]
    proposed = [(a.x, a.y) for a in (scaling.to_agent(*p) for p in proposed_screen)]

    annotated = frame
    for i, fix in enumerate(fixes):
        ours = proposed_screen[i] if i < len(proposed_screen) else None
        start = (ours[0] - left, ours[1] - top) if ours is not None else fix.image
        annotated = annotate(annotated, start, fix.image, fix.box)

    if noun == "drag" and len(fixes) == 2 and len(proposed) == 2:
        legs = [
            f"{end} at {_at(fix.agent)}{_on(fix)}, inside {_inside(fix.agent_box)}, "
            + _direction(fix.agent[0] - ours[0], fix.agent[1] - ours[1], end)
            for end, fix, ours in zip(("start", "end"), fixes, proposed, strict=True)
        ]
        text = (
            f"Your previous drag from {_at(proposed[0])} to {_at(proposed[1])} was incorrect. "
            f"It should {legs[0]}, and {legs[1]}. {RETRY}"
        )
    else:
        fix = fixes[0]
        what = f"{fix.naming()}, " if fix.a11y is not None else ""
        if proposed:
            where = _direction(fix.agent[0] - proposed[0][0], fix.agent[1] - proposed[0][1], noun)
            landed = f"; your {noun} at {_at(proposed[0])} landed on {_landed(mine[0], fix)}" if (
                mine and mine[0].a11y is not None) else ""  # fmt: skip
            text = (
                f"Your previous {noun} at {_at(proposed[0])} was incorrect. The correct element "
                f"is {what}at {_at(fix.agent)}, inside {_inside(fix.agent_box)}, {where}"
                f"{landed}. {RETRY}"
            )
        else:
            text = (
                f"Your previous {noun} was incorrect. The correct element is {what}at "
                f"{_at(fix.agent)}, inside {_inside(fix.agent_box)}. {RETRY}"
            )

    first = fixes[0]
    crop_at = [(p[0] - left, p[1] - top) for p in proposed_screen[:1]] + [first.image]
    resized = cv2.resize(annotated, scaling.agent_size, interpolation=cv2.INTER_AREA)
    return Feedback(
        text=text,
        proposed=proposed[0] if proposed else None,
        corrected=first.agent,
        box=first.agent_box,
        dx=first.agent[0] - proposed[0][0] if proposed else None,
        dy=first.agent[1] - proposed[0][1] if proposed else None,
        image=_png(resized, "agent"),
        # full resolution on purpose: a crop is there for the detail the scaled image loses
        crops=tuple(_png(crop_around(annotated, x, y, CROP_SIZE), "screen") for x, y in crop_at),
        element=first.element(),
        proposed_element=mine[0].element() if mine else None,
    )


def _landed(ours: _Located, fix: _Located) -> str:
    """What the agent's point was on; its window said only when not the right element's."""
    assert ours.a11y is not None
    same = fix.a11y is not None and ours.a11y.window == fix.a11y.window
    return ours.a11y.describe() if same else ours.naming()


def _on(fix: _Located) -> str:
    """ " on the list item 'notes.txt'" for a drag's leg; "" when the element is unknown."""
    return f" on {fix.a11y.describe()}" if fix.a11y is not None else ""


def _what(review: Review) -> str:
    """ "click at (10, 10)", "typing of 'hello'"... for the agent, in its own space."""
    noun, act = _noun(review), review.action
    scaling = _scaling(review)
    pts = [(a.x, a.y) for a in (scaling.to_agent(*p) for p in _screen_points(review))]
    if noun == "drag" and len(pts) == 2:
        return f"drag from {_at(pts[0])} to {_at(pts[1])}"
    if pts:
        return f"{noun} at {_at(pts[0])}"
    if "text" in act:
        return f"typing of {_show(act['text'])}"
    if "keys" in act:
        return f"{noun} {_show(act['keys'])}"
    return noun


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")
    shown = json.dumps(value, default=str)
    return shown if len(shown) <= _SHOWN else shown[:_SHOWN] + "..."


def _proposed(review: Review) -> tuple[int, int] | None:
    pts = _screen_points(review)
    if not pts:
        return None
    a = _scaling(review).to_agent(*pts[0])
    return (a.x, a.y)


def rejection_feedback(review: Review, reason: str | None) -> Feedback:
    """Feedback for a rejection: what was refused and the person's reason, if any."""
    reason = reason.strip() if reason else None
    why = f": {reason.rstrip('.')}." if reason else " without giving a reason."
    text = (
        f"The person rejected your {_what(review)}{why} It was not executed. "
        "Please reassess your strategy before you try anything similar."
    )
    return Feedback(text=text, proposed=_proposed(review), reason=reason)


def edit_feedback(review: Review, edited: dict[str, Any]) -> Feedback:
    """Feedback for an edit: which fields the person changed, from what to what."""
    done = [
        f"changed {key} from {_show(review.action[key])} to {_show(new)}"
        if review.action.get(key) is not None
        else f"set {key} to {_show(new)}"
        for key, new in edited.items()
    ]
    listed = done[0] if len(done) == 1 else ", ".join(done) + ","
    text = f"The person {listed} and approved it."
    return Feedback(text=text, proposed=_proposed(review), edited=dict(edited))
