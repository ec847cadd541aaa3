"""The control state machine: who drives the desktop now, ``agent``, ``human`` or ``stopped``.

The observer thread calls :meth:`Intervention.on_input` for every input event that is
not ours. The first thing it does is set ``yield_event``: the executor checks that
flag before every primitive (and sleeps on it between primitives), so it stops at
once. Everything else (bookkeeping, activity summary, notifications) comes after.

- any human or foreign input while ``agent`` -> ``human``;
- ``human`` -> ``agent`` after ``resume_after`` seconds without input and with no key
  or button of the person's still held;
- the kill-switch hotkey -> ``stopped`` from any state; only an explicit resume (the
  hotkey again, the CLI or the API) leaves ``stopped``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from capture.input import InputEvent, Kind, Origin
from capture.input.keys import char_for_keysym, is_modifier, name_for_keysym, parse_combo
from daemon.control.clearance import NoOverlay, OverlayWatch
from daemon.outcomes import Control, HumanActivity, HumanClick

# Left and right variants count as the same modifier for the hotkey.
_SAME = {
    0xFFE4: 0xFFE3,  # Control_R -> Control_L
    0xFFE2: 0xFFE1,  # Shift_R -> Shift_L
    0xFFEA: 0xFFE9,  # Alt_R -> Alt_L
    0xFFEC: 0xFFEB,  # Super_R -> Super_L
    0xFFE8: 0xFFE7,  # Meta_R -> Meta_L
}
_SHIFTS = {0xFFE1, 0xFFE2}

DEFAULT_KILL_SWITCH = "ctrl+alt+End"
REVIEW_SETTLE_S = 0.5  # motion right after a review closes is the same hand, not a takeover

Listener = Callable[[str, dict[str, Any]], None]


@dataclass
class _Activity:
    started: float
    clicks: list[HumanClick] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    motions: int = 0
    stopped_by: str | None = None  # the first stop in this spell away from the agent

    def freeze(self, now: float) -> HumanActivity:
        return HumanActivity(
            seconds=round(now - self.started, 3),
            clicks=tuple(self.clicks),
            text="".join(self.text),
            keys=tuple(self.keys),
            motions=self.motions,
            stopped_by=self.stopped_by,
        )


class Intervention:
    """Thread-safe state; ``on_input`` runs on the observer thread."""

    def __init__(
        self,
        *,
        resume_after: float = 2.0,
        kill_switch: str = DEFAULT_KILL_SWITCH,
        keysym_of: Callable[[int, bool], int] = lambda code, shifted: 0,
        pointer_of: Callable[[InputEvent], tuple[int, int] | None] = lambda ev: None,
        after_observed: Callable[[Callable[[], None]], None] = lambda fn: fn(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resume_after = resume_after
        self.kill_switch = kill_switch
        self._hotkey = frozenset(_SAME.get(k, k) for k in parse_combo(kill_switch).keysyms)
        self._keysym_of = keysym_of
        self._pointer_of = pointer_of
        # the input backend's: runs a callback once the observer caught up with the input
        # that reached us so far (capture.input.InputBackend.after_observed)
        self._after_observed = after_observed
        self._clock = clock
        self.yield_event = threading.Event()
        self._state: Control = "agent"
        self._cond = threading.Condition()
        self._last_input = 0.0
        self._since = clock()
        self._held_keys: dict[int, int] = {}  # keycode -> keysym, the person's
        self._held_buttons: set[int] = set()
        self._hotkey_release: set[int] = set()
        self._reviews_open = 0
        self._toasts = 0  # undo windows (grace toasts) the gate has put up
        self.executing = False  # set by the executor while it runs an action
        self._review_held: set[tuple[bool, int]] = set()  # (is a key, code) pressed for a review
        self._settle_until = 0.0
        # the overlay's windows on this display; serve installs the real watch
        self.overlay: OverlayWatch = NoOverlay()
        self._activity: _Activity | None = None
        self._summary: HumanActivity | None = None
        self.takeover_id: str | None = None
        self.takeovers = 0
        self.listeners: list[Listener] = []
        # the input that is not ours, after the state changed, with whether it is the
        # person's own (False: review input and the kill switch's key, seen for positions and
        # held buttons, never recorded): what `serve --shadow` records and what a question
        # answered by a takeover shows (daemon/ask/takeover.py); the agent's never arrives
        self.taps: list[Callable[[InputEvent, bool], None]] = []
        self._closed = False
        self._timer = threading.Thread(target=self._resume_loop, name="driverseat-resume", daemon=True)
        self._timer.start()

    # -- reading -------------------------------------------------------------------------
    @property
    def state(self) -> Control:
        return self._state

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            now = self._clock()
            idle = now - self._last_input if self._last_input else None
            return {
                "control": self._state,
                "since_s": round(now - self._since, 3),
                "idle_s": None if idle is None else round(idle, 3),
                "resume_after_s": self.resume_after,
                "kill_switch": self.kill_switch,
                "takeovers": self.takeovers,
                "takeover_id": self.takeover_id,
                "person_holding": bool(self._held_keys or self._held_buttons),
            }

    @property
    def summary_waiting(self) -> bool:
        """Whether the next outcome will carry a takeover's summary (and a fresh screenshot)."""
        return self._summary is not None

    def take_summary(self) -> HumanActivity | None:
        """What the person did in the last takeover, once (for the next outcome)."""
        with self._cond:
            s, self._summary = self._summary, None
            return s

    def why_not_agent(self) -> str:
        with self._cond:
            if self._state == "stopped":
                return (
                    f"driverseat is stopped (kill switch {self.kill_switch} or a stop request); "
                    "it waits for an explicit resume"
                )
            return (
                "a person is using the mouse or keyboard; control returns to the agent after "
                f"{self.resume_after:g} s without their input"
            )

    # -- the hot path (observer thread) ------------------------------------------------------
    def on_input(self, ev: InputEvent) -> None:
        if ev.origin is Origin.OURS:
            return
        if ev.kind is Kind.KEY_UP and ev.code in self._hotkey_release:
            # letting go of the kill-switch chord is part of the chord, not a takeover
            self._hotkey_release.discard(ev.code)
            self._held_keys.pop(ev.code, None)
            self._tap(ev, True)
            return
        # Reaching for the overlay's own window (the grace toast's Cancel) is review input.
        # Asked before the yield flag is set, which costs one round trip, and only while a
        # toast is up (or due: its window may not be seen mapped yet) or an overlay window
        # is mapped, and no action runs: no agent primitive can go out meanwhile, because
        # send_guarded waits for the observer to finish this event.
        on_overlay = (
            not self._reviews_open
            and ev.kind in (Kind.BUTTON_DOWN, Kind.MOTION)
            and not self.executing
            and (self._toasts > 0 or not self.overlay.clear())
            and self.overlay.under(ev)
        )
        reviewing = (
            on_overlay
            or self._reviews_open
            or self._review_held
            or ev.received < self._settle_until
        )
        if reviewing and self._review_input(ev, on_overlay):
            self._tap(ev, False)
            return
        if self._state == "agent":
            self.yield_event.set()  # first: the executor stops before its next primitive
        with self._cond:
            self._last_input = ev.received
            changed = None
            if self._state == "agent":
                changed = self._enter("human", ev)
            if self._activity is None and self._state == "human":
                self._activity = _Activity(self._clock())
            toggled = self._track(ev)
            if toggled:
                changed = self._enter("agent" if self._state == "stopped" else "stopped", ev) or changed
            self._cond.notify_all()
        if changed:
            self._emit(*changed)
        self._tap(ev, not toggled)  # the kill switch's own key is no demonstration

    def _tap(self, ev: InputEvent, person: bool) -> None:
        """Hand input that is not ours to the recorder: ``person`` False for review input
        and the kill switch's key (seen for positions and held buttons, never recorded)."""
        for tap in self.taps:
            tap(ev, person)

    # -- reviews: input given to an open review is review input, not a takeover ----------------
    def review_opened(self) -> None:
        """A review is on the person's screen: their input now answers it."""
        self.overlay.remember_focus()  # before the overlay hears of it and takes the focus
        with self._cond:
            self._reviews_open += 1

    def toast_opened(self) -> None:
        """An undo window is up: a hand reaching it is review input (the pointer is asked)."""
        with self._cond:
            self._toasts += 1

    # A review or a toast closes because of a person's input (the Enter, the click on Cancel)
    # that the overlay saw: the observer, which may lag behind it on a busy machine, sees it
    # too, and must see it as review input. So the close counts once the observer caught up.
    def toast_closed(self) -> None:
        self._after_observed(self._toast_closed)

    def review_closed(self) -> None:
        self._after_observed(self._review_closed)

    def _toast_closed(self) -> None:
        with self._cond:
            self._toasts = max(0, self._toasts - 1)

    def _review_closed(self) -> None:
        with self._cond:
            self._reviews_open = max(0, self._reviews_open - 1)
            if not self._reviews_open:
                # the hand that just clicked "approve" is still on the mouse
                self._settle_until = self._clock() + REVIEW_SETTLE_S

    def _review_input(self, ev: InputEvent, on_overlay: bool = False) -> bool:
        """True if ``ev`` belongs to a review (and was handled: kill switch only).

        Letting go of what was pressed for a review, and the hand settling right after a
        decision, are never takeovers (the approved action starts within milliseconds of
        the Enter or the click). Anything else counts as review input only while no
        action runs: while the executor sends input, a press is a takeover, always.
        ``on_overlay``: the pointer is on an overlay window (a toast) with no review open.
        """
        key = (ev.kind in (Kind.KEY_DOWN, Kind.KEY_UP), ev.code)
        if ev.kind in (Kind.KEY_UP, Kind.BUTTON_UP) and key in self._review_held:
            self._review_held.discard(key)
            if not self._reviews_open and not self._review_held:
                # the hand that clicked the toast's Cancel moves away from it now
                self._settle_until = self._clock() + REVIEW_SETTLE_S
        elif ev.kind is Kind.MOTION and (on_overlay or ev.received < self._settle_until):
            pass
        elif (self._reviews_open or on_overlay) and not self.executing:
            if ev.kind in (Kind.KEY_DOWN, Kind.BUTTON_DOWN):
                self._review_held.add(key)
        else:
            return False
        with self._cond:
            # the kill switch works during reviews too; what is typed into a review or a
            # question (a reject reason, a secret) is never part of a takeover's summary
            toggled = self._track(ev, record=False)
            changed = (
                self._enter("agent" if self._state == "stopped" else "stopped", ev) if toggled else None
            )
            self._cond.notify_all()
        if changed:
            self._emit(*changed)
        return True

    def _track(self, ev: InputEvent, *, record: bool = True) -> bool:
        """Record the person's input (in the activity summary unless ``record`` is False);
        True when the kill-switch chord completes."""
        act = self._activity if record else None
        if ev.kind is Kind.KEY_DOWN:
            ks = self._keysym_of(ev.code, bool(_SHIFTS & set(self._held_keys.values())))
            self._held_keys[ev.code] = ks
            held = {_SAME.get(k, k) for k in self._held_keys.values()}
            if self._hotkey <= held and _SAME.get(ks, ks) in self._hotkey:
                self._hotkey_release = set(self._held_keys)
                return True
            if act is not None:
                mods = [k for k in self._held_keys.values() if is_modifier(k) and k not in _SHIFTS]
                ch = char_for_keysym(ks)
                if ch is not None and not mods:
                    act.text.append(ch)
                elif not is_modifier(ks):
                    act.keys.append("+".join([name_for_keysym(m) for m in mods] + [name_for_keysym(ks)]))
        elif ev.kind is Kind.KEY_UP:
            self._held_keys.pop(ev.code, None)
        elif ev.kind is Kind.BUTTON_DOWN:
            self._held_buttons.add(ev.code)
            if act is not None:
                pos = self._pointer_of(ev)
                act.clicks.append(
                    HumanClick(x=pos[0] if pos else None, y=pos[1] if pos else None, button=ev.code)
                )
        elif ev.kind is Kind.BUTTON_UP:
            self._held_buttons.discard(ev.code)
        elif act is not None:
            act.motions += 1
        return False

    # -- transitions ----------------------------------------------------------------------
    def _enter(self, state: Control, ev: InputEvent | None, *, by: str = "input") -> tuple[str, dict[str, Any]] | None:
        """Caller holds the lock. Returns the event to emit (after the lock is released)."""
        old = self._state
        if old == state:
            return None
        now = self._clock()
        payload: dict[str, Any] = {"from": old, "to": state, "by": by}
        if state == "agent":
            if self._activity is not None:
                self._summary = self._activity.freeze(now)
                payload["human_activity"] = self._summary.model_dump()
            self._activity = None
            self._held_keys.clear()
            self._held_buttons.clear()
            self._state = state
            self.yield_event.clear()
        else:
            self.yield_event.set()
            self._state = state
            if old == "agent":
                self.takeovers += 1
                self.takeover_id = uuid.uuid4().hex
                if self._activity is None:
                    self._activity = _Activity(now)
            if state == "stopped" and self._activity is not None and self._activity.stopped_by is None:
                # input that stops is the kill-switch chord; anything else names itself
                self._activity.stopped_by = "kill_switch" if by == "input" else by
            if ev is not None:
                payload["origin"] = ev.origin.value
                payload["device"] = ev.device
        payload["takeover_id"] = self.takeover_id
        self._since = now
        return "control", payload

    def stop(self, by: str = "api") -> None:
        with self._cond:
            changed = self._enter("stopped", None, by=by)
            self._cond.notify_all()
        if changed:
            self._emit(*changed)

    def resume(self, by: str = "api") -> None:
        """Explicit resume: back to ``agent`` from ``stopped`` or ``human``."""
        with self._cond:
            changed = self._enter("agent", None, by=by)
            self._last_input = 0.0
            self._cond.notify_all()
        if changed:
            self._emit(*changed)

    def _resume_loop(self) -> None:
        with self._cond:
            while not self._closed:
                if self._state != "human":
                    self._cond.wait()
                    continue
                if self._held_keys or self._held_buttons:
                    self._cond.wait()  # the person still holds something: wait for release
                    continue
                left = self._last_input + self.resume_after - self._clock()
                if left > 0:
                    self._cond.wait(left)
                    continue
                changed = self._enter("agent", None, by="idle")
                if changed:
                    self._cond.release()
                    try:
                        self._emit(*changed)
                    finally:
                        self._cond.acquire()

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(kind, payload)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._timer.join(timeout=2)
