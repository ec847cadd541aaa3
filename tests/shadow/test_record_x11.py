"""``driverseat record`` under Xvfb with the simulated person and a real target window,
and agent traffic through a Runtime on the same display at the same time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from Xlib import XK, X, Xatom, display

from daemon.actions import Click, Drag, Key, Scroll, Type
from daemon.control.runtime import Runtime
from daemon.shadow_store import ShadowStore
from daemon.store import Store
from tests.daemon.live import poll
from tests.x11.human import SimulatedHuman
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11
ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """``driverseat record`` as a child process; ``lines`` collects its stderr."""

    def __init__(self, xserver: str, data_dir: Path, session: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "record", "--session", session,
             "--display", xserver, "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not poll(lambda: any(ln.startswith("recording session") for ln in self.lines), 20):
            self.proc.kill()
            raise AssertionError(f"the recorder did not start: {self.lines}")

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=30)
        self._reader.join(timeout=5)
        return self.proc.returncode, out


@pytest.fixture
def active_target(target: TargetWindow, xserver: str) -> Iterator[TargetWindow]:
    """The target named as the active window, as a window manager would (no WM on Xvfb)."""
    d = display.Display(xserver)
    root = d.screen().root
    atom = d.intern_atom("_NET_ACTIVE_WINDOW")
    root.change_property(atom, Xatom.WINDOW, 32, [target.info["window"]])
    d.sync()
    yield target
    root.delete_property(atom)
    d.sync()
    d.close()


class Typist:
    """Types any character as the simulated person: unmapped ones on a spare keycode.

    Keymaps are per master device: the human master's mapping changes through its own
    connection, the core keyboard's (which the recorder reads, as it is the person's on
    a real desktop with one keyboard) through another. Both are set, as xdotool would on
    a desktop with one keyboard.
    """

    def __init__(self, human: SimulatedHuman, xserver: str) -> None:
        self.h = human
        self.core = display.Display(xserver)
        d = human.d
        lo, hi = d.display.info.min_keycode, d.display.info.max_keycode
        rows = d.get_keyboard_mapping(lo, hi - lo + 1)
        self.per = len(rows[0])
        self.spare = [lo + i for i, row in enumerate(rows) if not any(row)]
        self.remapped: list[int] = []

    def code(self, ch: str) -> tuple[int, bool]:
        ks = XK.XK_space if ch == " " else ord(ch)
        d = self.h.d
        code = int(d.keysym_to_keycode(ks))
        if code:
            return code, ks != int(d.keycode_to_keysym(code, 0))
        code = self.spare.pop(0)
        for conn in (d, self.core):
            conn.change_keyboard_mapping(code, [(ks, ks) + (0,) * (self.per - 2)])
            conn.sync()
        self.remapped.append(code)
        return code, False

    def type(self, text: str) -> None:
        shift = self.h.keycode("Shift_L")
        for ch in text:
            code, shifted = self.code(ch)
            if shifted:
                self.h._send(X.KeyPress, shift)
            self.h._send(X.KeyPress, code)
            self.h._send(X.KeyRelease, code)
            if shifted:
                self.h._send(X.KeyRelease, shift)

    def restore(self) -> None:
        for conn in (self.h.d, self.core):
            for code in self.remapped:
                conn.change_keyboard_mapping(code, [(0,) * self.per])
            conn.sync()
        self.core.close()


def scroll(h: SimulatedHuman, x: int, y: int, clicks: int) -> None:
    h.move(x, y)
    for _ in range(clicks):
        h.press(5)
        h.release(5)


def drag(h: SimulatedHuman, a: tuple[int, int], b: tuple[int, int], steps: int = 10) -> None:
    h.move(*a)
    h.press(1)
    for i in range(1, steps + 1):
        h.move(a[0] + (b[0] - a[0]) * i // steps, a[1] + (b[1] - a[1]) * i // steps)
    h.release(1)


def recorded(data_dir: Path, session: str) -> list[dict[str, Any]]:
    with Store(data_dir / "driverseat.db") as store:
        shadow = ShadowStore(store)
        info = shadow.session(session)
        assert info is not None
        return shadow.actions(info.id)


def near(got: Any, want: tuple[int, int]) -> bool:
    return abs(int(got[0]) - want[0]) <= 2 and abs(int(got[1]) - want[1]) <= 2


def test_scripted_session_recorded_and_exported_without_the_agent(
    xserver: str, human: SimulatedHuman, active_target: TargetWindow, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    rec = Recorder(xserver, data, "scripted")
    typist = Typist(human, xserver)
    agent_ran: list[str] = []
    try:
        with Runtime(display=xserver, resume_after=0.05) as rt:

            def agent(action: Any) -> None:
                # the person's last events may still be on their way to the runtime's
                # observer: an action they interrupt is tried again (what it injected
                # before the interruption must not be recorded either)
                for _ in range(20):
                    assert poll(lambda: rt.intervention.state == "agent", 5)
                    outcome = rt.run(action)
                    if outcome.status == "executed":
                        agent_ran.append(outcome.action)
                        return
                raise AssertionError(f"the agent never ran {action}: {outcome}")

            agent(Click(x=1500, y=900))
            human.click(200, 150)
            agent(Type(text="AGENT typed this"))
            human.click(400, 300)
            human.click(400, 300)
            agent(Drag(path=((1500, 200), (1700, 300)), duration=0.05))
            drag(human, (600, 400), (800, 500))
            agent(Key(keys="ctrl+a"))
            typist.type("hello wörld")
            agent(Scroll(x=1600, y=800, dy=4))
            human.combo("Control_L", "s")
            agent(Click(x=1400, y=100, count=2))
            scroll(human, 900, 600, 3)
            # the recorder has everything once the merged actions are stored; then stop it
            assert poll(lambda: (data / "driverseat.db").exists() and len(recorded(data, "scripted")) >= 6, 15)
        code, out = rec.stop()
    finally:
        typist.restore()
        if rec.proc.poll() is None:
            rec.proc.kill()
    assert len(agent_ran) == 6
    assert code == 0, rec.lines
    rows = recorded(data, "scripted")
    assert out.strip().startswith("recorded 6 action(s)"), (out, [(r["action"], r["origin"]) for r in rows])

    acts = [r["action"] for r in rows]
    assert [a["action"] for a in acts] == ["click", "click", "drag", "type", "key", "scroll"], acts
    click, double, dragged, typed, key, scrolled = acts
    assert near((click["x"], click["y"]), (200, 150)) and click["count"] == 1
    assert near((double["x"], double["y"]), (400, 300)) and double["count"] == 2
    assert near(dragged["path"][0], (600, 400)) and near(dragged["path"][-1], (800, 500))
    assert len(dragged["path"]) >= 5
    assert typed["text"] == "hello wörld"
    assert key["keys"] == "ctrl+s"
    assert near((scrolled["x"], scrolled["y"]), (900, 600)) and scrolled["dy"] == 3
    assert all(r["origin"] == "foreign" for r in rows)  # the simulated person is an XTEST master
    assert all(r["window"] == "driverseat-target" for r in rows)
    assert all(r["frame_before"] and (data / r["frame_before"]).is_file() for r in rows)
    assert rows[-1]["frame_after"] and (data / rows[-1]["frame_after"]).is_file()
    frames = {r["frame_before"] for r in rows}
    assert len(list((data / "shadow-frames").glob("*.png"))) == len(
        frames | {r["frame_after"] for r in rows if r["frame_after"]}
    )  # the same frame is never stored twice

    out_dir = tmp_path / "dataset"
    done = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "export", "--session", "scripted", "--format",
         "trajectory", "--out", str(out_dir), "--data-dir", str(data)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("exported 6 action(s) from 1 session(s)")
    lines = [json.loads(x) for x in (out_dir / "train" / "metadata.jsonl").read_text().splitlines()]
    assert [x["action_type"] for x in lines] == ["click", "click", "drag", "type", "key", "scroll"]
    assert lines[0]["pyautogui"] == f"pyautogui.click(x={click['x']}, y={click['y']})"
    assert abs(lines[0]["x_norm"] - 200 / 1920) < 0.002 and abs(lines[0]["y_norm"] - 150 / 1080) < 0.002
    assert lines[3]["pyautogui"] == "pyautogui.write('hello wörld')"
    assert lines[4]["pyautogui"] == "pyautogui.hotkey('ctrl', 's')"
    assert not any("AGENT" in (x["text"] or "") for x in lines)

    import datasets

    ds = datasets.load_dataset("imagefolder", data_dir=str(out_dir), split="train")
    assert ds.num_rows == 6
    assert ds[0]["image"].size == (1920, 1080)
    assert json.loads(ds[3]["action"])["text"] == "hello wörld"
    assert ds[2]["end_x"] == dragged["path"][-1][0]


def test_sigterm_mid_session_keeps_what_was_seen(
    xserver: str, human: SimulatedHuman, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    rec = Recorder(xserver, data, "cut")
    try:
        human.click(300, 300)
        human.tap("x")
        human.tap("y")
        human.click(700, 500)  # still waiting for a possible double click
        human.key_down("Shift_L")
        human.tap("z")  # an open typing burst when the signal comes
        code, out = rec.stop(signal.SIGTERM)
    finally:
        human.key_up("Shift_L")
        if rec.proc.poll() is None:
            rec.proc.kill()
    assert code == 0, rec.lines
    acts = [r["action"] for r in recorded(data, "cut")]
    got = [(a["action"], a.get("text"), a.get("x"), a.get("y")) for a in acts]
    assert got == [
        ("click", None, 300, 300), ("type", "xy", None, None), ("click", None, 700, 500),
        ("type", "Z", None, None),
    ], (got, rec.lines)  # fmt: skip
    assert out.startswith("recorded 4 action(s)")


def test_sigint_works_as_ctrl_c(xserver: str, human: SimulatedHuman, tmp_path: Path) -> None:
    rec = Recorder(xserver, tmp_path, "ctrl-c")
    human.click(50, 60)
    code, out = rec.stop(signal.SIGINT)
    assert code == 0
    assert out.startswith("recorded 1 action(s) in ") and "MB of frames" in out
    assert os.path.exists(tmp_path / "driverseat.db")


def test_pause_hotkey_keeps_what_is_typed_between_out(
    xserver: str, human: SimulatedHuman, tmp_path: Path
) -> None:
    rec = Recorder(xserver, tmp_path, "paused")
    try:
        for ch in "ab":
            human.tap(ch)
        human.combo("Control_L", "Alt_L", "p")
        for ch in "secret":
            human.tap(ch)
        human.click(10, 10)
        human.combo("Control_L", "Alt_L", "p")
        for ch in "ok":
            human.tap(ch)
        code, _ = rec.stop()
    finally:
        if rec.proc.poll() is None:
            rec.proc.kill()
    assert code == 0, rec.lines
    assert [r["action"].get("text") for r in recorded(tmp_path, "paused")] == ["ab", "ok"]
