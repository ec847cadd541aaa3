"""The agent's view of the desktop: which monitor it works on, at what size it sees it.

Agents see a scaled-down screenshot and answer in its pixels (``agent`` space); the
input backend works in the desktop's physical pixels (``screen`` space). Every
conversion goes through one :class:`capture.coords.Scaling` here, on the way in
(actions) and on the way out (outcomes, screenshots), so a click lands on the pixel
the agent meant and every point the agent reads back is in its own space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from capture import CaptureError
from capture.coords import Monitor, Rect, Scaling, Space, agent_size_for
from daemon.actions import ActionBase, check_bounds
from daemon.errors import ActionError
from daemon.outcomes import HumanActivity, HumanClick, Outcome

A = TypeVar("A", bound=ActionBase)


@dataclass(frozen=True, slots=True)
class AgentView:
    """Conversions for an agent working on one monitor (or the whole desktop)."""

    scaling: Scaling
    monitor: int = 0  # index as capture.screen numbers them: 0 = whole desktop

    @classmethod
    def native(cls, width: int, height: int) -> AgentView:
        """Agent space = screen space (scripts, tests, ``--agent-size native``)."""
        return cls(Scaling(Rect(0, 0, width, height), width, height))

    @classmethod
    def for_monitor(cls, monitor: Monitor, index: int, spec: str | None = None) -> AgentView:
        """The agent sees ``monitor`` at the size ``spec`` picks (``WxH``, ``native``, or
        the default: the largest of 1024x768, 1280x800, 1366x768 that fits its aspect)."""
        try:
            size = agent_size_for(monitor.width, monitor.height, spec)
        except CaptureError as exc:
            raise ActionError(str(exc)) from exc
        return cls(Scaling(monitor.rect, size[0], size[1]), index)

    @property
    def agent_size(self) -> tuple[int, int]:
        return self.scaling.agent_size

    @property
    def screen_rect(self) -> Rect:
        return self.scaling.screen

    @property
    def is_identity(self) -> bool:
        s = self.scaling.screen
        return (s.left, s.top, s.width, s.height) == (0, 0, *self.agent_size)

    def describe(self) -> dict[str, Any]:
        s = self.scaling.screen
        return {
            "agent_size": list(self.agent_size),
            "monitor": self.monitor,
            "monitor_rect": [s.left, s.top, s.width, s.height],
            "scale": [round(f, 6) for f in self.scaling.factor],
        }

    # -- inbound -------------------------------------------------------------------------
    def to_screen(self, action: A) -> A:
        """Check ``action`` against the space it is in and return it in screen space."""
        if action.space == "screen":
            return action
        check_bounds(action, *self.agent_size)
        update: dict[str, Any] = {"space": "screen"}
        if action.alternatives:  # every candidate crosses at this one boundary too
            update["alternatives"] = tuple(self._alternative(i, a) for i, a in enumerate(action.alternatives, 1))
        if self.is_identity:
            return action.model_copy(update=update)
        conv = self.scaling.to_screen
        region, path = getattr(action, "region", None), getattr(action, "path", None)
        x, y = getattr(action, "x", None), getattr(action, "y", None)
        if region is not None:
            x0, y0, x1, y1 = region
            r = self.scaling.rect_to_screen(Rect(x0, y0, x1 - x0, y1 - y0, Space.AGENT))
            update["region"] = (r.left, r.top, r.right, r.bottom)
        if path is not None:
            update["path"] = tuple(tuple(conv(px, py)) for px, py in path)
        if x is not None and y is not None:
            p = conv(x, y)
            update["x"], update["y"] = p.x, p.y
        return action.model_copy(update=update)

    def _alternative(self, number: int, alternative: A) -> A:
        try:
            return self.to_screen(alternative)
        except ActionError as exc:
            raise ActionError(f"alternative {number}: {exc}", **exc.details) from None

    # -- outbound ------------------------------------------------------------------------
    def _point_to_agent(self, x: int, y: int) -> tuple[int, int] | None:
        s = self.scaling.screen
        if not (s.left <= x < s.right and s.top <= y < s.bottom):
            return None  # outside the agent's monitor: it has no pixel for it
        p = self.scaling.to_agent(x, y)
        return (p.x, p.y)

    def outcome_to_agent(self, outcome: Outcome) -> Outcome:
        """Every point of ``outcome`` in agent space (``None`` where the agent cannot see it)."""
        if outcome.space == "agent":
            return outcome
        update: dict[str, Any] = {"space": "agent"}
        if outcome.cursor is not None:
            update["cursor"] = self._point_to_agent(*outcome.cursor)
            if update["cursor"] is not None:
                update["detail"] = f"X={update['cursor'][0]},Y={update['cursor'][1]}"
            else:
                update["detail"] = "the pointer is on another monitor than the agent's"
        if outcome.human_activity is not None:
            update["human_activity"] = self._activity_to_agent(outcome.human_activity)
        return outcome.model_copy(update=update)

    def _activity_to_agent(self, act: HumanActivity) -> HumanActivity:
        clicks = []
        for c in act.clicks:
            p = None if c.x is None or c.y is None else self._point_to_agent(c.x, c.y)
            clicks.append(
                HumanClick(x=p[0], y=p[1], button=c.button, space="agent")
                if p is not None
                else HumanClick(x=c.x, y=c.y, button=c.button, space="screen")
            )
        return act.model_copy(update={"clicks": tuple(clicks)})


__all__ = ["AgentView", "Space"]
