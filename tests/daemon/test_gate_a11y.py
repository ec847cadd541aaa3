"""A correction onto a real GTK button comes back naming it: the gate with the real
accessibility lookup (capture.a11y) against a real zenity dialog on the suite's Xvfb,
a real review queue and store, and the screen grabbed as the daemon grabs it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from capture.a11y import A11y, Element
from capture.coords import Rect, Scaling
from capture.screen import Screen, encode
from daemon.outcomes import DecisionRequest
from daemon.review.gate import Answer, Gate, Held
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.store import Store
from tests.daemon.test_gate import proposal, run
from tests.x11.a11y import AccessibilityBus, Zenity

pytestmark = pytest.mark.x11
POLICY = """
[defaults]
tier = "approve"
rationale_required = []
"""
SCREEN = Scaling(Rect(0, 0, 1920, 1080), 1366, 768)
TITLE = "Ticket 4411"


@pytest.fixture
def dialog(a11y_bus: AccessibilityBus) -> Iterator[Zenity]:
    z = Zenity(a11y_bus, "--question", "--title", TITLE, "--text", "Escalate this ticket?",
               "--ok-label", "Escalate", "--cancel-label", "Later")  # fmt: skip
    yield z
    z.close()


def _gate(tmp: Path, xserver: str, a11y: A11y) -> tuple[Gate, ReviewQueue, Store]:
    store = Store(tmp / "d.db")
    queue = ReviewQueue(store, tmp / "frames")

    def grab() -> bytes:
        with Screen(xserver) as screen:
            return encode(screen.grab())

    gate = Gate(parse_policy(POLICY), queue, SCREEN, grab_frame=grab, element_at=a11y.element_at)
    return gate, queue, store


def _agent(x: int, y: int) -> tuple[int, int]:
    p = SCREEN.to_agent(x, y)
    return (p.x, p.y)


def _buttons(a11y: A11y, dialog: Zenity) -> tuple[Element, Element]:
    def escalate(lookup: A11y) -> Element | None:
        el = lookup.focused()
        return el if el is not None and el.name == "Escalate" else None

    ok = dialog.wait_for(a11y, escalate)
    assert ok.box is not None
    later = a11y.element_at(ok.box.left - ok.box.width // 2, ok.box.top + ok.box.height // 2)
    assert later is not None and later.name == "Later" and later.box is not None
    return ok, later


def _centre(el: Element) -> tuple[int, int]:
    assert el.box is not None
    return el.box.left + el.box.width // 2, el.box.top + el.box.height // 2


def test_a_correction_onto_a_real_button_comes_back_naming_it(
    a11y_bus: AccessibilityBus, dialog: Zenity, xserver: str, tmp_path: Path
) -> None:
    with a11y_bus.lookup() as a11y:
        ok, later = _buttons(a11y, dialog)
        gate, queue, store = _gate(tmp_path, xserver, a11y)
        try:
            clicked, meant = _centre(later), _centre(ok)  # the agent clicked Later, meant Escalate
            p = proposal({"action": "click", "x": clicked[0], "y": clicked[1]})
            req = DecisionRequest(verdict="correct", reviewer="ann", points=(meant,))
            answer = run(_decided(queue, gate.admit(p), lambda rid: queue.decide(rid, req)))
        finally:
            store.close()
    assert isinstance(answer, Held) and answer.status == "corrected"
    fb = answer.feedback
    assert fb is not None and fb.element is not None and fb.proposed_element is not None
    assert ok.box is not None
    r = SCREEN.rect_to_agent(ok.box)
    box = (r.left, r.top, r.right, r.bottom)
    assert fb.text.startswith(
        f"Your previous click at ({_agent(*clicked)[0]}, {_agent(*clicked)[1]}) was incorrect. The correct element is the "
        f"push button 'Escalate' in the dialog '{TITLE}', at ({_agent(*meant)[0]}, {_agent(*meant)[1]}), "
        f"inside ({box[0]}, {box[1]})-({box[2]}, {box[3]}), "
    )
    assert "landed on the push button 'Later'. " in fb.text
    assert fb.box == box and fb.element.box == box
    assert (fb.element.source, fb.element.role, fb.element.name) == ("a11y", "push button", "Escalate")
    assert (fb.element.window_role, fb.element.window_name) == ("dialog", TITLE)
    assert (fb.proposed_element.source, fb.proposed_element.name) == ("a11y", "Later")


def test_a_hung_application_leaves_the_correction_to_the_pixels(
    a11y_bus: AccessibilityBus, dialog: Zenity, xserver: str, tmp_path: Path
) -> None:
    with a11y_bus.lookup(timeout=0.1) as a11y:
        ok, later = _buttons(a11y, dialog)
        gate, queue, store = _gate(tmp_path, xserver, a11y)
        try:
            clicked, meant = _centre(later), _centre(ok)
            p = proposal({"action": "click", "x": clicked[0], "y": clicked[1]})
            req = DecisionRequest(verdict="correct", reviewer="ann", points=(meant,))

            def decide(rid: str) -> None:
                dialog.pause()  # hangs after the screenshot: only the lookups meet it
                queue.decide(rid, req)

            started = time.monotonic()
            answer = run(_decided(queue, gate.admit(p), decide))
            elapsed = time.monotonic() - started
        finally:
            dialog.resume()
            store.close()
    assert isinstance(answer, Held) and answer.status == "corrected"
    fb = answer.feedback
    assert fb is not None and fb.element is not None and fb.element.source == "vision"
    assert "The correct element is at " in fb.text and "landed on" not in fb.text
    assert elapsed < 10  # bounded: the hung dialog never held the answer up for long


async def _decided(queue: ReviewQueue, answer: Awaitable[Answer], decide: Callable[[str], object]) -> Answer:
    """Start waiting on ``answer``, decide the review once it exists, return the answer."""
    task = asyncio.ensure_future(answer)
    for _ in range(1000):
        pending = queue.pending()
        if pending:
            break
        await asyncio.sleep(0.01)  # yield to the gate's task (a poll, not a wait for time)
    else:
        raise AssertionError("no review was opened")
    await asyncio.to_thread(decide, pending[0].id)
    return await asyncio.wait_for(task, 20)


def test_hovering_names_what_the_correction_then_reports(
    a11y_bus: AccessibilityBus, dialog: Zenity, xserver: str, tmp_path: Path
) -> None:
    """The overlay's hover outline (Gate.element_under) is the element the correction
    names afterwards: same source, same box, same words."""
    with a11y_bus.lookup() as a11y:
        ok, later = _buttons(a11y, dialog)
        gate, queue, store = _gate(tmp_path, xserver, a11y)
        try:
            clicked, meant = _centre(later), _centre(ok)
            p = proposal({"action": "click", "x": clicked[0], "y": clicked[1]})
            req = DecisionRequest(verdict="correct", reviewer="ann", points=(meant,))
            hovered: list[dict[str, object]] = []

            def hover_then_decide(rid: str) -> None:
                hovered.append(gate.element_under(rid, *meant))
                queue.decide(rid, req)

            answer = run(_decided(queue, gate.admit(p), hover_then_decide))
        finally:
            store.close()
    assert ok.box is not None
    seen = hovered[0]
    assert seen["source"] == "a11y" and (seen["role"], seen["name"]) == ("push button", "Escalate")
    assert seen["box"] == (ok.box.left, ok.box.top, ok.box.right, ok.box.bottom)  # screen space, to draw
    assert seen["label"] == f"the push button 'Escalate' in the dialog '{TITLE}'"
    assert isinstance(answer, Held) and answer.feedback is not None and answer.feedback.element is not None
    assert answer.feedback.element.box == seen["agent_box"]
    assert f"The correct element is {seen['label']}, " in answer.feedback.text


def test_a_box_drawn_by_the_person_wins_and_keeps_the_trees_name(
    a11y_bus: AccessibilityBus, dialog: Zenity, xserver: str, tmp_path: Path
) -> None:
    with a11y_bus.lookup() as a11y:
        ok, later = _buttons(a11y, dialog)
        gate, queue, store = _gate(tmp_path, xserver, a11y)
        try:
            clicked, meant = _centre(later), _centre(ok)
            drawn = (meant[0] - 30, meant[1] - 12, meant[0] + 31, meant[1] + 13)  # not the tree's box
            p = proposal({"action": "click", "x": clicked[0], "y": clicked[1]})
            req = DecisionRequest(verdict="correct", reviewer="ann", points=(meant,), box=drawn)
            answer = run(_decided(queue, gate.admit(p), lambda rid: queue.decide(rid, req)))
            stored = store.get_review(answer.review.id) if answer.review is not None else None
        finally:
            store.close()
    assert isinstance(answer, Held) and answer.feedback is not None
    el = answer.feedback.element
    r = SCREEN.rect_to_agent(Rect(drawn[0], drawn[1], drawn[2] - drawn[0], drawn[3] - drawn[1]))
    assert el is not None and el.source == "person" and el.box == (r.left, r.top, r.right, r.bottom)
    assert answer.feedback.box == el.box
    assert (el.role, el.name) == ("push button", "Escalate")  # the tree still names it
    # the person's box is kept with the review's decision: the best training label there is
    assert stored is not None and tuple(stored["review"]["decisions"][-1]["box"]) == drawn
