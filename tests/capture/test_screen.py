"""Screenshots on real Xvfb servers: known patterns on the root window, grabbed,
encoded to agent size and found where :class:`capture.coords.Scaling` says they are."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from capture.coords import Monitor, Point, Rect, Scaling, Space
from capture.errors import CaptureError
from capture.screen import Frame, Screen, encode
from capture.xvfb import VirtualDisplay

pytestmark = pytest.mark.x11

RGB = tuple[int, int, int]
BACKGROUND: RGB = (40, 40, 40)
RED: RGB = (220, 30, 30)
GREEN: RGB = (30, 200, 60)
BLUE: RGB = (30, 60, 230)
YELLOW: RGB = (240, 220, 20)

# (rect, colour) in screen space on the 1920x1080 session server
PATTERN: list[tuple[Rect, RGB]] = [
    (Rect(100, 100, 300, 200), RED),
    (Rect(1500, 780, 301, 201), GREEN),  # odd sizes on purpose
    (Rect(900, 500, 121, 81), BLUE),
    (Rect(0, 1040, 40, 40), YELLOW),  # touching the bottom-left corner
]


def paint_root(display: str, background: RGB, rects: Sequence[tuple[Rect, RGB]]) -> None:
    """Make the root window's background a picture of coloured rectangles.

    A background pixmap stays on screen after this client disconnects (the window
    holds a reference to it, as with xsetroot), and needs no Expose handling.
    """
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        screen = d.screen()
        root = screen.root
        w, h = screen.width_in_pixels, screen.height_in_pixels
        pixmap = root.create_pixmap(w, h, screen.root_depth)
        gc = pixmap.create_gc()
        for rect, colour in [(Rect(0, 0, w, h), background), *rects]:
            gc.change(foreground=(colour[0] << 16) | (colour[1] << 8) | colour[2])
            pixmap.fill_rectangle(gc, rect.left, rect.top, rect.width, rect.height)
        root.change_attributes(background_pixmap=pixmap)
        root.clear_area()
        pixmap.free()
        d.sync()
    finally:
        d.close()


def reset_root(display: str) -> None:
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        d.screen().root.change_attributes(background_pixel=0)
        d.screen().root.clear_area()
        d.sync()
    finally:
        d.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)  # a poll interval, not synchronisation: the predicate decides


def wait_for_colour(screen: Screen, x: int, y: int, colour: RGB) -> None:
    rect = Rect(x, y, 1, 1)
    wait_for(lambda: screen.grab(rect).rgb_at(x, y) == colour, what=f"{colour} at ({x}, {y})")


def decode(data: bytes) -> npt.NDArray[np.uint8]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the encoded bytes do not decode"
    return image.astype(np.uint8, copy=False)


def rgb(image: npt.NDArray[np.uint8], x: int, y: int) -> RGB:
    b, g, r = image[y, x]
    return (int(r), int(g), int(b))


def close_to(a: RGB, b: RGB, tolerance: int) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a, b, strict=True))


def assert_pattern_in_agent_image(
    image: npt.NDArray[np.uint8],
    scaling: Scaling,
    pattern: Sequence[tuple[Rect, RGB]],
    tolerance: int = 0,
    margin: int = 1,
) -> None:
    """Each rect's agent-space interior has its colour; ``margin + 1`` pixels outside
    it does not (the pixel on an edge may be a blend of both sides)."""
    assert image.shape[:2] == (scaling.agent_height, scaling.agent_width)
    for rect, colour in pattern:
        a = scaling.rect_to_agent(rect)
        # interior: every agent pixel whose whole neighbourhood lies in the rect
        inner = ((a.left + margin, a.top + margin), (a.right - 1 - margin, a.bottom - 1 - margin))
        for x, y in (*inner, tuple(a.center)):
            got = rgb(image, x, y)
            assert close_to(got, colour, tolerance), f"{rect} -> {a}: {got} at ({x}, {y})"
        for x, y in (
            (a.left - 1 - margin, a.center.y),
            (a.right + margin, a.center.y),
            (a.center.x, a.top - 1 - margin),
            (a.center.x, a.bottom + margin),
        ):
            if 0 <= x < scaling.agent_width and 0 <= y < scaling.agent_height:
                got = rgb(image, x, y)
                assert not close_to(got, colour, 40), f"{rect} bleeds to ({x}, {y}): {got}"


# --- the session server (1920x1080) ----------------------------------------------------


@pytest.fixture(scope="module")
def painted(xserver: str) -> Iterator[str]:
    paint_root(xserver, BACKGROUND, PATTERN)
    yield xserver
    reset_root(xserver)


@pytest.fixture
def screen(painted: str) -> Iterator[Screen]:
    with Screen(painted) as s:
        wait_for_colour(s, 150, 150, RED)
        yield s


def test_monitors_of_a_single_screen(screen: Screen) -> None:
    monitors = screen.monitors()
    assert monitors[0] == Monitor(
        0,
        0,
        1920,
        1080,
        index=0,
        name=monitors[0].name,
        primary=monitors[0].primary,
        scale_factor=1.0,
    )
    assert len(monitors) == 2  # Xvfb's RandR reports its one output as a monitor
    assert monitors[1].rect == Rect(0, 0, 1920, 1080)
    assert monitors[1].index == 1
    assert monitors[1].scale_factor == 1.0  # Xvfb reports 96 dpi


def test_grab_whole_desktop_is_a_bgra_view_with_the_pattern(screen: Screen) -> None:
    frame = screen.grab()
    assert isinstance(frame, Frame)
    assert frame.rect == Rect(0, 0, 1920, 1080)
    assert frame.pixels.shape == (1080, 1920, 4) and frame.pixels.dtype == np.uint8
    assert not frame.pixels.flags.writeable
    assert frame.pixels.base is not None  # a view of the grab, not a copy
    for rect, colour in PATTERN:
        for x, y in ((rect.left, rect.top), (rect.right - 1, rect.bottom - 1), tuple(rect.center)):
            assert frame.rgb_at(x, y) == colour, (rect, x, y)
        for x, y in ((rect.left - 1, rect.top), (rect.right, rect.bottom - 1)):
            if frame.rect.contains(Point(x, y, Space.SCREEN)):
                assert frame.rgb_at(x, y) == BACKGROUND, (rect, x, y)
    b, g, r, _ = frame.pixels[150, 150]
    assert (r, g, b) == RED


def test_grab_a_region_and_a_monitor(screen: Screen) -> None:
    region = Rect(1400, 700, 500, 300)
    frame = screen.grab(region)
    assert frame.rect == region and frame.pixels.shape == (300, 500, 4)
    assert frame.rgb_at(1500, 780) == GREEN
    assert frame.rgb_at(1499, 780) == BACKGROUND
    b, g, r, _ = frame.pixels[780 - 700, 1500 - 1400]
    assert (r, g, b) == GREEN
    with pytest.raises(CaptureError, match="outside this frame"):
        frame.rgb_at(0, 0)
    monitor = screen.monitors()[1]
    assert screen.grab(monitor).rect == monitor.rect


def test_encode_png_to_agent_size_puts_the_pattern_where_scaling_says(screen: Screen) -> None:
    monitor = screen.monitors()[1]
    scaling = Scaling.fit(monitor)
    assert scaling.agent_size == (1366, 768)
    frame = screen.grab(1)
    data = encode(frame, scaling.agent_size)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = decode(data)
    assert_pattern_in_agent_image(image, scaling, PATTERN)
    # and the way back: the agent's click on the centre of the blue box lands in it
    blue = PATTERN[2][0]
    assert blue.contains(scaling.point_to_screen(scaling.rect_to_agent(blue).center))


def test_encode_without_resize_is_lossless(screen: Screen) -> None:
    frame = screen.grab(Rect(80, 80, 400, 300))
    image = decode(encode(frame))
    assert image.shape == (300, 400, 3)
    assert np.array_equal(image, frame.pixels[:, :, :3])


@pytest.mark.parametrize(("fmt", "magic"), [("jpeg", b"\xff\xd8\xff"), ("webp", b"RIFF")])
def test_encode_lossy_formats_decode(screen: Screen, fmt: str, magic: bytes) -> None:
    frame = screen.grab()
    scaling = Scaling.fit(screen.monitors()[0])
    data = encode(frame, scaling.agent_size, fmt, quality=90)  # type: ignore[arg-type]
    assert data.startswith(magic)
    image = decode(data)
    big = [p for p in PATTERN if p[0].width > 100]  # compression blurs small blocks' edges
    # chroma subsampling and ringing blur a few pixels at each edge
    assert_pattern_in_agent_image(image, scaling, big, tolerance=24, margin=4)


def test_encode_rejects_bad_arguments(screen: Screen) -> None:
    frame = screen.grab(Rect(0, 0, 10, 10))
    with pytest.raises(CaptureError, match="png, jpeg or webp"):
        encode(frame, fmt="gif")  # type: ignore[arg-type]
    with pytest.raises(CaptureError, match="1 to 100"):
        encode(frame, fmt="jpeg", quality=0)
    with pytest.raises(CaptureError, match="positive"):
        encode(frame, (0, 10))
    with pytest.raises(CaptureError, match="whole pixels"):
        encode(frame, (10.5, 10))  # type: ignore[arg-type]


def test_encode_downscale_beyond_half(screen: Screen) -> None:
    """Below half size INTER_AREA averages: the red block's interior stays pure red."""
    frame = screen.grab()
    scaling = Scaling(frame.rect, 640, 360)
    image = decode(encode(frame, scaling.agent_size))
    assert_pattern_in_agent_image(image, scaling, PATTERN[:3])


