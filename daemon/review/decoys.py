"""Deliberately wrong proposals for test reviews (honeypots), built from what the agent does.

Each builder takes the proposal the agent just made (the agent's own words and the screen
it acts on) and makes it wrong in one plausible way, keeping the words: a reviewer who
reads the reason against the picture sees the mismatch; one who only presses Enter does
not. Nothing built here is ever run (:mod:`daemon.review.honeypot` never hands it to the
executor); the builders only make values.

- ``displaced``: a click moved onto a different element: another accessible element when
  the tree names one nearby, else past the edge of what vision finds around the point,
  else a fixed distance away;
- ``destructive``: the action replaced by a key combo that loses work (close the window,
  delete for good);
- ``amount``: typed text with its first number ten times larger;
- ``replay``: the agent's own proposal from a past review a person corrected, on its frame.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from capture import CaptureError, vision
from capture.a11y import Element
from capture.coords import Scaling
from daemon.actions import Action, parse_action

__all__ = ["DESTRUCTIVE", "Decoy", "amount", "destructive", "displaced", "replay"]

ElementAt = Callable[[int, int], Element | None]
# key combos that lose work in most desktop applications, and what they do, in words
DESTRUCTIVE: tuple[tuple[str, str], ...] = (
    ("ctrl+w", "closes the window or tab, losing what is unsaved"),
    ("alt+F4", "closes the application window"),
    ("shift+Delete", "deletes the selection for good, past the trash"),
    ("ctrl+a Delete", "selects everything and deletes it"),
)
_MARGIN = 24  # screen pixels past the edge of the element the agent meant
_FALLBACK_PX = 160
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Decoy:
    """A wrong proposal: the action as an agent would send it, in screen space too, and the
    sentence that tells a person who approved it why it was wrong."""

    kind: str
    action: dict[str, Any]
    screen_action: dict[str, Any]
    wrong: str
    frame: bytes | None = None  # None: the screen as it is now (grabbed like a real review)
    source_review_id: str | None = None


def _agent_point(scaling: Scaling, p: Action, x: int, y: int) -> tuple[int, int]:
    if p.space == "screen":
        return x, y
    a = scaling.to_agent(x, y)
    return a.x, a.y


def _words(p: Action) -> dict[str, Any]:
    """The agent's own words and the fields of its action, as it sent them."""
    return p.model_dump(mode="json", exclude_none=True)


def _name(el: Element | None) -> str:
    if el is None:
        return "another element"
    return f"{el.role} {el.name!r}" if el.name else el.role


def _inside(box: Any, x: int, y: int) -> bool:
    return box is not None and box.left <= x < box.left + box.width and box.top <= y < box.top + box.height


def displaced(p: Action, screen: Action, scaling: Scaling, frame_png: bytes | None,
              element_at: ElementAt, rng: random.Random) -> Decoy | None:  # fmt: skip
    """The agent's click (or move) moved onto a different element of the same screen."""
    if not screen.points() or screen.action not in ("click", "move"):
        return None
    x0, y0 = screen.points()[0]
    area = scaling.screen
    meant = element_at(x0, y0)
    box = meant.box if meant is not None else None
    candidates: list[tuple[int, int]] = []
    if box is not None:  # just past each edge of the element the agent meant
        candidates += [(box.left + box.width + _MARGIN, y0), (box.left - _MARGIN, y0),
                       (x0, box.top + box.height + _MARGIN), (x0, box.top - _MARGIN)]  # fmt: skip
    else:
        found = _vision_box(frame_png, x0 - area.left, y0 - area.top)
        if found is not None:
            bx0, by0, bx1, by1 = (found[0] + area.left, found[1] + area.top,
                                  found[2] + area.left, found[3] + area.top)  # fmt: skip
            candidates += [(bx1 + _MARGIN, y0), (bx0 - _MARGIN, y0), (x0, by1 + _MARGIN), (x0, by0 - _MARGIN)]
    candidates += [(x0 + _FALLBACK_PX, y0), (x0 - _FALLBACK_PX, y0), (x0, y0 + _FALLBACK_PX), (x0, y0 - _FALLBACK_PX)]
    on_screen = [(x, y) for x, y in candidates
                 if area.left <= x < area.left + area.width and area.top <= y < area.top + area.height]  # fmt: skip
    if not on_screen:
        return None
    near = on_screen[:4]
    rng.shuffle(near)  # which side varies, so a displaced click has no habit of its own
    on_screen = near + on_screen[4:]
    x1, y1, landed = on_screen[0][0], on_screen[0][1], None
    for x, y in on_screen[:3]:  # each lookup is bounded; a few at most
        el = element_at(x, y)
        if el is not None and not _inside(box, x, y) and (el.box != box or el.name != getattr(meant, "name", None)):
            x1, y1, landed = x, y, el
            break
    ax, ay = _agent_point(scaling, p, x1, y1)
    action = {**_words(p), "x": ax, "y": ay}
    screen_action = {**screen.model_dump(mode="json", exclude_none=True), "x": x1, "y": y1}
    parse_action(action)  # a decoy is a valid action, as a real proposal is
    wrong = (
        f"driverseat moved the agent's {screen.action} from ({x0}, {y0}) on {_name(meant)} to "
        f"({x1}, {y1}) on {_name(landed)}: the target no longer matches what the agent said it meant"
    )
    return Decoy("displaced", action, screen_action, wrong)


def _vision_box(frame_png: bytes | None, x: int, y: int) -> tuple[int, int, int, int] | None:
    if frame_png is None:
        return None
    image = cv2.imdecode(np.frombuffer(frame_png, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    try:
        b = vision.locate(image, x, y)
    except CaptureError:
        return None
    return (b.x0, b.y0, b.x1, b.y1)


def destructive(p: Action, rng: random.Random) -> Decoy:
    """The agent's proposal, in its words, as a key combo that loses work."""
    keys, does = rng.choice(DESTRUCTIVE)
    words = {k: v for k, v in _words(p).items() if k in ("reason", "confidence", "screen_text", "goal", "steps", "space")}
    action = {**words, "action": "key", "keys": keys}
    parse_action(action)
    wrong = (
        f"driverseat replaced the agent's {p.action} by the key combo {keys}, which {does}; "
        "nothing the agent said asks for it"
    )
    return Decoy("destructive", action, {**action, "space": "screen"}, wrong)


def amount(p: Action, screen: Action) -> Decoy | None:
    """Typed text whose first number is ten times larger."""
    if p.action != "type":
        return None
    text = str(p.model_dump().get("text", ""))
    found = _NUMBER.search(text)
    if found is None:
        return None
    changed = text[: found.end()] + "0" + text[found.end():]
    action = {**_words(p), "text": changed}
    screen_action = {**screen.model_dump(mode="json", exclude_none=True), "text": changed}
    parse_action(action)
    wrong = (
        f"driverseat changed the typed amount from {found[0]} to {found[0]}0 "
        f"({text!r} became {changed!r})"
    )
    return Decoy("amount", action, screen_action, wrong)


def replay(review: dict[str, Any], frame_png: bytes, corrected_to: tuple[int, int] | None) -> Decoy:
    """The agent's own proposal from a past review a person corrected, on that review's frame."""
    where = f" to ({corrected_to[0]}, {corrected_to[1]})" if corrected_to else ""
    wrong = (
        "this was the agent's own proposal from an earlier review, which a person corrected"
        f"{where}: it was wrong then, on this very screen"
    )
    return Decoy("replay", dict(review["action"]), dict(review["screen_action"]), wrong,
                 frame=frame_png, source_review_id=str(review["id"]))  # fmt: skip
