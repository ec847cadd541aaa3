"""Soak: agent traffic, takeovers, reviews and event subscribers together, for a while.

Starts a 1920x1080 Xvfb and ``driverseat serve`` on it (``--no-overlay``: reviews are
decided over HTTP) with a small policy that holds ``type`` texts containing REVIEW for a
person. Then, for ``--seconds`` (default 600):

- ``--agents`` agents (threads, one kept connection each) cycle through ``GET
  /v1/state``, a ``move``, a ``type``, a screenshot, an Anthropic ``mouse_move`` and an
  OpenAI batch of three moves;
- a reviewer sends an action that is held, and decides it over HTTP (approve, reject in
  turn) once it is pending;
- a simulated person (tests/x11/human.py: its own XTest master device) moves the mouse
  every few seconds; the daemon yields, and control comes back by ``--resume-after``;
- subscribers read ``/v1/events``, reconnecting every 30 s, and a subscriber that never
  reads (a raw socket with a small receive buffer) stays until the daemon resets it, then
  another one joins;
- an overlay's stream (``role=overlay``) acknowledges every message as it reads it, so
  each approval waits for its ack, as with a real overlay.

Prints one JSON line: requests served, errors by status, p50/p99 latency per endpoint (ms),
the daemon's resident memory, open file descriptors and threads at start (after a
warm-up), every 30 s and at the end, and leaked primitives: keys down (XQueryKeymap) plus buttons
down (the pointer's mask) on the display once traffic has stopped. Not a test.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx
from websockets.sync.client import connect

from capture.xvfb import VirtualDisplay
from daemon.auth import read_token
from tests.daemon.live import StderrLines, poll
from tests.x11.human import SimulatedHuman

ROOT = Path(__file__).resolve().parent.parent
POLICY = """
[defaults]
tier = "auto"
rationale_required = []

[[rule]]
name = "soak-review"
tier = "approve"
kinds = ["type"]
text = "REVIEW"
"""


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: Counter[str] = Counter()
        self.served = 0
        self.notes: Counter[str] = Counter()

    def call(self, http: httpx.Client, name: str, method: str, path: str, body: Any = None) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            r = http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            with self.lock:
                self.status[type(exc).__name__] += 1
            return None
        ms = (time.perf_counter() - t0) * 1000
        with self.lock:
            self.served += 1
            self.latency[name].append(ms)
            if r.status_code >= 400:
                self.status[str(r.status_code)] += 1
            elif path == "/v1/actions":
                self.notes[f"outcome {r.json().get('status')}"] += 1
        return r

    def note(self, what: str) -> None:
        with self.lock:
            self.notes[what] += 1


def process(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_kb": int(fields["VmRSS"].split()[0]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(fields["Threads"]),
    }


def held_on(display_name: str) -> int:
    from Xlib import display

    d = display.Display(display_name)
    try:
        keys = sum(b.bit_count() for b in d.query_keymap())
        mask = d.screen().root.query_pointer().mask
        buttons = sum(1 for bit in (1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12) if mask & bit)
        return int(keys + buttons)
    finally:
        d.close()


def agent(url: str, token: str, tally: Tally, stop: threading.Event, n: int) -> None:
    rnd = random.Random(n)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        while not stop.is_set():
            x, y = rnd.randrange(50, 1300), rnd.randrange(50, 700)
            match rnd.randrange(6):
                case 0:
                    tally.call(http, "GET /v1/state", "GET", "/v1/state")
                case 1:
                    tally.call(http, "move", "POST", "/v1/actions", {"action": "move", "x": x, "y": y})
                case 2:
                    tally.call(http, "type", "POST", "/v1/actions", {"action": "type", "text": f"soak {n}"})
                case 3:
                    tally.call(http, "screenshot", "POST", "/v1/actions", {"action": "screenshot"})
                case 4:
                    tally.call(http, "anthropic mouse_move", "POST", "/v1/anthropic/computer",
                               {"action": "mouse_move", "coordinate": [x, y]})  # fmt: skip
                case _:
                    moves = [{"type": "move", "x": x, "y": y + i} for i in range(3)]
                    tally.call(http, "openai batch", "POST", "/v1/openai/computer",
                               {"call_id": f"c{n}", "actions": moves})  # fmt: skip


def reviewer(url: str, token: str, tally: Tally, stop: threading.Event) -> None:
    verdicts = ["approve", "reject"]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        turn = 0
        while not stop.wait(2.0):
            held = threading.Thread(target=_held_action, args=(url, token, tally))
            held.start()
            pending: list[Any] = []
            if poll(functools.partial(_pending, http, tally, pending), timeout=20, every=0.1):
                verdict = verdicts[turn % 2]
                turn += 1
                tally.call(http, "decision", "POST", f"/v1/reviews/{pending[0]['id']}/decision",
                           {"verdict": verdict, "reviewer": "soak"})  # fmt: skip
                tally.note(f"review {verdict}")
            held.join(timeout=60)


def _held_action(url: str, token: str, tally: Tally) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        tally.call(http, "type (reviewed)", "POST", "/v1/actions", {"action": "type", "text": "REVIEW me"})


def _pending(http: httpx.Client, tally: Tally, into: list[Any]) -> bool:
    r = tally.call(http, "GET /v1/reviews", "GET", "/v1/reviews")
    into[:] = r.json() if r is not None and r.status_code == 200 else []
    return bool(into)


def _reset(sock: socket.socket, stop: threading.Event) -> bool:
    return stop.is_set() or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0


def person(display_name: str, tally: Tally, stop: threading.Event) -> None:
    h = SimulatedHuman(display_name)
    rnd = random.Random(7)
    try:
        while not stop.wait(rnd.uniform(4.0, 8.0)):
            for _ in range(5):
                h.move(rnd.randrange(100, 1800), rnd.randrange(100, 1000))
            tally.note("takeover")
    finally:
        h.close()


def subscriber(url: str, token: str, tally: Tally, stop: threading.Event) -> None:
    ws_url = url.replace("http://", "ws://") + f"/v1/events?token={token}"
    while not stop.is_set():
        try:
            with connect(ws_url, open_timeout=10) as ws:
                until = time.monotonic() + 30
                while not stop.is_set() and time.monotonic() < until:
                    try:
                        ws.recv(timeout=1)
                        tally.note("events received")
                    except TimeoutError:
                        pass
        except Exception as exc:  # noqa: BLE001 - counted, and the subscriber reconnects
            tally.note(f"subscriber {type(exc).__name__}")


def acking_overlay(url: str, token: str, tally: Tally, stop: threading.Event) -> None:
    """What the overlay says on its stream: an ack of each message's seq once it is read."""
    ws_url = url.replace("http://", "ws://") + f"/v1/events?token={token}&role=overlay"
    while not stop.is_set():
        try:
            with connect(ws_url, open_timeout=10) as ws:
                while not stop.is_set():
                    try:
                        seq = json.loads(ws.recv(timeout=1)).get("seq")
                    except TimeoutError:
                        continue
                    if isinstance(seq, int):
                        ws.send(json.dumps({"type": "ack", "seq": seq}))
                        tally.note("overlay acks")
        except Exception as exc:  # noqa: BLE001 - counted, and the overlay reconnects
            tally.note(f"overlay {type(exc).__name__}")


