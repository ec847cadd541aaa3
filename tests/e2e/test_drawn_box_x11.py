"""A correction drawn as a box on the real overlay, as a person does it: `driverseat serve`
with its overlay on a real X server, an agent over HTTP, a simulated person dragging on
the overlay; the box comes back to the agent as the element (source ``person``), in the
agent's pixels, and the hover route names what a click would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_review_loop_x11 import POLICY, Daemon, overlay_window, pending, poll
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
    poll(lambda: overlay_window(xserver))
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
