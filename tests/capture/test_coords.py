"""Coordinate spaces: agent-size choice, parsing, and exact round trips (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from capture.coords import (
    DEFAULT_AGENT_SIZES,
    Monitor,
    Point,
    Rect,
    Scaling,
    Space,
    WidgetPlacement,
    WidgetPoint,
    WidgetRect,
    agent_size_for,
    choose_agent_size,
    parse_agent_size,
)
from capture.errors import CaptureError

# --- choose_agent_size ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("screen", "expected"),
    [
        ((1920, 1080), (1366, 768)),  # 16:9 -> FWXGA (1366x768 is 16:9 within 0.05 %)
        ((3840, 2160), (1366, 768)),
        ((1600, 900), (1366, 768)),
        ((1366, 768), (1366, 768)),
        ((2560, 1600), (1280, 800)),  # 16:10 -> WXGA
        ((1920, 1200), (1280, 800)),
        ((1280, 800), (1280, 800)),
        ((1024, 768), (1024, 768)),  # 4:3 -> XGA
        ((2048, 1536), (1024, 768)),
        ((800, 600), (800, 600)),  # smaller than every choice: never upscaled
        ((1280, 720), (1280, 720)),  # 16:9 but smaller than 1366x768: native
        ((3840, 1080), (1366, 384)),  # 32:9: fitted into 1366x768, aspect kept
        ((1280, 1024), (1000, 800)),  # 5:4: fitted into 1280x800 keeps the most pixels
        ((1920, 700), (1366, 498)),  # short and wide: no choice fits, still scaled down
        ((1080, 1920), (450, 800)),  # portrait: 1280x800 is the tallest bound
        ((1, 1), (1, 1)),
    ],
)
def test_choose_agent_size(screen: tuple[int, int], expected: tuple[int, int]) -> None:
    assert choose_agent_size(*screen) == expected


def test_choose_agent_size_native_and_custom_choices() -> None:
    assert choose_agent_size(1920, 1080, native=True) == (1920, 1080)
    assert choose_agent_size(1920, 1080, ((1280, 720), (960, 540))) == (1280, 720)
    # a custom choice of another aspect is a bound, not a stretch
    assert choose_agent_size(1920, 1080, ((1280, 800),)) == (1280, 720)


def test_choose_agent_size_rejects_bad_input() -> None:
    with pytest.raises(CaptureError, match="positive|between"):
        choose_agent_size(0, 1080)
    with pytest.raises(CaptureError, match="at least one"):
        choose_agent_size(1920, 1080, ())
    with pytest.raises(CaptureError, match="integer"):
        choose_agent_size(1920.0, 1080)  # type: ignore[arg-type]


@given(
    st.integers(1, 8000),
    st.integers(1, 8000),
    st.lists(st.tuples(st.integers(1, 4000), st.integers(1, 4000)), min_size=1, max_size=4),
)
def test_choose_agent_size_never_upscales_and_keeps_aspect(
    w: int, h: int, choices: list[tuple[int, int]]
) -> None:
    aw, ah = choose_agent_size(w, h, choices)
    assert 1 <= aw <= w and 1 <= ah <= h
    if (aw, ah) not in choices:
        # a fitted size: aspect kept up to the rounding of one side
        assert abs(aw * h - ah * w) <= max(w, h)
        assert any(aw <= cw and ah <= ch for cw, ch in choices) or (aw, ah) == (w, h)


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1366x768", (1366, 768)),
        (" 1280 X 800 ", (1280, 800)),
        ("1024×768", (1024, 768)),
        ("native", "native"),
        ("NATIVE", "native"),
    ],
)
def test_parse_agent_size(text: str, expected: object) -> None:
    assert parse_agent_size(text) == expected


@pytest.mark.parametrize(
    "text", ["", "1366", "1366x", "x768", "1366x768x2", "-5x7", "big", "1.5x2"]
)
def test_parse_agent_size_rejects_garbage_with_a_sentence(text: str) -> None:
    with pytest.raises(CaptureError, match=r"is not WIDTHxHEIGHT .*\"native\"") as info:
        parse_agent_size(text)
    assert info.value.details["value"] == text


@pytest.mark.parametrize("text", ["0x768", "1366x0", "99999x768"])
def test_parse_agent_size_rejects_out_of_range(text: str) -> None:
    with pytest.raises(CaptureError, match="between 1 and"):
        parse_agent_size(text)


def test_agent_size_for_config_values() -> None:
    assert agent_size_for(1920, 1080) == (1366, 768)
    assert agent_size_for(1920, 1080, "native") == (1920, 1080)
    assert agent_size_for(1920, 1080, "1280x720") == (1280, 720)
    assert agent_size_for(1920, 1080, "1024x768") == (1024, 576)  # bound, aspect kept
    assert agent_size_for(800, 600, (1024, 768)) == (800, 600)  # never upscaled
    with pytest.raises(CaptureError):
        agent_size_for(1920, 1080, "wide")


# --- value types ------------------------------------------------------------------------


def test_values_say_their_space_and_refuse_the_wrong_one() -> None:
    s = Scaling(Rect(0, 0, 1920, 1080), 1366, 768)
    with pytest.raises(CaptureError, match="screen space"):
        s.point_to_agent(Point(10, 10, Space.AGENT))
    with pytest.raises(CaptureError, match="agent space"):
        s.rect_to_screen(Rect(0, 0, 5, 5, Space.SCREEN))
    with pytest.raises(CaptureError, match="WidgetPoint"):
        Point(1, 2, Space.WIDGET)
    with pytest.raises(CaptureError, match="integer"):
        Point(1.5, 2, Space.SCREEN)  # type: ignore[arg-type]
    with pytest.raises(CaptureError, match="positive size"):
        Rect(0, 0, 0, 10)
    with pytest.raises(CaptureError, match="positive"):
        WidgetPlacement(0, 0, 0.0)
    x, y = Point(3, 4, Space.SCREEN)
    assert (x, y) == (3, 4)


def test_rect_helpers() -> None:
    r = Rect(-1920, -10, 1920, 1080)
    assert (r.right, r.bottom) == (0, 1070)
    assert r.center == Point(-960, 530, Space.SCREEN)
    assert r.contains(Point(-1920, -10, Space.SCREEN))
    assert not r.contains(Point(0, 0, Space.SCREEN))
    assert r.contains_rect(Rect(-100, 0, 100, 10))
    m = Monitor(1920, 0, 1280, 1024, index=2)
    assert m.rect == Rect(1920, 0, 1280, 1024) and m.right == 3200


# --- scaling: fixed cases ---------------------------------------------------------------


def test_scaling_primary_1920x1080_corners_and_centre() -> None:
    s = Scaling.fit(Rect(0, 0, 1920, 1080))
    assert s.agent_size == (1366, 768)
    assert s.to_agent(0, 0) == Point(0, 0, Space.AGENT)
    assert s.to_agent(1919, 1079) == Point(1365, 767, Space.AGENT)
    assert s.to_screen(0, 0) == Point(0, 0, Space.SCREEN)
    assert s.to_screen(1365, 767) == Point(1919, 1079, Space.SCREEN)
    assert s.to_screen(683, 384) == Point(960, 540, Space.SCREEN)
    assert s.rect_to_agent(Rect(0, 0, 1920, 1080)) == s.agent_rect


def test_scaling_second_monitor_includes_its_origin() -> None:
    second = Monitor(1920, 0, 1920, 1080, index=2)
    s = Scaling.fit(second)
    assert s.to_screen(0, 0) == Point(1920, 0, Space.SCREEN)
    assert s.to_agent(1920, 0) == Point(0, 0, Space.AGENT)
    assert s.to_agent(3839, 1079) == Point(1365, 767, Space.AGENT)
    assert s.to_screen(1365, 767) == Point(3839, 1079, Space.SCREEN)
    # a pixel on the first monitor lies left of this agent image: not clamped
    assert s.to_agent(100, 100).x < 0


def test_scaling_negative_origin() -> None:
    left = Monitor(-2560, -200, 2560, 1600, index=2)
    s = Scaling.fit(left)
    assert s.agent_size == (1280, 800)
    assert s.to_screen(0, 0) == Point(-2559, -199, Space.SCREEN)  # centre of a 2x2 block
    assert s.to_agent(-2560, -200) == Point(0, 0, Space.AGENT)
    assert s.to_agent(-1, 1399) == Point(1279, 799, Space.AGENT)
    assert s.rect_to_screen(Rect(0, 0, 1, 1, Space.AGENT)) == Rect(-2560, -200, 2, 2)


def test_widget_placement_with_device_pixel_ratio() -> None:
    # the overlay covers the second monitor at 2x: logical 960x540
    p = WidgetPlacement(1920, 0, 2.0)
    assert p.to_widget(Point(1920, 0, Space.SCREEN)) == WidgetPoint(0.25, 0.25)
    assert p.to_screen(WidgetPoint(480, 270)) == Point(2880, 540, Space.SCREEN)
    assert p.rect_to_widget(Rect(1920, 0, 1920, 1080)) == WidgetRect(0, 0, 960, 540)
    s = Scaling.fit(Monitor(1920, 0, 1920, 1080))
    w = s.agent_to_widget(Point(683, 384, Space.AGENT), p)
    assert s.widget_to_agent(w, p) == Point(683, 384, Space.AGENT)


# --- scaling: properties ----------------------------------------------------------------

origins = st.integers(-10_000, 10_000)
sides = st.integers(1, 5000)


@st.composite
def scalings(draw: st.DrawFn, *, downscale_only: bool = False) -> Scaling:
    rect = Rect(draw(origins), draw(origins), draw(sides), draw(sides))
    if draw(st.booleans()):
        size = choose_agent_size(rect.width, rect.height, DEFAULT_AGENT_SIZES)
    elif downscale_only:
        size = (draw(st.integers(1, rect.width)), draw(st.integers(1, rect.height)))
    else:
        size = (draw(sides), draw(sides))
    return Scaling(rect, *size)


def _screen_points(s: Scaling) -> st.SearchStrategy[Point]:
    r = s.screen
    return st.builds(
        Point,
        st.integers(r.left, r.right - 1),
        st.integers(r.top, r.bottom - 1),
        st.just(Space.SCREEN),
    )


def _agent_points(s: Scaling) -> st.SearchStrategy[Point]:
    return st.builds(
        Point,
        st.integers(0, s.agent_width - 1),
        st.integers(0, s.agent_height - 1),
        st.just(Space.AGENT),
    )


def _near(a: int, b: int, fine: int, coarse: int) -> bool:
    """|a - b| <= (fine/coarse + 1) / 2 fine pixels: within one coarse pixel."""
    return 2 * abs(a - b) * coarse <= fine + coarse


@given(st.data(), scalings(downscale_only=True))
def test_agent_to_screen_to_agent_is_exact(data: st.DataObject, s: Scaling) -> None:
    p = data.draw(_agent_points(s))
    q = s.point_to_screen(p)
    assert s.screen.contains(q)
    assert s.point_to_agent(q) == p


@given(st.data(), scalings(downscale_only=True))
def test_screen_to_agent_to_screen_within_one_agent_pixel(data: st.DataObject, s: Scaling) -> None:
    p = data.draw(_screen_points(s))
    a = s.point_to_agent(p)
    assert s.agent_rect.contains(a)
    q = s.point_to_screen(a)
    assert _near(p.x, q.x, s.screen.width, s.agent_width)
    assert _near(p.y, q.y, s.screen.height, s.agent_height)
    assert s.point_to_agent(q) == a  # and it is the same agent pixel


@given(st.data(), scalings())
def test_any_scaling_round_trips_within_one_pixel_of_the_coarser_grid(
    data: st.DataObject, s: Scaling
) -> None:
    """Upscaling too (an explicit size bigger than the monitor): the same guarantees,
    with the roles of the grids swapped per axis."""
    p = data.draw(_screen_points(s))
    q = s.point_to_screen(s.point_to_agent(p))
    a = data.draw(_agent_points(s))
    b = s.point_to_agent(s.point_to_screen(a))
    sw, sh, aw, ah = s.screen.width, s.screen.height, s.agent_width, s.agent_height
    for start, back, n_start, n_other in (
        (p.x, q.x, sw, aw),
        (p.y, q.y, sh, ah),
        (a.x, b.x, aw, sw),
        (a.y, b.y, ah, sh),
    ):
        if n_start <= n_other:  # started on the coarse grid: exact
            assert back == start
        else:
            assert _near(start, back, n_start, n_other)


@given(st.data(), scalings())
def test_rect_round_trips(data: st.DataObject, s: Scaling) -> None:
    r = s.screen
    x0 = data.draw(st.integers(r.left, r.right - 1))
    y0 = data.draw(st.integers(r.top, r.bottom - 1))
    target = Rect(
        x0, y0, data.draw(st.integers(1, r.right - x0)), data.draw(st.integers(1, r.bottom - y0))
    )
    a = s.rect_to_agent(target)
    back = s.rect_to_screen(a)
    if s.agent_width <= r.width and s.agent_height <= r.height:
        assert back.contains_rect(target)  # fine -> coarse -> fine covers the target
        assert s.rect_to_agent(back) == a  # coarse -> fine -> coarse is exact
    # every pixel of the target is shown inside the agent rect
    for corner in ((target.left, target.top), (target.right - 1, target.bottom - 1)):
        assert a.contains(s.to_agent(*corner))


@given(st.data(), scalings(downscale_only=True))
def test_agent_centre_of_a_target_lands_inside_it(data: st.DataObject, s: Scaling) -> None:
    r = s.screen
    x0 = data.draw(st.integers(r.left, r.right - 1))
    y0 = data.draw(st.integers(r.top, r.bottom - 1))
    target = Rect(
        x0, y0, data.draw(st.integers(1, r.right - x0)), data.draw(st.integers(1, r.bottom - y0))
    )
    a = s.rect_to_agent(target)
    # a target shown as one or two agent pixels wide can't be hit reliably: the agent
    # has no way to say which of the screen pixels behind one agent pixel it meant
    assume(a.width >= 3 and a.height >= 3)
    assert target.contains(s.point_to_screen(a.center))


@given(st.data(), scalings(downscale_only=True))
def test_agent_target_maps_to_screen_pixels_that_map_back_into_it(
    data: st.DataObject, s: Scaling
) -> None:
    ax = data.draw(st.integers(0, s.agent_width - 1))
    ay = data.draw(st.integers(0, s.agent_height - 1))
    a = Rect(
        ax,
        ay,
        data.draw(st.integers(1, s.agent_width - ax)),
        data.draw(st.integers(1, s.agent_height - ay)),
        Space.AGENT,
    )
    screen_rect = s.rect_to_screen(a)
    assert s.screen.contains_rect(screen_rect)
    assert a.contains(s.point_to_agent(screen_rect.center))
    assert s.rect_to_agent(screen_rect) == a


dprs = st.sampled_from([1.0, 1.25, 1.5, 1.75, 2.0, 3.0]) | st.floats(0.5, 4.0)


@given(origins, origins, dprs, origins, origins)
def test_widget_round_trips(left: int, top: int, dpr: float, x: int, y: int) -> None:
    p = WidgetPlacement(left, top, dpr)
    sp = Point(x, y, Space.SCREEN)
    assert p.to_screen(p.to_widget(sp)) == sp  # screen -> widget -> screen: exact
    wp = WidgetPoint(x / 7, y / 3)
    back = p.to_widget(p.to_screen(wp))
    assert abs(back.x - wp.x) <= 0.5 / dpr + 1e-9  # within half a physical pixel
    assert abs(back.y - wp.y) <= 0.5 / dpr + 1e-9


@given(origins, origins, dprs, origins, origins, sides, sides)
def test_widget_rect_round_trip(
    left: int, top: int, dpr: float, x: int, y: int, w: int, h: int
) -> None:
    p = WidgetPlacement(left, top, dpr)
    r = Rect(x, y, w, h)
    assert p.rect_to_screen(p.rect_to_widget(r)) == r


@given(st.data(), scalings(downscale_only=True), origins, origins, dprs)
def test_agent_widget_round_trip(
    data: st.DataObject, s: Scaling, left: int, top: int, dpr: float
) -> None:
    placement = WidgetPlacement(left, top, dpr)
    a = data.draw(_agent_points(s))
    assert s.widget_to_agent(s.agent_to_widget(a, placement), placement) == a