def test_bad_monitor_and_regions_raise_capture_error(screen: Screen) -> None:
    with pytest.raises(CaptureError, match="there is no monitor 7") as info:
        screen.grab(7)
    assert info.value.details["index"] == 7
    with pytest.raises(CaptureError, match="no monitor -1"):
        screen.grab(-1)
    with pytest.raises(CaptureError, match="not inside the desktop"):
        screen.grab(Rect(1900, 0, 100, 100))
    with pytest.raises(CaptureError, match="screen-space"):
        screen.grab(Rect(0, 0, 10, 10, Space.AGENT))
    with pytest.raises(CaptureError, match="monitor index, Monitor or Rect"):
        screen.grab("1")  # type: ignore[arg-type]


def test_closed_screen_and_missing_display_raise_capture_error(painted: str) -> None:
    s = Screen(painted)
    with pytest.raises(CaptureError, match="closed"):
        s.grab()
    with pytest.raises(CaptureError, match="cannot open the screen"):
        Screen(":4999").open()


def test_cursor_position_follows_xdotool(screen: Screen, painted: str) -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (apt-get install xdotool)")
    env = {**os.environ, "DISPLAY": painted}
    for x, y in ((123, 456), (1919, 0), (960, 540)):
        subprocess.run(["xdotool", "mousemove", str(x), str(y)], env=env, check=True)
        wait_for(
            lambda: screen.cursor_position() == Point(x, y, Space.SCREEN),  # noqa: B023
            what=f"the pointer at ({x}, {y})",
        )
        px, py = screen.cursor_position()
        assert (px, py) == (x, y)


