"""What the hold guard costs per primitive, and how soon it lets go after a kill -9.

Starts its own Xvfb and measures:

- write: one ``GuardLink.pressing`` call (a 2-byte write to the guard's pipe), in us;
- send: ``XorgBackend.send`` of a key press and release pair, with and without the
  guard watching, in us per primitive (the executor's cost of telling the guard);
- kill9: ``driverseat serve`` (policy off, no overlay) holding a button (mouse_down) and
  Shift (hold_key) is killed with SIGKILL; ms from the signal until XQueryKeymap shows
  no key down and the pointer's button mask is empty (polled every 0.5 ms).

Prints one JSON line. Not a test: no assertions, no thresholds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx
from Xlib import XK, display

from capture.input import Kind, Primitive
from capture.input._xorg import XorgBackend
from capture.input.guard import GuardLink
from capture.xvfb import VirtualDisplay

BUTTONS_MASK = 0x1F00


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def summary(values: list[float], digits: int = 2) -> dict[str, float]:
    return {"p50": round(statistics.median(values), digits), "p99": round(pct(values, 0.99), digits),
            "max": round(max(values), digits)}  # fmt: skip


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def send_cost(backend: XorgBackend, code: int, n: int) -> list[float]:
    """us per primitive of press/release pairs (each pair timed, halved)."""
    out = []
    down, up = Primitive(Kind.KEY_DOWN, code), Primitive(Kind.KEY_UP, code)
    for _ in range(n):
        t = time.perf_counter()
        backend.send(down)
        backend.send(up)
        out.append((time.perf_counter() - t) * 1e6 / 2)
        if len(out) % 500 == 0:
            backend._inj.sync()  # keep the server's queue from growing without end
    return out


def nothing_held(d: display.Display) -> bool:
    if any(d.query_keymap()):
        return False
    return not int(d.screen().root.query_pointer().mask) & BUTTONS_MASK


def kill9_once(name: str, core: display.Display) -> float:
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "serve", "--display", name, "--port", "0",
             "--data-dir", data, "--policy", "off", "--no-overlay"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert proc.stderr is not None
        url = None
        for line in proc.stderr:
            if m := re.search(r"API: +(http://[\d.]+:\d+)", line):
                url = m.group(1)
                break
        assert url, "serve did not start"
        threading.Thread(target=lambda: [None for _ in proc.stderr or ()], daemon=True).start()
        token = Path(data, "token").read_text().strip()
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        http.post("/v1/actions", json={"action": "mouse_down", "x": 50, "y": 50}).raise_for_status()

        def hold() -> None:
            try:
                http.post(
                    "/v1/actions", json={"action": "hold_key", "keys": "shift", "duration": 30}
                )
            except httpx.HTTPError:
                pass  # the daemon is killed under it

        threading.Thread(target=hold, daemon=True).start()
        shift = core.keysym_to_keycode(XK.XK_Shift_L)
        deadline = time.monotonic() + 10
        while not core.query_keymap()[shift // 8] & (1 << (shift % 8)):
            assert time.monotonic() < deadline, "the daemon never held shift"
            time.sleep(0.001)
        t0 = time.perf_counter()
        os.kill(proc.pid, signal.SIGKILL)
        while not nothing_held(core):
            assert time.perf_counter() - t0 < 5, "still held 5 s after kill -9"
            time.sleep(0.0005)
        ms = (time.perf_counter() - t0) * 1e3
        proc.wait()
        http.close()
        return ms


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pairs", type=int, default=5000, help="press/release pairs per send run")
    ap.add_argument("--kills", type=int, default=10, help="kill -9 trials of a real serve")
    args = ap.parse_args(argv)
    with VirtualDisplay(1920, 1080) as vd:
        core = display.Display(vd.name)
        backend = XorgBackend(vd.name)
        link = GuardLink.spawn(vd.name)
        link.wait_ready()
        try:
            writes = []
            for i in range(args.pairs * 2):
                t = time.perf_counter()
                (link.pressing if i % 2 == 0 else link.released)(
                    Kind.KEY_DOWN if i % 2 == 0 else Kind.KEY_UP, 200
                )
                writes.append((time.perf_counter() - t) * 1e6)
            code = backend.key_code(XK.XK_a)
            bare = send_cost(backend, code, args.pairs)
            backend.watch = link
            watched = send_cost(backend, code, args.pairs)
            backend.watch = None
            bare2 = send_cost(backend, code, args.pairs)  # the other order too: drift shows
        finally:
            backend.close()
            link.close()
        kills = []
        for k in range(args.kills):
            kills.append(kill9_once(vd.name, core))
            log(f"kill -9 {k + 1}/{args.kills}: nothing held after {kills[-1]:.1f} ms")
        core.close()
    print(json.dumps({
        "bench": "guard_cost",
        "write_us": summary(writes),
        "send_us_per_primitive": {"without_guard": summary(bare + bare2), "with_guard": summary(watched)},
        "kill9_released_ms": summary(kills, 1) if kills else None,
        "kill9_trials": len(kills),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
