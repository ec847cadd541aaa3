"""``driverseat record`` keeps no password, nothing of a private window, and resolves dead
keys and compose sequences in typed text (a keymap with dead keys on the test display)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from Xlib import XK, X, Xatom, display

from daemon.commentary import MASK
from tests.daemon.live import poll
from tests.shadow.test_record_x11 import Recorder, Typist, active_target, recorded
from tests.x11.a11y import AccessibilityBus, Zenity
from tests.x11.human import SimulatedHuman
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11
__all__ = ["active_target"]  # a fixture of test_record_x11, used here


def _set_title(xserver: str, window: int, title: str) -> None:
    d = display.Display(xserver)
    try:
        win = d.create_resource_object("window", window)
        win.change_property(d.intern_atom("_NET_WM_NAME"), d.intern_atom("UTF8_STRING"), 8,
                            title.encode())  # fmt: skip
        win.change_property(Xatom.WM_NAME, Xatom.STRING, 8, title.encode("latin-1"))
        d.sync()
    finally:
        d.close()


def _stopped(rec: Recorder) -> None:
    code, _ = rec.stop()
    assert code == 0, rec.lines


def test_a_private_window_pauses_recording_by_itself(
    active_target: TargetWindow, xserver: str, human: SimulatedHuman, tmp_path: Path
) -> None:
    window = int(active_target.info["window"])
    _set_title(xserver, window, "Notes")
    rec = Recorder(xserver, tmp_path, "private")
    try:
        human.click(600, 300)
        assert poll(lambda: len(recorded(tmp_path, "private")) == 1, 10)
        _set_title(xserver, window, "Vault.kdbx - KeePassXC")
        human.click(900, 600)
        for ch in "master":
            human.tap(ch)
        human.combo("Control_L", "s")
        _stopped(rec)
    finally:
        if rec.proc.poll() is None:
            rec.proc.kill()
    rows = recorded(tmp_path, "private")
    assert [(r["action"]["action"], r["window"]) for r in rows] == [("click", "Notes")]
    db = b"".join(p.read_bytes() for p in tmp_path.glob("driverseat.db*"))
    assert b"master" not in db


@pytest.fixture
def dialogs(a11y_bus: AccessibilityBus) -> Iterator[list[Zenity]]:
    opened: list[Zenity] = []
    yield opened
    for z in opened:
        z.close()


def _type_into(a11y_bus: AccessibilityBus, dialogs: list[Zenity], *args: str) -> None:
    z = Zenity(a11y_bus, *args)
    dialogs.append(z)
    with a11y_bus.lookup() as a11y:
        z.wait_for(a11y, lambda lookup: lookup.focused())  # up, and given the keyboard focus


def test_a_password_field_is_recorded_masked(
    a11y_bus: AccessibilityBus, dialogs: list[Zenity], xserver: str, human: SimulatedHuman, tmp_path: Path
) -> None:
    _type_into(a11y_bus, dialogs, "--password", "--title", "Unlock")
    rec = Recorder(xserver, tmp_path, "pw")
    try:
        for ch in "hunter":
            human.tap(ch)
        assert poll(lambda: len(recorded(tmp_path, "pw")) == 1, 10)  # the burst's pause ended it
        dialogs.pop().close()
        _type_into(a11y_bus, dialogs, "--entry", "--title", "Name", "--text", "Your name")
        for ch in "plain":
            human.tap(ch)
        _stopped(rec)
    finally:
        if rec.proc.poll() is None:
            rec.proc.kill()
    rows = recorded(tmp_path, "pw")
    assert [r["action"] for r in rows] == [
        {"action": "type", "text": MASK, "space": "screen", "steps": []},
        {"action": "type", "text": "plain", "space": "screen", "steps": []},
    ]
    db = b"".join(p.read_bytes() for p in tmp_path.glob("driverseat.db*"))
    assert b"hunter" not in db


class DeadKeys(Typist):
    """The Typist's keymap, with dead keys and Compose on spare keycodes (as xmodmap's
    ``keycode N = dead_acute`` does, on the person's keyboard and the core one)."""

    def keysym(self, ks: int) -> int:
        code = int(self.spare.pop(0))
        for conn in (self.h.d, self.core):
            conn.change_keyboard_mapping(code, [(ks, ks) + (0,) * (self.per - 2)])
            conn.sync()
        self.remapped.append(code)
        return code

    def press(self, code: int) -> None:
        self.h._send(X.KeyPress, code)
        self.h._send(X.KeyRelease, code)


def test_dead_keys_and_compose_resolve_in_typed_text(
    xserver: str, human: SimulatedHuman, tmp_path: Path
) -> None:
    keys = DeadKeys(human, xserver)
    try:
        acute = keys.keysym(XK.string_to_keysym("dead_acute"))
        diaeresis = keys.keysym(XK.string_to_keysym("dead_diaeresis"))
        compose = keys.keysym(XK.string_to_keysym("Multi_key"))
        rec = Recorder(xserver, tmp_path, "dead")
        try:
            keys.type("caf")
            keys.press(acute)
            keys.type("e ")
            keys.press(diaeresis)
            keys.type("U")  # shift + dead key's letter: a capital
            keys.type("ber ")
            keys.press(compose)
            keys.type('o"l')
            _stopped(rec)
        finally:
            if rec.proc.poll() is None:
                rec.proc.kill()
    finally:
        keys.restore()
    rows = recorded(tmp_path, "dead")
    assert [r["action"].get("text") for r in rows] == ["café Über öl"]
