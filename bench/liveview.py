"""The live view's VNC server: how soon a change on the display reaches a viewer, and what
the server costs in CPU, for each candidate, on a 1920x1080 Xvfb of its own.

Candidates, each serving RFB on a unix socket only:

- ``x11vnc``: Debian's x11vnc with driverseat's flags (``capture.vnc.x11vnc_args``), and
  ``x11vnc-20ms`` / ``x11vnc-5ms`` with other ``-defer``/``-wait`` (20 ms is x11vnc's own);
- ``x11vnc-proxied``: the same, read through the daemon's ``/view/websocket`` (the whole
  path a browser uses, minus the browser);
- ``x0vncserver``: TigerVNC's scraping server (Debian ``tigervnc-scraping-server``), when
  installed.

Frame latency: a viewer keeps an incremental update request outstanding; a window's colour
changes (XSync'd); the time until an update carrying the new colour has been read whole.
CPU: the server process's user+system time over a stretch with the screen still (idle),
and over the latency runs (busy: one 400x300 change per frame). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from websockets.sync.client import connect as ws_connect
from Xlib import X, display

from capture.vnc import DEFER_MS, WAIT_MS, VncServer
from capture.xvfb import VirtualDisplay
from tests.x11.rfb import RfbClient

PATCH = (600, 400, 400, 300)
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


class WsSocket:
    """What RfbClient needs of a socket (sendall, recv, settimeout, close) over a WebSocket."""

    def __init__(self, url: str) -> None:
        self.ws = ws_connect(url, subprotocols=["binary"], max_size=None).__enter__()  # type: ignore[list-item]
        self.buf = b""

    def settimeout(self, t: float) -> None:
        self.timeout = t

    def sendall(self, data: bytes) -> None:
        self.ws.send(data)

    def recv(self, n: int) -> bytes:
        if not self.buf:
            msg = self.ws.recv(timeout=self.timeout)
            self.buf = msg if isinstance(msg, bytes) else msg.encode()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def close(self) -> None:
        self.ws.__exit__(None, None, None)


@contextmanager
def x11vnc(name: str, defer_ms: int = DEFER_MS, wait_ms: int = WAIT_MS) -> Iterator[tuple[int, Callable[[], object]]]:
    with VncServer(name, defer_ms=defer_ms, wait_ms=wait_ms) as v:
        assert v.pid is not None

        def unix() -> socket.socket:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(v.socket_path))
            return s

        yield v.pid, unix


@contextmanager
def x11vnc_proxied(name: str) -> Iterator[tuple[int, Callable[[], object]]]:
    from capture.input._fake import FakeBackend
    from daemon.api.app import create_app
    from daemon.api.routes_view import LiveView, find_novnc
    from daemon.control.runtime import Runtime
    from daemon.service import Daemon
    from daemon.store import Store
    from tests.daemon.live import serving

    novnc = find_novnc()
    if novnc is None:
        raise SystemExit("noVNC is not installed (apt-get install novnc)")
    with VncServer(name) as v, tempfile.TemporaryDirectory() as tmp:
        assert v.pid is not None
        runtime = Runtime(FakeBackend((1920, 1080)), step_interval=0.0)
        store = Store(Path(tmp) / "d.db")
        token = "bench-token-0123456789"
        try:
            with serving(create_app(Daemon(runtime, store, None), token, view=LiveView(v.socket_path, novnc))) as url:
                ws = url.replace("http://", "ws://") + f"/view/websocket?token={token}"
                yield v.pid, lambda: WsSocket(ws)
        finally:
            runtime.close()
            store.close()


@contextmanager
def x0vncserver(name: str) -> Iterator[tuple[int, Callable[[], object]]]:
    exe = shutil.which("X0tigervnc")  # the server itself: x0vncserver is a perl wrapper around it
    if exe is None:
        raise SystemExit("x0vncserver is not installed (apt-get install tigervnc-scraping-server)")
    with tempfile.TemporaryDirectory(prefix="ds-x0-") as tmp:
        path = Path(tmp) / "rfb"
        proc = subprocess.Popen([exe, "-display", name, "-rfbunixpath", str(path), "-rfbport", "-1",
                                 "-SecurityTypes", "None"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            deadline = time.monotonic() + 15
            while not path.exists() and time.monotonic() < deadline:
                time.sleep(0.05)

            def unix() -> socket.socket:
                s = socket.socket(socket.AF_UNIX)
                s.connect(str(path))
                return s

            yield proc.pid, unix
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:  # it may ignore SIGTERM while a client is connected
                proc.kill()
                proc.wait()


@contextmanager
def x11vnc_5ms(name: str) -> Iterator[tuple[int, Callable[[], object]]]:
    with x11vnc(name, defer_ms=5, wait_ms=5) as found:
        yield found


@contextmanager
def x11vnc_20ms(name: str) -> Iterator[tuple[int, Callable[[], object]]]:
    with x11vnc(name, defer_ms=20, wait_ms=20) as found:  # x11vnc's own defaults
        yield found


CANDIDATES = {"x11vnc": x11vnc, "x11vnc-20ms": x11vnc_20ms, "x11vnc-5ms": x11vnc_5ms, "x11vnc-proxied": x11vnc_proxied, "x0vncserver": x0vncserver}


def measure(name: str, kind: str, runs: int, idle_s: float) -> dict[str, object]:
    dpy = display.Display(name)
    screen = dpy.screen()
    x, y, w, h = PATCH
    win = screen.root.create_window(x, y, w, h, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
                                    background_pixel=0, override_redirect=True)  # fmt: skip
    win.map()
    dpy.sync()
    colours = [(255, 0, 0), (0, 200, 0), (0, 0, 255), (255, 255, 0)]
    pixels = [screen.default_colormap.alloc_color(*(c * 257 for c in rgb)).pixel for rgb in colours]
    with CANDIDATES[kind](name) as (pid, open_sock):
        c = RfbClient(open_sock(), timeout=15)  # type: ignore[arg-type]
        c.frame()
        time.sleep(1.0)  # let the server's first scans settle before the idle stretch
        cpu0 = cpu_seconds(pid)
        time.sleep(idle_s)
        idle = (cpu_seconds(pid) - cpu0) / idle_s
        lat: list[float] = []
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        for i in range(runs):
            rgb = colours[i % len(colours)]
            c.request(incremental=True)
            win.change_attributes(background_pixel=pixels[i % len(pixels)])
            win.clear_area()
            dpy.sync()
            t0 = time.perf_counter()
            while True:
                c.update()
                if tuple(int(v) for v in c.screen[y + h // 2, x + w // 2]) == rgb:
                    break
                c.request(incremental=True)
            lat.append((time.perf_counter() - t0) * 1000)
        busy = (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
        c.close()
    win.destroy()
    dpy.close()
    lat.sort()
    return {
        "latency_ms_median": round(statistics.median(lat), 1),
        "latency_ms_p90": round(lat[int(0.9 * (len(lat) - 1))], 1),
        "cpu_idle_pct": round(100 * idle, 1),
        "cpu_busy_pct": round(100 * busy, 1),
    }


def grab_bypass(name: str, trials: int) -> dict[str, object]:
    """How often a viewer's pointer motion lands while another client holds a server grab
    (as the executor does around each primitive): x11vnc asks to be impervious to grabs."""
    with x11vnc(name) as (_, open_sock):
        c = RfbClient(open_sock(), timeout=15)  # type: ignore[arg-type]
        c.frame()
        grabber = display.Display(name)
        landed = 0
        for i in range(trials):
            target = (100 + 7 * i, 100 + 3 * i)
            grabber.grab_server()
            grabber.sync()
            c.pointer(*target)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                p = grabber.screen().root.query_pointer()
                if (int(p.root_x), int(p.root_y)) == target:
                    landed += 1
                    break
                time.sleep(0.005)
            grabber.ungrab_server()
            grabber.sync()
        grabber.close()
        c.close()
    return {"trials": trials, "landed_during_grab": landed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of still screen for the idle CPU")
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    args = ap.parse_args()
    out: dict[str, object] = {"bench": "liveview", "screen": "1920x1080", "runs": args.runs}
    with VirtualDisplay(1920, 1080) as vd:
        keep = display.Display(vd.name)  # the server must not reset between candidates
        for kind in args.candidates.split(","):
            if kind == "x0vncserver" and shutil.which("X0tigervnc") is None:
                out[kind] = "not installed"
                continue
            print(f"measuring {kind}...", file=sys.stderr)
            result: dict[str, object] = {}
            worker = threading.Thread(
                target=lambda k=kind, r=result: r.update(measure(vd.name, k, args.runs, args.idle))
            )
            worker.start()
            worker.join(timeout=300)
            out[kind] = result or "timed out"
        print("measuring x11vnc under a server grab...", file=sys.stderr)
        out["x11vnc_grab_bypass"] = grab_bypass(vd.name, 20)
        keep.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
