"""AgentView (daemon/control/view.py): every conversion agent -> screen and back, logic only.

The view under test is the right monitor of a two-monitor layout (origin 1920,0, 1920x1080)
seen by the agent at 1366x768. Expected screen points are written out, not recomputed
through ``Scaling``, so a test fails when the view stops converting (or converts twice),
not only when it disagrees with itself. They follow the pixel-centre rule of
capture/coords.py: ``screen = left + ((2 * a + 1) * 1920) // (2 * 1366)``, and the same
for y with 1080 / 768.
"""

from __future__ import annotations

from typing import Any

import pytest

from capture.coords import Monitor
from daemon.actions import (
    ActionBase,
    Click,
    CursorPosition,
    Drag,
    HoldKey,
    Key,
    MouseDown,
    MouseUp,
    Move,
    Screenshot,
    Scroll,
    Type,
    Wait,
    Zoom,
)
from daemon.control.view import AgentView
from daemon.errors import ActionError
from daemon.outcomes import HumanActivity, HumanClick, Outcome

RIGHT = Monitor(1920, 0, 1920, 1080, index=2, name="right")
BELOW = Monitor(0, 1080, 1280, 1024, index=3, name="below")


@pytest.fixture
def right() -> AgentView:
    view = AgentView.for_monitor(RIGHT, 2)
    assert view.agent_size == (1366, 768)  # the default size for 16:9
    return view


def _screen(view: AgentView, action: ActionBase) -> dict[str, Any]:
    out = view.to_screen(action)
    assert type(out) is type(action)
    assert out.space == "screen"
    return out.model_dump()


def _outcome(**kw: Any) -> Outcome:
    return Outcome(id="o1", action="click", status="executed", **kw)


# -- the views themselves ------------------------------------------------------------------


def test_identity_view_leaves_points_alone() -> None:
    view = AgentView.native(1920, 1080)
    assert view.is_identity and view.agent_size == (1920, 1080) and view.monitor == 0
    click = view.to_screen(Click(x=1919, y=1079, button="right"))
    assert (click.x, click.y, click.button, click.space) == (1919, 1079, "right", "screen")
    drag = view.to_screen(Drag(path=((0, 0), (5, 7), (1919, 1079))))
    assert drag.path == ((0, 0), (5, 7), (1919, 1079)) and drag.space == "screen"
    # identity still means bounds: a point past the screen is refused, not passed through
    with pytest.raises(
        ActionError, match=r"point \(1920, 5\) is off the screen, which is 1920x1080"
    ):
        view.to_screen(Click(x=1920, y=5))


def test_which_views_are_identity(right: AgentView) -> None:
    assert not right.is_identity  # scaled
    # native size, but not at the desktop's origin: still a conversion (+1920 in x)
    native_right = AgentView.for_monitor(RIGHT, 2, "native")
    assert native_right.agent_size == (1920, 1080) and not native_right.is_identity
    click = native_right.to_screen(Click(x=0, y=0))
    assert (click.x, click.y) == (1920, 0)
    native_below = AgentView.for_monitor(BELOW, 3, "native")  # origin 0,1080: +1080 in y
    assert not native_below.is_identity
    assert native_below.to_screen(Click(x=3, y=0)).model_dump()["y"] == 1080
    assert AgentView.for_monitor(Monitor(0, 0, 1920, 1080), 0, "native").is_identity
    assert not AgentView.for_monitor(Monitor(0, 0, 1920, 1080), 0, "960x540").is_identity


def test_describe_and_size(right: AgentView) -> None:
    assert right.monitor == 2
    assert (right.screen_rect.left, right.screen_rect.top) == (1920, 0)
    assert (right.screen_rect.width, right.screen_rect.height) == (1920, 1080)
    assert right.describe() == {
        "agent_size": [1366, 768],
        "monitor": 2,
        "monitor_rect": [1920, 0, 1920, 1080],
        "scale": [1.405564, 1.40625],
    }
    assert AgentView.native(800, 600).describe()["scale"] == [1.0, 1.0]


def test_a_bad_agent_size_is_an_action_error() -> None:
    with pytest.raises(ActionError, match="agent size 'abc' is not WIDTHxHEIGHT") as exc:
        AgentView.for_monitor(RIGHT, 2, "abc")
    assert exc.value.__cause__ is not None  # translated from capture's error, not swallowed


# -- inbound: agent -> screen, every kind ------------------------------------------------------


