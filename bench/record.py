"""What recording the person costs: throughput, CPU, storage, memory.

Starts its own Xvfb (1920x1080), a simulated person (tests/x11/human.py) and a window
whose content changes with every action (so frames differ as on a real desktop), and
runs ``driverseat record`` as a child process, measured from /proc:

- throughput: motion at the person's fastest with a click every 50 motions and a key
  every 25, as many events as --burst; ``dropped`` = events sent - events the recorder
  saw (its summary line counts them);
- ordinary use for --seconds: an action about every 2 s (--think 1.5 s plus the
  pointer's travel; clicks, typed words, a scroll, a drag, ctrl+s) with the pointer moving between them at ~60 Hz;
  ``cpu_share`` = the recorder's CPU time / wall time (of one core), ``rss_mb`` sampled
  every 10 s (first sample after 10 s, the warm-up), ``storage_mb_per_min`` = frames +
  database growth per minute.

- latency to ``WS /v1/events``: ``driverseat serve --shadow`` on the same display, a
  subscriber, the person pressing ctrl+s (--trials times): from the key's XTest send
  (synced) to the ``shadow_action`` message's arrival (``ws_latency_ms``); and for clicks,
  from the release, which includes the double-click time the merger must wait to know a
  single click (``ws_click_latency_ms``).

Prints one JSON line. Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from Xlib import X, display

from capture.xvfb import VirtualDisplay
from tests.x11.human import SimulatedHuman

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else 0.0


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Canvas:
    """A window that paints a new rectangle on demand: the screen changes like an app's."""

    def __init__(self, name: str) -> None:
        self.d = display.Display(name)
        s = self.d.screen()
        self.win = s.root.create_window(0, 0, 1920, 1080, 0, s.root_depth, X.InputOutput,
                                        X.CopyFromParent, background_pixel=s.white_pixel,
                                        override_redirect=True)  # fmt: skip
        self.win.map()
        self.gc = self.win.create_gc(foreground=0)
        self.d.sync()
        self.rng = random.Random(1)

    def paint(self) -> None:
        self.gc.change(foreground=self.rng.randrange(0xFFFFFF))
        x, y = self.rng.randrange(1700), self.rng.randrange(900)
        self.win.fill_rectangle(self.gc, x, y, self.rng.randrange(20, 220), self.rng.randrange(10, 60))
        self.d.sync()


