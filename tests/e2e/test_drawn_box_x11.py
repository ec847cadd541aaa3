"""A correction drawn as a box on the real overlay, as a person does it: `driverseat serve`
with its overlay on a real X server, an agent over HTTP, a simulated person dragging on
the overlay; the box comes back to the agent as the element (source ``person``), in the
agent's pixels, and the hover route names what a click would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_review_loop_x11 import (
    POLICY,
    Daemon,
    overlay_ready,
    overlay_window,
    pending,
    poll,
)
from tests.x11.human import SimulatedHuman

pytestmark = pytest.mark.x11


@pytest.fixture(scope="module")
def daemon(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data = tmp_path_factory.mktemp("drawn")
    policy = data / "policy.toml"
    policy.write_text(POLICY)
    d = Daemon(xserver, data, policy)
    try:
        yield d
    finally:
        d.close()


def test_a_box_drawn_on_the_overlay_comes_back_as_the_element(daemon: Daemon, human: SimulatedHuman, xserver: str) -> None:
    fut = daemon.act({"action": "click", "x": 100, "y": 100, "confidence": 0.4})
    review = poll(lambda: pending(daemon))[0]
    poll(lambda: overlay_ready(xserver))
    # the hover route answers for the review on screen (pixels only: no accessibility bus here)
    seen = daemon.http.get(f"/v1/reviews/{review['id']}/element", params={"x": 1200, "y": 700}).json()
    assert seen["source"] == "vision" and len(seen["box"]) == 4 and seen["label"]
    # the person drags a box from (1100, 650) to (1300, 750) on the overlay, then Enter
    human.move(1100, 650)
    human.press()
    for x, y in ((1150, 680), (1250, 720), (1300, 750)):
        human.move(x, y)
    human.release()
    human.tap("Return")
    out = fut.result(timeout=30).json()
    assert out["status"] == "corrected", out
    fb = out["feedback"]
    # screen (1100, 650)-(1301, 751) is agent (782, 462)-(926, 534) at 1366/1920
    el = fb["element"]
    assert el["source"] == "person"
    assert all(abs(a - b) <= 1 for a, b in zip(el["box"], (782, 462, 926, 534), strict=True)), el
    assert fb["box"] == el["box"]
    assert abs(fb["corrected"][0] - 854) <= 1 and abs(fb["corrected"][1] - 498) <= 1  # the box's centre
    assert poll(lambda: overlay_window(xserver) is None)


def test_a_correction_on_the_overlay_onto_a_real_button_names_it(
    daemon: Daemon, human: SimulatedHuman, xserver: str, a11y_bus: object
) -> None:
    """A real GTK dialog on the accessibility bus under the overlay: the person clicks its
    'Escalate' button on the frozen screenshot, and the agent is told the button's role,
    name, window and exact box (in its own pixels)."""
    from capture.a11y import A11y, Element
    from capture.coords import Rect, Scaling
    from tests.x11.a11y import AccessibilityBus, Zenity

    assert isinstance(a11y_bus, AccessibilityBus)
    dialog = Zenity(a11y_bus, "--question", "--title", "Ticket 4411", "--text", "Escalate this ticket?",
                    "--ok-label", "Escalate", "--cancel-label", "Later")  # fmt: skip
    try:
        with a11y_bus.lookup() as lookup:

            def escalate(a: A11y) -> Element | None:
                el = a.focused()
                return el if el is not None and el.name == "Escalate" else None

            ok = dialog.wait_for(lookup, escalate)
        assert ok.box is not None
        cx, cy = ok.box.left + ok.box.width // 2, ok.box.top + ok.box.height // 2
        fut = daemon.act({"action": "click", "x": 5, "y": 5, "confidence": 0.3})
        review = poll(lambda: pending(daemon))[0]
        poll(lambda: overlay_ready(xserver))
        def hovered() -> dict[str, object] | None:
            e: dict[str, object] = daemon.http.get(f"/v1/reviews/{review['id']}/element", params={"x": cx, "y": cy}).json()
            return e if e.get("name") == "Escalate" else None

        seen = poll(hovered)
        assert seen["source"] == "a11y" and seen["label"] == "the push button 'Escalate' in the dialog 'Ticket 4411'"
        human.click(cx, cy)
        human.tap("Return")
        out = fut.result(timeout=30).json()
    finally:
        dialog.close()
    assert out["status"] == "corrected", out
    el = out["feedback"]["element"]
    r = Scaling(Rect(0, 0, 1920, 1080), 1366, 768).rect_to_agent(ok.box)
    assert (el["source"], el["role"], el["name"], el["window_name"]) == ("a11y", "push button", "Escalate", "Ticket 4411")
    assert el["box"] == [r.left, r.top, r.right, r.bottom]
    assert "The correct element is the push button 'Escalate' in the dialog 'Ticket 4411'" in out["feedback"]["text"]
