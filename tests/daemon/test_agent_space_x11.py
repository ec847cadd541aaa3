"""Agent space on real geometries: a click at the agent-space centre of a target lands
inside it, through every dialect, on screens of different sizes, aspects and monitors."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pytest

from capture.coords import Rect, Space
from capture.screen import Screen
from capture.xvfb import VirtualDisplay
from daemon.actions import Action, parse_action
from daemon.adapters import anthropic, openai
from daemon.control.runtime import Runtime
from daemon.control.screenshots import ScreenGrabber
from daemon.control.view import AgentView
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11


@dataclass
class Desk:
    name: str
    runtime: Runtime
    view: AgentView
    target: TargetWindow


def _xrandr(display: str, *args: str) -> None:
    subprocess.run(["xrandr", *args], env={**os.environ, "DISPLAY": display}, check=True, capture_output=True)


GEOMETRIES = {
    "1920x1080": ((1920, 1080), None, 1, None),
    "1280x1024": ((1280, 1024), None, 1, None),
    "1920x1080-native": ((1920, 1080), None, 1, "native"),
    "two-monitors-right": ((3840, 1080), "split", 2, None),
}


@pytest.fixture(scope="module", params=list(GEOMETRIES))
def desk(request: pytest.FixtureRequest) -> Iterator[Desk]:
    size, layout, monitor, spec = GEOMETRIES[request.param]
    with VirtualDisplay(*size) as vd:
        if layout == "split":
            if shutil.which("xrandr") is None:
                pytest.fail("xrandr is missing: run `make test`, which installs x11-xserver-utils")
            _xrandr(vd.name, "--setmonitor", "left", "1920/508x1080/286+0+0", "screen")
            _xrandr(vd.name, "--setmonitor", "right", "1920/508x1080/286+1920+0", "none")
        with Screen(vd.name) as scr:
            monitors = scr.monitors()
        view = AgentView.for_monitor(monitors[monitor], monitor, spec)
        grabber = ScreenGrabber(vd.name, view.monitor, view.agent_size, "agent")
        target = TargetWindow(vd.name)
        rt = Runtime(display=vd.name, view=view, screenshot=grabber, step_interval=0.0, zoom=grabber.region)
        try:
            yield Desk(request.param, rt, view, target)
        finally:
            rt.close()
            grabber.close()
            target.close()


def targets(view: AgentView) -> list[Rect]:
    """Small targets (in screen space) all over the agent's monitor, edges included."""
    s = view.screen_rect
    out = []
    for fx in (0.0, 0.13, 0.5, 0.77, 1.0):
        for fy in (0.0, 0.41, 1.0):
            w, h = 9, 7  # about 6x5 agent pixels when scaled down: small on purpose
            left = s.left + min(s.width - w, int(fx * s.width))
            top = s.top + min(s.height - h, int(fy * s.height))
            out.append(Rect(left, top, w, h))
    return out


Dialect = Callable[[int, int], Action]

DIALECTS: dict[str, Dialect] = {
    "canonical": lambda x, y: parse_action({"action": "click", "x": x, "y": y}),
    "anthropic": lambda x, y: anthropic.to_canonical({"action": "left_click", "coordinate": [x, y]}),
    "openai": lambda x, y: openai.to_canonical(
        {"type": "computer_call", "call_id": "c1", "action": {"type": "click", "button": "left", "x": x, "y": y},
         "pending_safety_checks": []}
    )[0],
}


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_agent_clicks_land_inside_their_targets(desk: Desk, dialect: str) -> None:
    make = DIALECTS[dialect]
    for rect in targets(desk.view):
        centre = desk.view.scaling.rect_to_agent(rect).center
        desk.target.clear()
        out = desk.runtime.run(make(centre.x, centre.y))
        assert out.status == "executed"
        assert desk.target.wait_for(lambda: any(e["type"] == "button_press" for e in desk.target.events))
        press = next(e for e in desk.target.snapshot() if e["type"] == "button_press")
        x, y = press["x"], press["y"]
        assert rect.left <= x < rect.right and rect.top <= y < rect.bottom, (desk.name, dialect, rect, centre, (x, y))


def test_off_agent_screen_is_rejected_in_agent_terms(desk: Desk) -> None:
    from daemon.errors import ActionError

    w, h = desk.view.agent_size
    with pytest.raises(ActionError, match=f"{w}x{h}"):
        desk.runtime.run(parse_action({"action": "click", "x": w, "y": 0}))


def test_cursor_position_round_trips_in_agent_space(desk: Desk) -> None:
    w, h = desk.view.agent_size
    for x, y in ((0, 0), (w // 3, h // 2), (w - 1, h - 1)):
        desk.runtime.run(parse_action({"action": "move", "x": x, "y": y}))
        out = desk.runtime.run(parse_action({"action": "cursor_position"}))
        assert out.space == "agent"
        assert out.cursor == (x, y)


def test_screenshot_is_at_agent_size(desk: Desk) -> None:
    out = desk.runtime.run(parse_action({"action": "screenshot"}))
    assert out.screenshot is not None
    img: Any = cv2.imdecode(np.frombuffer(base64.b64decode(out.screenshot.data), np.uint8), cv2.IMREAD_COLOR)
    assert (img.shape[1], img.shape[0]) == desk.view.agent_size
    assert (out.screenshot.width, out.screenshot.height) == desk.view.agent_size
    assert out.screenshot.space == "agent"


def test_screen_space_actions_pass_through(desk: Desk) -> None:
    rect = targets(desk.view)[7]
    desk.target.clear()
    cx, cy = rect.left + rect.width // 2, rect.top + rect.height // 2
    desk.runtime.run(parse_action({"action": "click", "x": cx, "y": cy, "space": "screen"}))
    assert desk.target.wait_for(lambda: any(e["type"] == "button_press" for e in desk.target.events))
    press = next(e for e in desk.target.snapshot() if e["type"] == "button_press")
    assert (press["x"], press["y"]) == (cx, cy)


def test_zoom_shows_the_region_at_screen_resolution(desk: Desk) -> None:
    w, h = desk.view.agent_size
    region = (w // 4, h // 4, w // 4 + 100, h // 4 + 60)
    out = desk.runtime.run(anthropic.to_canonical({"action": "zoom", "region": list(region)}))
    assert out.status == "executed" and out.screenshot is not None
    screen = desk.view.scaling.rect_to_screen(Rect(region[0], region[1], 100, 60, Space.AGENT))
    assert (out.screenshot.width, out.screenshot.height) == (screen.width, screen.height)
    img: Any = cv2.imdecode(np.frombuffer(base64.b64decode(out.screenshot.data), np.uint8), cv2.IMREAD_COLOR)
    assert (img.shape[1], img.shape[0]) == (screen.width, screen.height)
