"""Reviews for the overlay's tests (no Qt here: the presenter tests import it too)."""

from __future__ import annotations

import itertools
from typing import Any

from daemon.outcomes import Decision, Review

SCREEN_RECT = (100, 50, 1280, 800)  # an origin off (0, 0) catches a forgotten offset
_ids = itertools.count(1)


def review(screen_action: dict[str, Any], **fields: Any) -> Review:
    """A pending review of ``screen_action`` (its agent-space twin is the same dict)."""
    n = next(_ids)
    base: dict[str, Any] = {
        "id": f"r{n}",
        "action_id": f"a{n}",
        "action": {**screen_action, "space": "agent"},
        "screen_action": {**screen_action, "space": "screen"},
        "tier": "approve",
        "rule": "test-rule",
        "created": 1000.0,
        "reason": "the agent's reason",
        "confidence": 0.42,
        "screen_rect": SCREEN_RECT,
        "agent_size": (1280, 800),
    }
    base.update(fields)
    return Review.model_validate(base)


def decision(r: Review, reviewer: str, verdict: str = "approve") -> Decision:
    return Decision(id=f"d-{r.id}-{reviewer}", review_id=r.id, reviewer=reviewer,
                    verdict=verdict, at=1001.0)  # type: ignore[arg-type]  # fmt: skip


CLICK = {"action": "click", "x": 740, "y": 450}
DRAG = {"action": "drag", "path": [[300, 300], [500, 420], [900, 600]]}
SCROLL = {"action": "scroll", "x": 600, "y": 500, "dx": 0, "dy": 3}
TYPE = {"action": "type", "text": "hello\nworld"}
KEY = {"action": "key", "keys": "ctrl+shift+t"}