class Child:
    def __init__(self, xserver: str, data: Path, session: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "record", "--session", session, "--display", xserver,
             "--data-dir", str(data)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        assert self.proc.stderr is not None
        self.first = self.proc.stderr.readline()
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return out.strip()


def events_of(summary: str) -> int:
    m = re.search(r"\((\d+) input events\)", summary)
    return int(m.group(1)) if m else -1


def throughput(name: str, h: SimulatedHuman, data: Path, burst: int) -> dict[str, object]:
    child = Child(name, data, "burst")
    sent = 0
    t0 = time.perf_counter()
    kc = h.keycode("a")
    while sent < burst:
        h.move(100 + sent % 1500, 100 + (sent * 7) % 800)
        sent += 1
        if sent % 50 == 0:
            h.press(1)
            h.release(1)
            sent += 2
        if sent % 25 == 0:
            h._send(X.KeyPress, kc)
            h._send(X.KeyRelease, kc)
            sent += 2
    elapsed = time.perf_counter() - t0
    summary = child.stop()
    seen = events_of(summary)
    return {"events": sent, "rate_per_s": round(sent / elapsed, 1), "seen": seen, "dropped": sent - seen}


def ordinary(
    name: str, h: SimulatedHuman, canvas: Canvas, data: Path, seconds: float, args_think: float
) -> dict[str, object]:
    child = Child(name, data, "ordinary")
    pid = child.proc.pid
    rng = random.Random(2)
    start = time.monotonic()
    cpu0 = cpu_seconds(pid)
    rss: list[float] = []
    next_rss = start + 10
    x, y = 500, 500
    while time.monotonic() - start < seconds:
        # move to the next target at ~60 Hz, then act
        tx, ty = rng.randrange(50, 1870), rng.randrange(50, 1030)
        for i in range(1, 21):
            h.move(x + (tx - x) * i // 20, y + (ty - y) * i // 20)
            time.sleep(1 / 60)
        x, y = tx, ty
        kind = rng.choice(["click", "click", "type", "scroll", "drag", "combo"])
        if kind == "click":
            h.click(x, y)
        elif kind == "type":
            for ch in rng.choice(["hello", "invoice", "total", "report"]):
                h.tap(ch)
                time.sleep(0.05)
        elif kind == "scroll":
            for _ in range(3):
                h.press(5)
                h.release(5)
        elif kind == "drag":
            h.press(1)
            for i in range(10):
                h.move(x + 10 * i, y + 5 * i)
                time.sleep(1 / 60)
            h.release(1)
        else:
            h.combo("Control_L", "s")
        canvas.paint()
        time.sleep(args_think)  # a person looks before the next action
        if time.monotonic() >= next_rss:
            rss.append(round(rss_mb(pid), 1))
            next_rss += 10
    wall = time.monotonic() - start
    cpu = cpu_seconds(pid) - cpu0
    summary = child.stop()
    m = re.match(r"recorded (\d+) action", summary)
    return {
        "seconds": round(wall, 1),
        "actions": int(m.group(1)) if m else -1,
        "cpu_share": round(cpu / wall, 4),
        "rss_mb": rss,
        "rss_growth_mb": round(rss[-1] - rss[0], 1) if len(rss) > 1 else None,
        "actions_per_min": round((int(m.group(1)) if m else 0) / (wall / 60), 1),
        "storage_mb_per_min": round(du(data) / 1e6 / (wall / 60), 3),
        "kb_per_action": round(du(data) / 1e3 / max(1, int(m.group(1)) if m else 1), 1),
    }


def ws_latency(name: str, h: SimulatedHuman, data: Path, trials: int) -> dict[str, object]:
    import statistics

    from websockets.sync.client import connect

    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon.cli", "serve", "--display", name, "--port", "0", "--policy", "off",
         "--no-overlay", "--data-dir", str(data), "--shadow", "latency", "--resume-after", "0.2"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.stderr is not None
    url = ""
    for line in proc.stderr:
        if m := re.search(r"API: +(http://\S+)", line):
            url = m.group(1)
        if line.startswith("shadowing:"):
            break
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    token = (data / "token").read_text().strip()
    keys: list[float] = []
    clicks: list[float] = []
    try:
        with connect(url.replace("http", "ws", 1) + f"/v1/events?token={token}") as ws:

            def wait_for(kind: str) -> float:
                while True:
                    msg = json.loads(ws.recv(timeout=10))
                    if msg["type"] == "shadow_action" and msg["action"]["action"] == kind:
                        return time.perf_counter()

            for i in range(trials):
                h.key_down("Control_L")
                t0 = h.key_down("s")
                h.key_up("s")
                h.key_up("Control_L")
                keys.append((wait_for("key") - t0) * 1000)
                h.move(300 + 40 * (i % 20), 300 + 20 * (i % 20))
                h.press(1)
                t0 = h.release(1)
                clicks.append((wait_for("click") - t0) * 1000)
                time.sleep(0.3)  # the person looks before the next action
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    def spread(xs: list[float]) -> dict[str, float]:
        s = sorted(xs)
        return {"median": round(statistics.median(s), 1), "p90": round(s[int(0.9 * (len(s) - 1))], 1),
                "max": round(s[-1], 1)}  # fmt: skip

    return {"trials": trials, "ws_latency_ms": spread(keys), "ws_click_latency_ms": spread(clicks)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--burst", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--think", type=float, default=1.5, help="seconds between actions")
    p.add_argument("--trials", type=int, default=30, help="actions timed to WS /v1/events")
    args = p.parse_args()
    with VirtualDisplay(1920, 1080) as vd, tempfile.TemporaryDirectory() as tmp:
        keep = display.Display(vd.name)
        h = SimulatedHuman(vd.name)
        canvas = Canvas(vd.name)
        burst = throughput(vd.name, h, Path(tmp) / "burst", args.burst)
        use = ordinary(vd.name, h, canvas, Path(tmp) / "ordinary", args.seconds, args.think)
        (Path(tmp) / "latency").mkdir()
        latency = ws_latency(vd.name, h, Path(tmp) / "latency", args.trials)
        h.close()
        keep.close()
    print(json.dumps({
        "bench": "record", "screen": "1920x1080", "throughput": burst, "ordinary_use": use,
        "events_ws": latency,
        "goal": {"rate_per_s": 500, "dropped": 0, "cpu_share": 0.10, "storage_mb_per_min": 3.0,
                 "rss_growth_mb": 0, "ws_latency_ms": 50},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
