"""Clearance: an approved action runs only once the overlay is off the agent's screen.

A person approves on the overlay, or anyone approves through the API; either way the
overlay's window may still be mapped for a few milliseconds (it hides when its event
stream says the review is decided), or longer (it waits for the Enter key to be let go,
it shows the next review). Input sent meanwhile lands on the overlay, not on the
application below: a click vanishes, a Control press goes missing from ``ctrl+w``.

Why the X server, not a message from the overlay: the server is the one party that
knows for certain that no overlay window is mapped any more, and it knows it for every
overlay, whoever decided and wherever that overlay runs. A "hidden now" message would
come after the unmap, never from an overlay that crashed (the server destroys its
windows: clear at once) or that runs on the reviewer's own machine (it has no window
here: clear at once). The overlay's windows are found by their WM_CLASS class,
:data:`OVERLAY_WM_CLASS`, which the overlay sets as its application name; a hung
overlay that stays mapped costs at most ``timeout``, and then the action does not run
(input would land on the overlay): the agent gets an ``error`` outcome saying so.

The same watch tells the intervention whether a press or motion is on one of the
overlay's windows (the grace toast's Cancel): review input, not a takeover.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from capture.input import InputEvent
from daemon.actions import Action
from daemon.outcomes import Control, Outcome

__all__ = [
    "CLEAR_TIMEOUT_S",
    "OVERLAY_WM_CLASS",
    "NoOverlay",
    "OverlayClearance",
    "OverlayWatch",
    "not_clear",
]

log = logging.getLogger(__name__)

OVERLAY_WM_CLASS = "driverseat-overlay"
# The overlay hides within milliseconds of a decision, or once the Enter key is up
# (it waits at most 1 s for that): this is only reached by an overlay that hangs.
CLEAR_TIMEOUT_S = 5.0
_NONE, _POINTER_ROOT = 0, 1


class OverlayWatch(Protocol):
    """What the daemon asks about the overlay's windows on the agent's display."""

    def under(self, ev: InputEvent) -> bool:
        """Observer thread: is the pointer that produced ``ev`` on an overlay window?"""
        ...

    def remember_focus(self) -> None:
        """A review opens: note who has the keyboard focus, to give it back afterwards."""
        ...

    def clear(self) -> bool:
        """Cheap, no I/O: nothing is mapped and no focus waits to be given back."""
        ...

    def wait_clear(self, timeout: float = CLEAR_TIMEOUT_S) -> bool:
        """Block until no overlay window is mapped (focus given back); False on timeout.
        It asks the X server itself (one round trip), so a window mapped just before the
        call counts, even one the watch had not heard of yet."""
        ...

    def close(self) -> None: ...


class NoOverlay:
    """No overlay on this display (``--no-overlay``, tests, other platforms): always clear."""

    def under(self, ev: InputEvent) -> bool:
        return False

    def remember_focus(self) -> None:
        return None

    def clear(self) -> bool:
        return True

    def wait_clear(self, timeout: float = CLEAR_TIMEOUT_S) -> bool:
        return True

    def close(self) -> None:
        return None


class OverlayClearance:
    """The overlay's windows on one X display, watched through the server itself.

    ``window_of`` is the input backend's "top-level window under this event's
    pointer" (one XIQueryPointer round trip on the observer's own connection); the
    intervention asks only while a toast is up (or due) or an overlay window is mapped,
    and no action runs: an idle desktop's motion costs nothing, and no agent primitive
    waits on it.
    """

    def __init__(
        self,
        display_name: str | None,
        window_of: Callable[[InputEvent], int | None],
        wm_class: str = OVERLAY_WM_CLASS,
    ) -> None:
        from capture.window_watch import WindowWatch  # X11 only: imported when used

        self._watch = WindowWatch(display_name, wm_class)
        self._window_of = window_of
        self._focus_before: int | None = None
        self._maps_seen = 0  # maps of overlay windows whose focus was dealt with

    def under(self, ev: InputEvent) -> bool:
        mapped = self._watch.mapped()
        window = self._window_of(ev)
        if window is None:
            return False
        if window in mapped:
            return True
        # The person's hand may reach a toast whose MapNotify the watch thread has not
        # handled yet (another connection, another thread): ask about that window itself
        # (once per window: cached). Only the observer pays, and only while no action runs.
        return self._watch.is_ours(window)

    def remember_focus(self) -> None:
        focus = self._watch.focus()
        if focus in (_NONE, _POINTER_ROOT) or self._watch.is_root(focus):
            return  # nobody in particular has it: nothing to give back
        if not self._watch.has_class(focus):  # the overlay itself, for a review behind another
            self._focus_before = focus

    def clear(self) -> bool:
        return not self._watch.mapped() and self._watch.maps == self._maps_seen

    def wait_clear(self, timeout: float = CLEAR_TIMEOUT_S) -> bool:
        # An overlay window mapped a moment ago (the next review, shown as the last one's
        # action ended) is on the server before its MapNotify reaches the watch thread:
        # catch up with the server first, or the action's input lands on that window.
        if not self._watch.settle(timeout):
            log.warning("the overlay's window watch did not catch up with the X server")
            return False
        maps = self._watch.maps
        if not self._watch.wait_none(timeout):
            log.warning("the overlay still covers the screen after %.1f s", timeout)
            return False
        before = self._focus_before
        focus = self._watch.focus()
        # Unmapping the focused overlay window reverts the focus to the root (or to
        # nothing): give it back to whoever had it. A focus somewhere else was put there
        # by a window manager or the person, and stays.
        if before is not None and (focus in (_NONE, _POINTER_ROOT) or self._watch.is_root(focus)):
            self._watch.give_focus(before)
        self._maps_seen = maps
        return True

    def close(self) -> None:
        self._watch.close()


def not_clear(action_id: str, action: Action, control: Control) -> Outcome:
    """The outcome of an action that did not run because the overlay stayed on the screen."""
    return Outcome(
        id=action_id,
        action=action.action,
        status="error",
        control=control,
        space="agent",
        detail=f"the review overlay still covered the screen after {CLEAR_TIMEOUT_S:g} s, so the "
        "action did not run (its input would have gone to the overlay); propose it again",
    )
