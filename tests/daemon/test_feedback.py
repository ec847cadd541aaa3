"""Spatial feedback (daemon/feedback.py): a correction on a synthetic 1920x1080 screen,
seen by the agent at 1366x768; rejection and edit texts."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np
import pytest

from capture.a11y import Ancestor, Element
from capture.coords import Rect, Scaling
from capture.vision import Box
from daemon.actions import Click, Drag, Type
from daemon.outcomes import Image, Review
from daemon.review.feedback import (
    CROP_SIZE,
    correction_feedback,
    edit_feedback,
    points_to_name,
    rejection_feedback,
)

SCREEN = (0, 0, 1920, 1080)
AGENT = (1366, 768)
SCALING = Scaling(Rect(*SCREEN), *AGENT)
FONT = cv2.FONT_HERSHEY_SIMPLEX
CANCEL = Box(200, 300, 360, 348)  # where the agent clicked
SAVE = Box(1200, 700, 1400, 760)  # what the person meant


def _button(img: np.ndarray, box: Box, fill: tuple[int, int, int], label: str) -> None:
    cv2.rectangle(img, (box.x0, box.y0), (box.x1 - 1, box.y1 - 1), fill, -1)
    (tw, th), _ = cv2.getTextSize(label, FONT, 0.8, 2)
    cx, cy = box.center
    cv2.putText(img, label, (cx - tw // 2, cy + th // 2), FONT, 0.8, (255, 255, 255), 2)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    img = np.full((1080, 1920, 3), 245, np.uint8)
    _button(img, CANCEL, (90, 90, 90), "Cancel")
    _button(img, SAVE, (200, 110, 30), "Save")
    return img


def _agent(x: int, y: int) -> tuple[int, int]:
    p = SCALING.to_agent(x, y)
    return (p.x, p.y)


def _review(action: Any, screen_action: Any) -> Review:
    return Review(
        id="r1",
        action_id="a1",
        action=action.model_dump(mode="json"),
        screen_action=screen_action.model_dump(mode="json"),
        tier="approve",
        rule="test",
        created=0.0,
        screen_rect=SCREEN,
        agent_size=AGENT,
    )


def _click_review(screen_point: tuple[int, int]) -> Review:
    agent = _agent(*screen_point)
    return _review(Click(x=agent[0], y=agent[1]), Click(x=screen_point[0], y=screen_point[1]))


def _decode(image: Image | None) -> np.ndarray:
    assert image is not None and image.media_type == "image/png"
    arr = cv2.imdecode(np.frombuffer(base64.b64decode(image.data), np.uint8), cv2.IMREAD_COLOR)
    assert arr is not None and arr.shape[:2] == (image.height, image.width)
    return arr


def _colour_near(img: np.ndarray, p: tuple[int, int], colour: str, r: int = 12) -> int:
    """How many clearly red / green pixels lie within ``r`` of ``p``."""
    patch = img[max(0, p[1] - r) : p[1] + r + 1, max(0, p[0] - r) : p[0] + r + 1].astype(int)
    b, g, red = patch[..., 0], patch[..., 1], patch[..., 2]
    if colour == "red":
        return int(np.count_nonzero((red > 180) & (g < 90) & (b < 90)))
    return int(np.count_nonzero((g > 150) & (red < 90) & (b < 90)))


def test_correction_in_agent_space(frame: np.ndarray) -> None:
    clicked, meant = CANCEL.center, SAVE.center
    fb = correction_feedback(_click_review(clicked), frame, (meant,))

    proposed, corrected = _agent(*clicked), _agent(*meant)
    dx, dy = corrected[0] - proposed[0], corrected[1] - proposed[1]
    assert (fb.space, fb.proposed, fb.corrected, fb.dx, fb.dy) == (
        "agent", proposed, corrected, dx, dy,
    )  # fmt: skip
    assert dx > 0 and dy > 0
    assert fb.box is not None
    x0, y0, x1, y1 = fb.box
    assert x0 <= corrected[0] < x1 and y0 <= corrected[1] < y1
    truth = SCALING.rect_to_agent(Rect(SAVE.x0, SAVE.y0, SAVE.width, SAVE.height))
    assert Box(*fb.box).iou(Box(truth.left, truth.top, truth.right, truth.bottom)) > 0.8
    # agent-space numbers, never the screen's
    assert fb.text == (
        f"Your previous click at ({proposed[0]}, {proposed[1]}) was incorrect. The correct "
        f"element is at ({corrected[0]}, {corrected[1]}), inside ({x0}, {y0})-({x1}, {y1}), "
        f"{dx} px right and {dy} px below your click. Based on this, please reassess your "
        "strategy and retry."
    )
    assert f"({meant[0]}, {meant[1]})" not in fb.text


def test_correction_image_and_crops(frame: np.ndarray) -> None:
    clicked, meant = CANCEL.center, SAVE.center
    fb = correction_feedback(_click_review(clicked), frame, (meant,))
    img = _decode(fb.image)
    assert fb.image is not None and fb.image.space == "agent"
    assert img.shape[:2] == (AGENT[1], AGENT[0])
    proposed, corrected = _agent(*clicked), _agent(*meant)
    assert _colour_near(img, proposed, "red") > 10
    assert _colour_near(img, proposed, "green") < _colour_near(img, proposed, "red")
    assert _colour_near(img, corrected, "green") > 10
    assert _colour_near(img, corrected, "red") == 0
    # the element box is outlined in green at its agent-space edge
    assert fb.box is not None
    assert _colour_near(img, (fb.box[0], corrected[1]), "green", r=3) > 0
    # an untouched frame: the caller's array is not drawn on
    assert _colour_near(frame, meant, "green") == 0

    assert len(fb.crops) == 2
    around_proposed, around_corrected = (_decode(c) for c in fb.crops)
    assert around_proposed.shape[:2] == around_corrected.shape[:2] == (CROP_SIZE, CROP_SIZE)
    centre = (CROP_SIZE // 2, CROP_SIZE // 2)
    assert _colour_near(around_proposed, centre, "red") > 10
    assert _colour_near(around_corrected, centre, "green") > 10


def test_correction_left_and_above(frame: np.ndarray) -> None:
    clicked, meant = SAVE.center, CANCEL.center
    fb = correction_feedback(_click_review(clicked), frame, (meant,))
    assert fb.dx is not None and fb.dy is not None and fb.dx < 0 and fb.dy < 0
    assert f"{-fb.dx} px left and {-fb.dy} px above your click" in fb.text


def test_correction_straight_down_names_one_direction(frame: np.ndarray) -> None:
    clicked = (SAVE.center[0], 500)
    fb = correction_feedback(_click_review(clicked), frame, (SAVE.center,))
    assert fb.dx == 0 and fb.dy is not None and fb.dy > 0
    assert f", {fb.dy} px below your click." in fb.text and "right" not in fb.text


def test_double_click_on_another_monitor(frame: np.ndarray) -> None:
    # the frame is the agent's monitor, right of the primary: image pixel = screen - origin
    screen = (1920, 0, 1920, 1080)
    scaling = Scaling(Rect(*screen), *AGENT)
    clicked = (CANCEL.center[0] + 1920, CANCEL.center[1])
    meant = (SAVE.center[0] + 1920, SAVE.center[1])
    a = scaling.to_agent(*clicked)
    review = _review(Click(x=a.x, y=a.y, count=2), Click(x=clicked[0], y=clicked[1], count=2))
    review = review.model_copy(update={"screen_rect": screen})
    fb = correction_feedback(review, frame, (meant,))
    c = scaling.to_agent(*meant)
    assert fb.proposed == (a.x, a.y) and fb.corrected == (c.x, c.y)
    assert fb.text.startswith(f"Your previous double-click at ({a.x}, {a.y}) was incorrect.")
    assert fb.box is not None and fb.box[0] <= c.x < fb.box[2]


def test_drag_describes_start_and_end(frame: np.ndarray) -> None:
    start, end = (100, 100), (800, 900)
    a0, a1 = _agent(*start), _agent(*end)
    review = _review(Drag(path=(a0, a1)), Drag(path=(start, end)))
    fb = correction_feedback(review, frame, (CANCEL.center, SAVE.center))
    c0, c1 = _agent(*CANCEL.center), _agent(*SAVE.center)
    assert fb.text.startswith(
        f"Your previous drag from ({a0[0]}, {a0[1]}) to ({a1[0]}, {a1[1]}) was incorrect. "
        f"It should start at ({c0[0]}, {c0[1]}), inside "
    )
    assert (
        f"{c0[0] - a0[0]} px right and {c0[1] - a0[1]} px below your start, "
        f"and end at ({c1[0]}, {c1[1]}), inside "
    ) in fb.text
    # the end moves up: the drag went too far down
    assert f"{c1[0] - a1[0]} px right and {a1[1] - c1[1]} px above your end. Based" in fb.text
    assert fb.corrected == c0 and fb.proposed == a0
    img = _decode(fb.image)
    assert _colour_near(img, c1, "green") > 10 and _colour_near(img, a1, "red") > 10


def test_frame_of_the_wrong_size_is_refused(frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="1366x768"):
        correction_feedback(_click_review(CANCEL.center), frame[:768, :1366], (SAVE.center,))


def test_rejection_carries_the_reason() -> None:
    review = _click_review(CANCEL.center)
    p = _agent(*CANCEL.center)
    fb = rejection_feedback(review, "  that deletes the draft ")
    assert fb.reason == "that deletes the draft"
    assert fb.proposed == p
    assert fb.text.startswith(
        f"The person rejected your click at ({p[0]}, {p[1]}): that deletes the draft. "
        "It was not executed."
    )
    silent = rejection_feedback(_review(Type(text="rm -rf /"), Type(text="rm -rf /")), None)
    assert silent.reason is None and silent.proposed is None
    assert "rejected your typing of 'rm -rf /' without giving a reason." in silent.text


def test_edit_says_what_changed() -> None:
    review = _review(Type(text="x"), Type(text="x"))
    fb = edit_feedback(review, {"text": "y"})
    assert fb.text == "The person changed text from 'x' to 'y' and approved it."
    assert fb.edited == {"text": "y"}
    several = edit_feedback(
        _click_review(CANCEL.center), {"button": "right", "modifiers": ["ctrl"]}
    )
    assert several.text == (
        "The person changed button from 'left' to 'right', changed modifiers from [] to "
        '["ctrl"], and approved it.'
    )


def _element(role: str, name: str, box: Box, window: tuple[str, str] = ("dialog", "Ticket 4411")) -> Element:
    return Element(
        role=role, name=name, description="", states=frozenset({"enabled", "showing"}),
        box=Rect(box.x0, box.y0, box.width, box.height),
        parents=(Ancestor("filler", ""), Ancestor(*window)), application="zenity",
    )  # fmt: skip


def _agent_box(box: Box) -> tuple[int, int, int, int]:
    r = SCALING.rect_to_agent(Rect(box.x0, box.y0, box.width, box.height))
    return (r.left, r.top, r.right, r.bottom)


def test_correction_names_both_elements_when_the_tree_knows_them(frame: np.ndarray) -> None:
    clicked, meant = CANCEL.center, (SAVE.x0 + 30, SAVE.y0 + 20)
    review = _click_review(clicked)
    # the tree's box for Save is a little larger than the pixels show: the tree's box wins
    save = Box(SAVE.x0 - 6, SAVE.y0 - 4, SAVE.x1 + 6, SAVE.y1 + 4)
    named = {meant: _element("push button", "Save", save), clicked: _element("label", "Due date", CANCEL)}
    assert points_to_name(review, [meant]) == [meant, clicked]
    fb = correction_feedback(review, frame, (meant,), named)
    box = _agent_box(save)
    assert fb.box == box
    assert fb.text.startswith(
        f"Your previous click at {_at(_agent(*clicked))} was incorrect. The correct element is the "
        f"push button 'Save' in the dialog 'Ticket 4411', at {_at(_agent(*meant))}, inside "
        f"({box[0]}, {box[1]})-({box[2]}, {box[3]}), "
    )
    assert f"; your click at {_at(_agent(*clicked))} landed on the label 'Due date'. " in fb.text
    assert fb.element is not None and fb.proposed_element is not None
    assert fb.element.model_dump() == {
        "source": "a11y", "box": box, "role": "push button", "name": "Save",
        "window_role": "dialog", "window_name": "Ticket 4411",
    }  # fmt: skip
    assert (fb.proposed_element.source, fb.proposed_element.role) == ("a11y", "label")
    assert fb.proposed_element.name == "Due date" and fb.proposed_element.box == _agent_box(CANCEL)


def test_without_the_tree_the_elements_come_from_the_pixels(frame: np.ndarray) -> None:
    clicked, meant = CANCEL.center, SAVE.center
    review = _click_review(clicked)
    # a bare container and an answer whose box misses the point name nothing: pixels instead
    named = {meant: _element("filler", "", Box(0, 0, 1920, 1080)),
             clicked: _element("push button", "Stale", Box(0, 0, 10, 10))}  # fmt: skip
    for given in (None, named):
        fb = correction_feedback(review, frame, (meant,), given)
        assert fb.element is not None and fb.element.source == "vision"
        assert fb.element.role is None and fb.element.name is None and fb.element.box == fb.box
        assert fb.proposed_element is not None and fb.proposed_element.source == "vision"
        assert "landed on" not in fb.text and "The correct element is at" in fb.text


def test_a_drag_names_the_elements_of_its_ends(frame: np.ndarray) -> None:
    start, end = CANCEL.center, SAVE.center
    agent = [_agent(*start), _agent(*end)]
    review = _review(Drag(path=[agent[0], agent[1]]), Drag(path=[start, end]))
    named = {end: _element("list item", "notes.txt", SAVE)}
    fb = correction_feedback(review, frame, (start, end), named)
    assert "and end at" in fb.text and " on the list item 'notes.txt', inside " in fb.text


def _at(p: tuple[int, int]) -> str:
    return f"({p[0]}, {p[1]})"


def test_a_window_the_toolkit_calls_a_filler_is_a_window_to_the_agent(frame: np.ndarray) -> None:
    named = {SAVE.center: _element("push button", "Save", SAVE, window=("filler", "Qt Ticket"))}
    fb = correction_feedback(_click_review(CANCEL.center), frame, (SAVE.center,), named)
    assert "the push button 'Save' in the window 'Qt Ticket', at " in fb.text
    assert fb.element is not None and fb.element.window_role == "filler"