def stalled(url: str, token: str, tally: Tally, stop: threading.Event) -> None:
    host, port = url.removeprefix("http://").split(":")
    while not stop.is_set():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /v1/events?token={token} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())  # fmt: skip
        tally.note("stalled subscribers")
        t0 = time.monotonic()
        # a TCP send buffer hides the stall for thousands of events: wait as long as it takes
        if poll(functools.partial(_reset, sock, stop), timeout=3600, every=0.2) and not stop.is_set():
            tally.note("stalled subscribers reset")
            with tally.lock:
                tally.latency["stalled subscriber reset after (s)"].append(time.monotonic() - t0)
        sock.close()


def percentiles(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    return {"n": len(s), "p50": round(s[len(s) // 2], 2), "p99": round(s[min(len(s) - 1, int(len(s) * 0.99))], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=600.0, metavar="S",
                    help="how long the traffic runs, after the warm-up (default: %(default)g)")
    ap.add_argument("--agents", type=int, default=4, metavar="N",
                    help="agents sending actions at once, one kept connection each (default: %(default)s)")
    ap.add_argument("--warmup", type=float, default=10.0, metavar="S",
                    help="traffic before the start figures are taken (default: %(default)g)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, VirtualDisplay(1920, 1080) as vd:
        data = Path(tmp)
        (data / "policy.toml").write_text(POLICY)
        env = {k: v for k, v in os.environ.items() if k != "DRIVERSEAT_DATA_DIR"} | {"DISPLAY": vd.name}
        proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "serve", "--port", "0", "--no-overlay", "--resume-after", "1",
             "--policy", str(data / "policy.toml"), "--data-dir", str(data)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
        )  # fmt: skip
        lines = StderrLines(proc)
        try:
            url = lines.wait_line(r"API: +(http://\S+)", 60).group(1)
            token = read_token(data)
            assert poll(lambda: httpx.get(url + "/healthz").status_code == 200, timeout=30)
            tally, stop = Tally(), threading.Event()
            workers = [threading.Thread(target=agent, args=(url, token, tally, stop, n)) for n in range(args.agents)]
            workers += [
                threading.Thread(target=reviewer, args=(url, token, tally, stop)),
                threading.Thread(target=person, args=(vd.name, tally, stop)),
                threading.Thread(target=subscriber, args=(url, token, tally, stop)),
                threading.Thread(target=subscriber, args=(url, token, tally, stop)),
                threading.Thread(target=stalled, args=(url, token, tally, stop)),
                threading.Thread(target=acking_overlay, args=(url, token, tally, stop)),
            ]
            t0 = time.monotonic()
            for w in workers:
                w.start()
            stop.wait(min(args.warmup, args.seconds))
            start = process(proc.pid)
            samples = [start]
            while not stop.wait(max(0.0, min(30.0, args.seconds - (time.monotonic() - t0)))):
                samples.append(process(proc.pid))
                if time.monotonic() - t0 >= args.seconds:
                    break
            stop.set()
            for w in workers:
                w.join(timeout=120)
            end = process(proc.pid)
            leaked = held_on(vd.name)
            print(json.dumps({
                "seconds": round(time.monotonic() - t0, 1),
                "agents": args.agents,
                "requests": tally.served,
                "errors": dict(tally.status),
                "latency_ms": {k: percentiles(v) for k, v in sorted(tally.latency.items())},
                "start": start,
                "end": end,
                "rss_kb_every_30s": [s["rss_kb"] for s in samples],
                "fds_every_30s": [s["fds"] for s in samples],
                "threads_every_30s": [s["threads"] for s in samples],
                "leaked_primitives": leaked,
                "counts": dict(tally.notes),
                "daemon_alive": proc.poll() is None,
            }))  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            lines.close()


if __name__ == "__main__":
    main()