def test_click_and_move(right: AgentView) -> None:
    click = _screen(right, Click(x=100, y=200, button="middle", count=2, reason="open it"))
    assert (click["x"], click["y"]) == (2061, 281)
    assert (click["button"], click["count"], click["reason"]) == ("middle", 2, "open it")
    move = _screen(right, Move(x=1000, y=700))
    assert (move["x"], move["y"]) == (3326, 985)
    centre = _screen(right, Click(x=683, y=384))
    assert (centre["x"], centre["y"]) == (2880, 540)


def test_drag_path_is_scaled_point_by_point(right: AgentView) -> None:
    drag = right.to_screen(
        Drag(path=((0, 0), (10, 20), (100, 200), (1365, 767)), button="right", duration=0.5)
    )
    assert drag.path == ((1920, 0), (1934, 28), (2061, 281), (3839, 1079))
    assert all(type(p) is tuple and all(type(v) is int for v in p) for p in drag.path)
    assert (drag.button, drag.duration, drag.space) == ("right", 0.5, "screen")


@pytest.mark.parametrize("kind", [MouseDown, MouseUp])
def test_mouse_down_and_up_with_and_without_a_point(
    right: AgentView, kind: type[MouseDown]
) -> None:
    at = _screen(right, kind(x=500, y=600, button="right"))
    assert (at["x"], at["y"], at["button"]) == (2623, 844, "right")
    here = _screen(right, kind())  # where the pointer is: nothing to convert
    assert (here["x"], here["y"]) == (None, None)


def test_scroll_with_and_without_a_point(right: AgentView) -> None:
    at = _screen(right, Scroll(x=300, y=400, dy=-3, dx=1))
    assert (at["x"], at["y"], at["dx"], at["dy"]) == (2342, 563, 1, -3)
    here = _screen(right, Scroll(dy=5))
    assert (here["x"], here["y"], here["dy"]) == (None, None, 5)


def test_zoom_region_is_the_preimage_rect(right: AgentView) -> None:
    # x1, y1 are exclusive: the region covers agent pixels 100..299 x 200..399
    assert _screen(right, Zoom(region=(100, 200, 300, 400)))["region"] == (2061, 281, 2342, 562)
    assert _screen(right, Zoom(region=(0, 0, 1366, 768)))["region"] == (1920, 0, 3840, 1080)


@pytest.mark.parametrize(
    "action",
    [
        Type(text="hello"),
        Key(keys="ctrl+s"),
        HoldKey(keys="shift", duration=0.5),
        Wait(duration=0.1),
        Screenshot(),
        CursorPosition(),
    ],
    ids=lambda a: a.action,
)
def test_actions_without_points_are_untouched(right: AgentView, action: ActionBase) -> None:
    out = right.to_screen(action)
    assert out.space == "screen"
    assert out.model_dump(exclude={"space"}) == action.model_dump(exclude={"space"})


def test_screen_space_actions_pass_through_unchecked(right: AgentView) -> None:
    # the caller already works in desktop pixels: no scaling, and the agent's bounds
    # (1366x768) do not apply to a point on the right monitor at x=3000
    action = Click(x=3000, y=1000, space="screen")
    assert right.to_screen(action) is action
    drag = Drag(path=((2000, 10), (3800, 1070)), space="screen")
    assert right.to_screen(drag) is drag


# -- inbound: bounds at the edges of agent space ------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        Click(x=1365, y=767),
        Move(x=0, y=0),
        Drag(path=((0, 0), (1365, 767))),
        MouseDown(x=1365, y=0),
        Scroll(x=0, y=767, dy=1),
        Zoom(region=(1365, 767, 1366, 768)),
    ],
    ids=lambda a: a.action,
)
def test_the_last_agent_pixel_is_in(right: AgentView, action: ActionBase) -> None:
    assert right.to_screen(action).space == "screen"


@pytest.mark.parametrize(
    ("action", "point"),
    [
        (Click(x=1366, y=0), (1366, 0)),
        (Move(x=0, y=768), (0, 768)),
        (Drag(path=((0, 0), (10, 10), (1366, 767))), (1366, 767)),
        (MouseUp(x=5, y=768), (5, 768)),
        (Scroll(x=1366, y=5, dx=2), (1366, 5)),
        (Zoom(region=(0, 0, 1367, 10)), (1366, 9)),
    ],
    ids=lambda a: getattr(a, "action", ""),
)
def test_the_first_pixel_past_agent_space_is_refused(
    right: AgentView, action: ActionBase, point: tuple[int, int]
) -> None:
    # in agent pixels, against the agent's size: not against the 1920x1080 monitor
    with pytest.raises(ActionError, match=r"is off the screen, which is 1366x768") as exc:
        right.to_screen(action)
    assert exc.value.details["point"] == list(point)


