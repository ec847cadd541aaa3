"""The element at a point and the focused element, from AT-SPI, on real GTK windows.

Under the suite's Xvfb with a real accessibility bus (the ``a11y_bus`` fixture) and real
zenity dialogs. A box is checked against the pixels the button draws (its 1 px border),
and by a real click at its centre pressing that button. A missing bus, a bus that never
answers and a stopped application each answer "no element" within a bound.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from capture.a11y import A11y, Element
from capture.a11y._atspi import Atspi, _states
from capture.coords import Rect
from capture.screen import Screen
from tests.daemon.live import poll
from tests.x11.a11y import AccessibilityBus, QtWindow, Zenity

pytestmark = pytest.mark.x11
TITLE = "Ticket 4411"
BOUND = 2.0  # s: far above a lookup's timeout, far below a test that hangs on the bus


@pytest.fixture
def a11y(a11y_bus: AccessibilityBus) -> Iterator[A11y]:
    with a11y_bus.lookup() as lookup:
        yield lookup


@pytest.fixture
def question(a11y_bus: AccessibilityBus) -> Iterator[Zenity]:
    z = Zenity(a11y_bus, "--question", "--title", TITLE, "--text", "Escalate this ticket?",
               "--ok-label", "Escalate", "--cancel-label", "Later")  # fmt: skip
    yield z
    z.close()


def _focused(a11y: A11y) -> Element | None:
    el = a11y.focused()
    return el if el is not None and el.role == "push button" else None


def _centre(box: Rect) -> tuple[int, int]:
    return box.left + box.width // 2, box.top + box.height // 2


def _edge(line: np.ndarray, near: int) -> int:
    """Where the darkest pixel of ``line`` is within 4 px of index ``near`` (a border)."""
    lo = near - 4
    return lo + int(np.argmin(line[lo : near + 5]))


def test_the_button_at_a_point_has_its_role_name_and_exact_box(
    a11y: A11y, question: Zenity, xserver: str
) -> None:
    default = question.wait_for(a11y, _focused)  # zenity focuses its OK button
    assert default.box is not None
    el = a11y.element_at(*_centre(default.box))
    assert el is not None
    assert (el.role, el.name) == ("push button", "Escalate")
    assert el.window is not None and (el.window.role, el.window.name) == ("dialog", TITLE)
    assert el.application == "zenity" and el.enabled and not el.password
    box = el.box
    assert box is not None
    # the box against the pixels: GTK draws a button's 1 px border on its allocation's edge
    with Screen(xserver) as screen:
        frame = screen.grab()
    grey = frame.pixels[:, :, :3].astype(np.int32).sum(axis=2)
    cx, cy = _centre(box)
    assert abs(_edge(grey[cy], box.left) - box.left) <= 2
    assert abs(_edge(grey[cy], box.right - 1) - (box.right - 1)) <= 2
    assert abs(_edge(grey[:, cx], box.top) - box.top) <= 2
    assert abs(_edge(grey[:, cx], box.bottom - 1) - (box.bottom - 1)) <= 2


def test_a_click_at_the_boxes_centre_presses_that_button(
    a11y: A11y, question: Zenity, human: object
) -> None:
    default = question.wait_for(a11y, _focused)
    assert default.box is not None
    later_x = default.box.left - default.box.width // 2  # the other button, left of it
    later = a11y.element_at(later_x, default.box.top + default.box.height // 2)
    assert later is not None and (later.role, later.name) == ("push button", "Later")
    assert later.box is not None
    human.click(*_centre(later.box))  # type: ignore[attr-defined]
    assert poll(lambda: question.proc.poll() is not None, timeout=10)
    assert question.proc.returncode == 1  # zenity's answer for the cancel button: "Later"


def test_a_label_names_its_text_and_its_parents_up_to_the_window(
    a11y: A11y, question: Zenity
) -> None:
    default = question.wait_for(a11y, _focused)
    assert default.box is not None

    def label(lookup: A11y) -> Element | None:  # the question's text, above the buttons
        assert default.box is not None
        for y in range(default.box.top - 1, default.box.top - 80, -4):
            el = lookup.element_at(default.box.left - 10, y)
            if el is not None and el.role == "label":
                return el
        return None

    el = question.wait_for(a11y, label)
    assert el.name == "Escalate this ticket?"
    assert el.parents[-1].role == "dialog" and el.parents[-1].name == TITLE
    assert len(el.parents) >= 2  # the fillers between the label and its dialog


def test_nothing_is_under_a_point_outside_every_window(a11y: A11y, question: Zenity) -> None:
    question.wait_for(a11y, _focused)
    assert a11y.element_at(2, 2) is None


def test_the_password_check_is_true_on_a_real_password_entry(a11y_bus: AccessibilityBus) -> None:
    with a11y_bus.lookup() as a11y:
        z = Zenity(a11y_bus, "--password", "--title", "Unlock")
        try:
            el = z.wait_for(a11y, lambda lookup: lookup.focused())
            assert el.role == "password text" and el.password
            assert a11y.password_focused()
            assert el.box is not None
            at = a11y.element_at(*_centre(el.box))
            assert at is not None and at.password
        finally:
            z.close()
        plain = Zenity(a11y_bus, "--entry", "--title", "Name", "--text", "Your name")
        try:
            el = plain.wait_for(a11y, lambda lookup: lookup.focused())
            assert el.role == "text" and not el.password
            assert not a11y.password_focused()
        finally:
            plain.close()


def test_an_absent_bus_is_no_element_and_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = f"unix:path={tmp_path / 'no-bus'}"
    with (
        caplog.at_level(logging.WARNING, "capture.a11y"),
        A11y(timeout=0.1, connect=lambda t: Atspi(gone, call_timeout=t)) as a11y,
    ):
        assert a11y.element_at(10, 10) is None
        assert a11y.focused() is None
        assert not a11y.password_focused()
    lines = [r for r in caplog.records if r.name == "capture.a11y"]
    assert len(lines) == 1 and "no element" in lines[0].getMessage()


def test_a_bus_that_never_answers_is_no_element_within_the_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a socket that accepts connections and never says a word: the D-Bus handshake hangs
    path = tmp_path / "hung-bus"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)
    hung = f"unix:path={path}"
    try:
        with (
            caplog.at_level(logging.WARNING, "capture.a11y"),
            A11y(timeout=0.1, connect=lambda t: Atspi(hung, call_timeout=5.0)) as a11y,
        ):
            for _ in range(3):  # the first waits out the timeout, the others don't queue
                started = time.monotonic()
                assert a11y.element_at(10, 10) is None
                assert time.monotonic() - started < BOUND
        lines = [r for r in caplog.records if r.name == "capture.a11y"]
        assert len(lines) == 1 and "no element" in lines[0].getMessage()
    finally:
        server.close()


def test_a_hung_application_is_no_element_and_answers_again_after(
    a11y_bus: AccessibilityBus, question: Zenity, caplog: pytest.LogCaptureFixture
) -> None:
    with a11y_bus.lookup(timeout=0.2) as a11y:
        default = question.wait_for(a11y, _focused)
        assert default.box is not None
        point = _centre(default.box)
        question.pause()
        with caplog.at_level(logging.INFO, "capture.a11y"):
            started = time.monotonic()
            assert a11y.element_at(*point) is None
            assert time.monotonic() - started < BOUND
            question.resume()
            assert poll(lambda: (el := a11y.element_at(*point)) is not None and el.name == "Escalate")
        said = [r.getMessage() for r in caplog.records if r.name == "capture.a11y"]
        assert len(said) == 2 and "no element" in said[0] and "again" in said[1]


def test_state_bits_are_decoded_by_their_atspi_numbers() -> None:
    # ATSPI_STATE_ENABLED = 8, FOCUSED = 12, SHOWING = 25, READ_ONLY = 43 (second word)
    assert _states([1 << 8 | 1 << 12 | 1 << 25, 1 << 11]) == {"enabled", "focused", "showing", "read_only"}


def test_ignored_processes_and_our_children_are_never_reported(
    a11y_bus: AccessibilityBus, question: Zenity
) -> None:
    with a11y_bus.lookup() as a11y:
        default = question.wait_for(a11y, _focused)
        assert default.box is not None
        point = _centre(default.box)
        assert a11y.element_at(*point) is not None
    # the zenity dialog stands for the daemon's overlay: a child of this process
    for lookup in (A11y(timeout=0.5, connect=a11y_bus.connect, ignore_pids=frozenset({question.proc.pid})),
                   A11y(timeout=0.5, connect=a11y_bus.connect, ignore_children=True)):  # fmt: skip
        with lookup:
            assert lookup.element_at(*point) is None and lookup.focused() is None


def test_of_two_overlapping_dialogs_the_one_on_top_answers(
    a11y_bus: AccessibilityBus, a11y: A11y, question: Zenity
) -> None:
    below = question.wait_for(a11y, _focused)
    assert below.box is not None and below.window is not None and below.window.name == TITLE
    # the same dialog again, mapped later and given the focus: on top of the first
    top = Zenity(a11y_bus, "--question", "--title", "Ticket 4412", "--text", "Escalate this ticket?",
                 "--ok-label", "Escalate", "--cancel-label", "Later")  # fmt: skip
    try:
        above = top.wait_for(a11y, _focused)
        assert above.box == below.box  # no window manager: both centred on the screen
        el = a11y.element_at(*_centre(below.box))
        assert el is not None and el.pid == top.proc.pid
        assert el.window is not None and el.window.name == "Ticket 4412"
    finally:
        top.close()


def test_a_hung_application_does_not_blind_lookups_on_the_others(
    a11y_bus: AccessibilityBus, question: Zenity
) -> None:
    with a11y_bus.lookup(timeout=0.2) as a11y:
        other = Zenity(a11y_bus, "--entry", "--title", "Other", "--text", "Another application")
        try:
            other.wait_for(a11y, lambda lookup: lookup.focused())
            default = question.wait_for(a11y, _focused)  # focused last: its window is active
            assert default.box is not None
            point = _centre(default.box)
            other.pause()
            # the first lookups may wait out the hung one; then it is left out and they answer
            assert poll(lambda: (el := a11y.element_at(*point)) is not None and el.name == "Escalate")
            started = time.monotonic()
            el = a11y.element_at(*point)
            assert el is not None and el.name == "Escalate" and time.monotonic() - started < BOUND
        finally:
            other.close()


@pytest.mark.qt
def test_a_qt_window_names_its_button_and_its_password_field(a11y_bus: AccessibilityBus) -> None:
    pytest.importorskip("PySide6")
    with a11y_bus.lookup() as a11y:
        qt = QtWindow(a11y_bus)
        try:
            # Qt names its password field's role "text"; its role number says password text
            secret = qt.wait_for(a11y, lambda lookup: lookup.focused())
            assert secret.role == "password text" and secret.password and a11y.password_focused()
            assert secret.window is not None and secret.window.name == "Qt Ticket"
            assert secret.box is not None
            above = secret.box.top - secret.box.height // 2 - 6  # the button is just above it
            button = a11y.element_at(secret.box.left + secret.box.width // 2, above)
            assert button is not None and (button.role, button.name) == ("push button", "Escalate")
            assert button.application == "qt-a11y-window"
        finally:
            qt.close()
