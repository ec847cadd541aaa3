"""Shadowing: a person's raw input and recent frames, merged into the actions an agent
would issue. ``merge`` is pure (tested with synthetic streams); ``live`` observes an X
display; ``frames`` keeps the frames to pick "the one before the action" from. Nothing
here knows the daemon: the daemon converts these dataclasses to its canonical actions."""

from __future__ import annotations

from capture.recorder.merge import (
    Click,
    Drag,
    HumanAction,
    KeyCombo,
    Merger,
    PauseToggled,
    RawEvent,
    Scroll,
    Settings,
    TypeText,
)

__all__ = [
    "Click",
    "Drag",
    "HumanAction",
    "KeyCombo",
    "Merger",
    "PauseToggled",
    "RawEvent",
    "Scroll",
    "Settings",
    "TypeText",
]