# -- outbound: screen -> agent ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "agent"),
    [
        ((2880, 540), (683, 384)),
        ((1920, 0), (0, 0)),  # the monitor's first pixel
        ((3839, 1079), (1365, 767)),  # and its last
        ((2100, 300), (128, 213)),
    ],
)
def test_cursor_on_the_agents_monitor(
    right: AgentView, cursor: tuple[int, int], agent: tuple[int, int]
) -> None:
    out = right.outcome_to_agent(_outcome(cursor=cursor, detail="X=?,Y=?"))
    assert (out.cursor, out.space) == (agent, "agent")
    assert out.detail == f"X={agent[0]},Y={agent[1]}"


@pytest.mark.parametrize(
    "cursor", [(1919, 500), (3840, 500), (2000, 1080), (2000, -1), (0, 0)]
)  # left monitor's last column, one past the right edge, below, above, the left monitor
def test_cursor_off_the_agents_monitor_is_unknown(
    right: AgentView, cursor: tuple[int, int]
) -> None:
    out = right.outcome_to_agent(_outcome(cursor=cursor))
    assert (out.cursor, out.space) == (None, "agent")
    assert out.detail == "the pointer is on another monitor than the agent's"


def test_outcome_without_points_only_changes_space(right: AgentView) -> None:
    out = right.outcome_to_agent(_outcome(detail="typed 5 characters"))
    assert (out.cursor, out.detail, out.space, out.human_activity) == (
        None, "typed 5 characters", "agent", None,
    )  # fmt: skip


def test_an_agent_space_outcome_is_returned_as_is(right: AgentView) -> None:
    already = _outcome(cursor=(5, 5), space="agent", detail="X=5,Y=5")
    assert right.outcome_to_agent(already) is already


def test_human_clicks_on_and_off_the_agents_monitor(right: AgentView) -> None:
    activity = HumanActivity(
        seconds=1.5,
        clicks=(
            HumanClick(x=2100, y=300, button=1),  # on the right monitor
            HumanClick(x=500, y=500, button=3),  # on the left one: the agent has no pixel
            HumanClick(x=None, y=None, button=2),  # position unknown
            HumanClick(x=3839, y=1079, button=1),  # the right monitor's last pixel
            HumanClick(x=3840, y=0, button=1),  # one past it
        ),
        text="hi",
        keys=("ctrl+s",),
        motions=4,
    )
    out = right.outcome_to_agent(_outcome(cursor=(2880, 540), human_activity=activity))
    assert out.human_activity is not None
    assert [(c.x, c.y, c.button, c.space) for c in out.human_activity.clicks] == [
        (128, 213, 1, "agent"),
        (500, 500, 3, "screen"),
        (None, None, 2, "screen"),
        (1365, 767, 1, "agent"),
        (3840, 0, 1, "screen"),
    ]
    kept = out.human_activity.model_dump(exclude={"clicks"})
    assert kept == activity.model_dump(exclude={"clicks"})
    assert out.cursor == (683, 384)


def test_human_activity_without_a_cursor(right: AgentView) -> None:
    activity = HumanActivity(seconds=0.2, clicks=(HumanClick(x=1920, y=0, button=1),))
    out = right.outcome_to_agent(_outcome(human_activity=activity, detail="done"))
    assert out.human_activity is not None and out.human_activity.clicks[0].space == "agent"
    assert (out.human_activity.clicks[0].x, out.human_activity.clicks[0].y) == (0, 0)
    assert (out.cursor, out.detail) == (None, "done")


# -- candidates: every alternative crosses the one boundary too ------------------------------------


def test_alternatives_cross_into_screen_space_on_every_view(right: AgentView) -> None:
    action = Click(x=683, y=384, alternatives=(Click(x=0, y=0), Drag(path=((0, 0), (1365, 767)))))
    for view in (right, AgentView.native(1366, 768)):
        screen = view.to_screen(action)
        first, drag = screen.alternatives
        assert first.space == drag.space == "screen"
        assert first == view.to_screen(Click(x=0, y=0))
        assert drag == view.to_screen(Drag(path=((0, 0), (1365, 767))))
    assert right.to_screen(action).alternatives[0].x == 1920  # type: ignore[attr-defined]


def test_an_alternative_off_the_screen_is_refused_by_its_number_with_the_details(right: AgentView) -> None:
    action = Click(x=1, y=1, alternatives=(Click(x=5, y=5), Click(x=1366, y=5)))
    with pytest.raises(ActionError, match=r"^alternative 2: point \(1366, 5\) is off the screen") as info:
        right.to_screen(action)
    assert info.value.details == {"point": [1366, 5], "screen": [1366, 768]}