def test_screen_can_be_shared_by_threads(screen: Screen) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(lambda _: screen.grab(PATTERN[0][0]), range(16)))
    assert all(f.rgb_at(150, 150) == RED for f in frames)


# --- other layouts: their own servers ----------------------------------------------------


def test_other_aspect_ratio_1280x1024() -> None:
    pattern = [(Rect(50, 60, 400, 300), RED), (Rect(800, 700, 333, 257), BLUE)]
    with VirtualDisplay(1280, 1024) as vd:
        paint_root(vd.name, BACKGROUND, pattern)
        with Screen(vd.name) as s:
            wait_for_colour(s, 100, 100, RED)
            monitors = s.monitors()
            assert monitors[0].rect == Rect(0, 0, 1280, 1024)
            scaling = Scaling.fit(monitors[1])
            assert scaling.agent_size == (1000, 800)  # 5:4 fitted into 1280x800
            image = decode(encode(s.grab(1), scaling.agent_size))
            assert_pattern_in_agent_image(image, scaling, pattern)


def _xrandr(display: str, *args: str) -> None:
    subprocess.run(
        ["xrandr", *args], env={**os.environ, "DISPLAY": display}, check=True, capture_output=True
    )


def test_two_monitors_side_by_side() -> None:
    """One 3840x1080 Xvfb split by RandR 1.5 into two 1920x1080 monitors: the left
    one claims the server's only output and says it is 254 mm wide (192 dpi)."""
    if shutil.which("xrandr") is None:
        pytest.skip("xrandr is not installed (apt-get install x11-xserver-utils)")
    pattern = [
        (Rect(0, 0, 1920, 1080), BLUE),  # the left monitor
        (Rect(1920, 0, 1920, 1080), GREEN),  # the right one
        (Rect(1920 + 200, 100, 501, 301), RED),  # a red box on the right one
        (Rect(3840 - 60, 1080 - 60, 60, 60), YELLOW),  # its bottom-right corner
    ]
    with VirtualDisplay(3840, 1080) as vd:
        _xrandr(vd.name, "--setmonitor", "left", "1920/254x1080/143+0+0", "screen")
        _xrandr(vd.name, "--setmonitor", "right", "1920/508x1080/286+1920+0", "none")
        paint_root(vd.name, BACKGROUND, pattern)
        with Screen(vd.name) as s:
            wait_for_colour(s, 2300, 200, RED)
            monitors = s.monitors()
            assert [m.rect for m in monitors] == [
                Rect(0, 0, 3840, 1080),
                Rect(0, 0, 1920, 1080),
                Rect(1920, 0, 1920, 1080),
            ]
            assert [m.index for m in monitors] == [0, 1, 2]
            assert [m.name for m in monitors[1:]] == ["left", "right"]  # RandR monitor names
            assert [m.scale_factor for m in monitors] == [1.0, 2.0, 1.0]

            frame = s.grab(2)
            assert frame.rect == Rect(1920, 0, 1920, 1080)
            assert frame.rgb_at(1920, 0) == GREEN and frame.rgb_at(2300, 200) == RED
            assert frame.rgb_at(3839, 1079) == YELLOW
            assert s.grab(1).rgb_at(1919, 1079) == BLUE

            scaling = Scaling.fit(monitors[2])
            assert scaling.to_screen(0, 0) == Point(1920, 0, Space.SCREEN)
            image = decode(encode(frame, scaling.agent_size))
            assert_pattern_in_agent_image(image, scaling, pattern[2:])
            assert rgb(image, 0, 0) == GREEN  # nothing of the left monitor leaks in

            whole = Scaling.fit(monitors[0])
            assert whole.agent_size == (1366, 384)  # 32:9
            image = decode(encode(s.grab(0), whole.agent_size))
            assert_pattern_in_agent_image(image, whole, pattern[2:3])
