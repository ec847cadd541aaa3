"""`kill -9` of a real `driverseat serve` mid-drag and mid-`hold_key` leaves nothing held.

The daemon's hold guard (capture/input/guard.py) sees its pipe close whatever killed
the daemon and lets go of what the daemon held. These tests kill a real serve process
with SIGKILL while it holds a button or a key, and poll (bounded) until XQueryKeymap
shows no key down and the pointer's button mask is empty; the time it took is printed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from Xlib import XK, display

from tests.daemon.live import poll
from tests.e2e.live_daemon import Daemon
from tests.x11.held import buttons, ended, key_down, keys_down, nothing_held
from tests.x11.human import SimulatedHuman

pytestmark = pytest.mark.x11

POLICY = '[defaults]\ntier = "auto"\n'


@pytest.fixture
def core(xserver: str) -> Iterator[display.Display]:
    """A plain client: XQueryKeymap and XQueryPointer of the core devices driverseat drives."""
    d = display.Display(xserver)
    yield d
    d.close()


@pytest.fixture
def served(xserver: str, tmp_path: Path) -> Iterator[Daemon]:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    d = Daemon(xserver, tmp_path / "data", policy)
    try:
        yield d
    finally:
        d.close()


def guard_pid(d: Daemon) -> int:
    return int(d.out.wait_line(r"guard: +started \(pid (\d+)\)", 10).group(1))


def kill9_and_measure(d: Daemon, core: display.Display) -> float:
    """SIGKILL the daemon; ms until nothing is held (AssertionError after 2 s)."""
    t0 = time.perf_counter()
    os.kill(d.proc.pid, signal.SIGKILL)
    released = poll(lambda: nothing_held(core), timeout=2, every=0.001)
    ms = 1e3 * (time.perf_counter() - t0)
    assert released, (
        f"still held 2 s after kill -9: keys {keys_down(core)}, buttons {buttons(core):#x}"
    )
    d.proc.wait(timeout=10)
    return ms


@pytest.mark.parametrize("overlay", [False, True], ids=["no-overlay", "with-overlay"])
def test_kill9_mid_drag_leaves_no_button_held(
    xserver: str, tmp_path: Path, core: display.Display, overlay: bool
) -> None:
    # with the overlay too: a child that outlives the daemon must not keep the guard's
    # pipe open (it would never see EOF)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    served = Daemon(xserver, tmp_path / "data", policy, overlay=overlay)
    overlay_pid = None
    try:
        if overlay:
            overlay_pid = int(served.out.wait_line(r"overlay: +started \(pid (\d+)\)", 30).group(1))
        r = served.http.post("/v1/actions", json={"action": "mouse_down", "x": 100, "y": 100})
        assert r.status_code == 200 and r.json()["status"] == "executed", r.text
        start_x = core.screen().root.query_pointer().root_x
        served.post_later(
            "/v1/actions", {"action": "drag", "path": [[100, 100], [1200, 700]], "duration": 10}
        )
        # the drag is under way: the pointer has moved on, the button still down
        assert poll(lambda: core.screen().root.query_pointer().root_x > start_x + 20, timeout=10)
        assert buttons(core) == 0x100
        ms = kill9_and_measure(served, core)
        print(
            f"\nkill -9 mid-drag ({'with' if overlay else 'no'} overlay): nothing held {ms:.1f} ms after"
        )
    finally:
        if overlay_pid is not None and not ended(overlay_pid):
            # it outlives the daemon it was started by, holding the daemon's stderr open:
            # stopped first, so that the stderr reader sees the end
            os.kill(overlay_pid, signal.SIGTERM)
            poll(lambda: ended(overlay_pid), timeout=10)
        served.close()


def test_kill9_mid_hold_key_releases_it_and_the_persons_same_key_stays_down(
    served: Daemon, core: display.Display, human: SimulatedHuman
) -> None:
    shift = core.keysym_to_keycode(XK.XK_Shift_L)
    human.key_down("Shift_L")  # the person holds Shift on their own keyboard
    try:
        # the person's press took control; hand it back while they still hold the key
        assert poll(lambda: served.http.get("/v1/state").json()["control"] == "human", timeout=5)
        assert served.http.post("/v1/control/resume").status_code == 200
        served.post_later("/v1/actions", {"action": "hold_key", "keys": "shift", "duration": 10})
        assert poll(lambda: key_down(core, shift), timeout=10), "the daemon never held shift"
        ms = kill9_and_measure(served, core)
        print(f"\nkill -9 mid-hold_key: nothing held {ms:.1f} ms after the signal")
        # the simulated person's connection reads its own master keyboard
        assert key_down(human.d, shift), "the guard let go of the person's Shift"
    finally:
        human.key_up("Shift_L")


def test_a_dead_guard_is_logged_once_and_the_daemon_carries_on(served: Daemon) -> None:
    pid = guard_pid(served)
    os.kill(pid, signal.SIGKILL)
    assert poll(lambda: ended(pid), timeout=5)
    for text in ("ab", "cd"):
        r = served.http.post("/v1/actions", json={"action": "type", "text": text})
        assert r.status_code == 200 and r.json()["status"] == "executed", r.text
    served.out.wait_line(r"hold guard is gone", 5)
    assert len([line for line in served.out.lines if "hold guard is gone" in line]) == 1
    assert served.http.get("/v1/state").json()["control"] == "agent"


def test_a_clean_shutdown_says_goodbye_and_the_guard_releases_nothing(served: Daemon) -> None:
    pid = guard_pid(served)
    r = served.http.post("/v1/actions", json={"action": "type", "text": "x"})
    assert r.status_code == 200 and r.json()["status"] == "executed", r.text
    served.kill(signal.SIGTERM)
    assert served.proc.returncode == 0
    assert poll(lambda: ended(pid), timeout=5), "the guard outlived a clean shutdown"
    assert not [line for line in served.out.lines if line.startswith("driverseat guard:")]
