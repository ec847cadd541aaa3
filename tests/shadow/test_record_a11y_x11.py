"""``driverseat record`` names the element under a click from the accessibility tree
(a real GTK dialog on the suite's AT-SPI bus)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from capture.a11y import A11y, Element
from tests.daemon.live import poll
from tests.shadow.test_record_x11 import Recorder, recorded
from tests.x11.a11y import AccessibilityBus, Zenity
from tests.x11.human import SimulatedHuman

pytestmark = pytest.mark.x11
TITLE = "Ticket 4411"
TEXT = "Escalate this ticket?"


@pytest.fixture
def dialog(a11y_bus: AccessibilityBus) -> Iterator[Zenity]:
    z = Zenity(a11y_bus, "--question", "--title", TITLE, "--text", TEXT,
               "--ok-label", "Escalate", "--cancel-label", "Later")  # fmt: skip
    yield z
    z.close()


def _label(a11y: A11y, dialog: Zenity) -> Element:
    """The dialog's text (a label: clicking it changes nothing, so the dialog stays up)."""

    def escalate(lookup: A11y) -> Element | None:
        el = lookup.focused()
        return el if el is not None and el.name == "Escalate" else None

    ok = dialog.wait_for(a11y, escalate)
    assert ok.box is not None
    for y in range(ok.box.top - 5, max(0, ok.box.top - 300), -4):
        el = a11y.element_at(ok.box.left, y)
        if el is not None and el.role == "label" and el.name == TEXT:
            return el
    raise AssertionError("no label above the buttons")


def test_a_click_stores_the_element_under_it(
    a11y_bus: AccessibilityBus, dialog: Zenity, xserver: str, human: SimulatedHuman, tmp_path: Path
) -> None:
    with a11y_bus.lookup() as a11y:
        label = _label(a11y, dialog)
    assert label.box is not None
    x, y = label.box.left + label.box.width // 2, label.box.top + label.box.height // 2
    rec = Recorder(xserver, tmp_path, "a11y")
    try:
        human.click(x, y)
        human.click(5, 5)  # nothing accessible there (the root window)
        assert poll(lambda: len(recorded(tmp_path, "a11y")) >= 1, 10)
        code, _ = rec.stop()
    finally:
        if rec.proc.poll() is None:
            rec.proc.kill()
    assert code == 0, rec.lines
    first, second = recorded(tmp_path, "a11y")
    el = first["element"]
    assert el is not None and (el["role"], el["name"]) == ("label", TEXT)
    assert el["window"] == {"role": "dialog", "name": TITLE}
    assert el["box"] == [label.box.left, label.box.top, label.box.width, label.box.height]
    assert second["element"] is None
