"""What an agent waits for, end to end through the API, per client, on loopback.

For ``GET /v1/state``, a ``move`` and a ``screenshot`` (1920x1080 seen at 1366x768):
the time of a call through curl (one process, one kept connection), httpx,
``daemon.client.Client`` and the MCP proxy (``driverseat mcp``, spoken to in raw JSON-RPC
lines and through the MCP SDK's stdio client, beside the proxy's own HTTP requests made
alone), each keeping its connection; and the work inside it (the outcome's
``elapsed_ms``: executor time, the in-process figure). ``overhead_ms`` is the call minus
the work; goal: median <= 1 ms for every client. Starts its own ``driverseat serve
--virtual-display 1920x1080`` and shows a real desktop on it (``--screen``: a screenshot
of GTK's widget factory from ``bench/data/desktop``, scaled to the screen, so a screenshot's
answer is as large as a real one's; ``--screen blank`` for the empty Xvfb). ``--clients``
picks the clients to run. Prints one JSON line. Not a test.

The floor (``--no-floor`` skips it): how much of a client's overhead is its own (and the
kernel's loopback) and how much the daemon's. The daemon's answer to each kind of call is
captured once over a raw socket, its bytes as they came (status line, headers, body), and
served by a canned server (``bench/_canned.py``: another process, a thread per kept
connection that answers each whole request with those bytes in one write, no work at
all). Right after its run against the daemon, each client (httpx, daemon.client, curl,
the MCP proxy's ``AsyncClient`` alone, and the MCP proxy itself on its pipes and through
the SDK, pointed at the canned server) makes the same calls against it: ``floor``, keyed
like ``clients``, has each call's time there (median, p99; the floor's work is nil), and
``server_overhead_ms`` each call's median overhead less its median floor: the daemon's
share (its HTTP stack, routing, auth, the action's bookkeeping around the executor's
work), the rest of the overhead being the client's. ``mcp_added_to_its_request`` and
``in_process_ms`` have no floor.

The grab's aftermath (``--no-aftermath`` skips it): a screenshot's overhead is higher than
a move's, though the daemon does the same around both. The grab and its encode move ~28 MB
of pixels through the CPU's caches, and whatever runs next (the answer's bookkeeping, the
next request) finds them cold. So the fast clients (httpx, daemon.client, curl) make the
screenshot calls once more against a second daemon, ``python -m bench._still serve``: the
same daemon, except that its grabber grabs once and answers each later screenshot with
that first picture (same answer, same size, no grab). ``grab_aftermath`` has each client's
screenshot overhead there (``still_overhead_ms``: the daemon's handling of a screenshot
answer) and ``aftermath_ms``, the median overhead with the real grab less that one.

``--pause-ms N`` idles N ms before each call (curl: ``--rate``, one call started every N
ms), as an agent does while its model thinks. Back to back, a call finds the caches warm
from the last one; after an idle pause every step of it runs cold, the client's and the
floor's too, so every figure grows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx

from bench._canned import canned, capture
from bench._serve import served
from bench.screenshot import show_on_root
from daemon.auth import read_token
from daemon.client import Client

ROOT = Path(__file__).resolve().parent.parent
DESKTOP = ROOT / "bench" / "data" / "desktop" / "widget-factory-light" / "input.png"
# the Anthropic route (and so the MCP proxy) answers an action with a screenshot taken after
# a settle wait by default, as the reference tool does: that is work, not overhead, and the
# MCP figures subtract a /v1/actions move's work, so it is off here
NO_SETTLE = ("--no-screenshot-after", "--settle-ms", "0")
SERVE: tuple[str, ...] = NO_SETTLE  # and the policy (main's --policy; bench._serve's is off, the last wins)
CALLS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "state": ("GET", "/v1/state", None),
    "move": ("POST", "/v1/actions", {"action": "move", "x": 600, "y": 400}),
    "screenshot": ("POST", "/v1/actions", {"action": "screenshot"}),
}


# what --clients names (httpx always runs); "mcp-requests" is the MCP proxy's HTTP requests
# alone, "mcp-paired" those and the MCP calls in turn (not a client: its own key),
# "in_process" the Runtime without HTTP
CLIENTS = ("httpx", "daemon.client", "curl", "mcp-requests", "mcp", "mcp-sdk", "mcp-paired", "in_process")


PAUSE_S = 0.0  # --pause-ms: idle time before each call


def pause() -> None:
    """Idle before a call as an agent does between its steps (``--pause-ms``; 0: none)."""
    if PAUSE_S:
        time.sleep(PAUSE_S)


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {"median": round(statistics.median(ordered), 3), "p99": round(p99, 3)}


def with_work(calls: list[tuple[float, float]]) -> dict[str, Any]:
    """(call ms, work ms) pairs -> call, work and overhead figures."""
    return {
        "call_ms": stats([c for c, _ in calls]),
        "work_ms": stats([w for _, w in calls]),
        "overhead_ms": stats([c - w for c, w in calls]),
    }


def through_httpx(url: str, token: str, trials: int) -> dict[str, Any]:
    out = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as h:
        h.get("/v1/state")  # connect
        for name, (method, path, body) in CALLS.items():
            calls = []
            for _ in range(trials):
                pause()
                t0 = time.perf_counter()
                r = h.request(method, path, json=body)
                ms = (time.perf_counter() - t0) * 1000
                r.raise_for_status()
                calls.append((ms, float(r.json().get("elapsed_ms", 0.0)) if name != "state" else 0.0))
            out[name] = with_work(calls)
    return out


def through_client(url: str, token: str, trials: int) -> dict[str, Any]:
    out = {}
    with Client(url, token) as c:
        c.state()
        runs: dict[str, Callable[[], float]] = {
            "state": lambda: (c.state(), 0.0)[1],
            "move": lambda: c.act({"action": "move", "x": 600, "y": 400}).elapsed_ms,
            "screenshot": lambda: c.act({"action": "screenshot"}).elapsed_ms,
        }
        for name, run in runs.items():
            calls = []
            for _ in range(trials):
                pause()
                t0 = time.perf_counter()
                work = run()
                calls.append(((time.perf_counter() - t0) * 1000, work))
            out[name] = with_work(calls)
    return out


def through_curl(url: str, token: str, trials: int, work: dict[str, float]) -> dict[str, Any]:
    """One curl process per call kind, ``trials`` URLs on one kept connection; the answers
    and their times interleaved on curl's stdout, so each call's work is its own outcome's
    ``elapsed_ms`` (``work``: the figures for ``GET /v1/state``, which has none)."""
    if shutil.which("curl") is None:
        return {"skipped": "curl is not installed"}
    out = {}
    for name, (method, path, body) in CALLS.items():
        # each answer is one line of JSON; the line after it is its time
        cmd = ["curl", "-s", "-w", "\\n%{time_total}\\n", "-H", f"Authorization: Bearer {token}"]
        if PAUSE_S:  # its URLs one after another, started at most this often
            cmd += ["--rate", f"{round(60 / PAUSE_S)}/m"]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        cmd += [url + path] * (trials + 1)
        lines = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
        answers, times = lines[0::2], [float(t) * 1000 for t in lines[1::2]]
        spent = [work[name] if body is None else float(json.loads(a).get("elapsed_ms", 0.0)) for a in answers]
        out[name] = with_work(list(zip(times, spent, strict=True))[1:])  # the first pays the connect
    return out


def through_mcp_requests(url: str, token: str, trials: int, work: dict[str, float]) -> dict[str, Any]:
    """The HTTP requests the MCP proxy makes for each tool call, through the proxy's own
    ``AsyncClient`` and nothing else: the MCP figures minus these are the proxy's cost."""
    from daemon.client import AsyncClient

    calls: dict[str, Callable[[AsyncClient], Any]] = {
        "state": lambda c: c.state(),
        "move": lambda c: c.anthropic({"action": "mouse_move", "coordinate": [600, 400]}),
        "screenshot": lambda c: c.anthropic({"action": "screenshot"}),
    }

    async def run() -> dict[str, Any]:
        out = {}
        async with AsyncClient(url, token) as c:
            await c.state()
            for name, call in calls.items():
                calls_made = []
                for _ in range(trials):
                    pause()
                    t0 = time.perf_counter()
                    reply = await call(c)
                    ms = (time.perf_counter() - t0) * 1000
                    spent = _work_of(reply) if name != "state" else None  # the envelope's record
                    calls_made.append((ms, work[name] if spent is None else spent))
                out[name] = with_work(calls_made)
        return out

    result: dict[str, Any] = asyncio.run(run())
    return result


def through_mcp(url: str, data: Path, trials: int, work: dict[str, float]) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "daemon.cli.mcp", "--url", url, "--data-dir", str(data)], cwd=str(ROOT)
    )
    calls: dict[str, tuple[str, dict[str, Any]]] = {
        "state": ("state", {}),
        "move": ("computer", {"action": "mouse_move", "coordinate": [600, 400]}),
        "screenshot": ("computer", {"action": "screenshot"}),
    }

    async def run() -> dict[str, Any]:
        out = {}
        with open(os.devnull, "w") as err:  # noqa: ASYNC230 - opening /dev/null never blocks
            async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as s:
                await s.initialize()
                await s.call_tool("state", {})
                for name, (tool, args) in calls.items():
                    times = []
                    for _ in range(trials):
                        pause()
                        t0 = time.perf_counter()
                        result = await s.call_tool(tool, args)
                        ms = (time.perf_counter() - t0) * 1000
                        spent = _work_of(result.meta)
                        times.append((ms, work[name] if spent is None else spent))
                    out[name] = with_work(times)
        return out

    result: dict[str, Any] = asyncio.run(run())
    return result


def _work_of(meta: dict[str, Any] | None) -> float | None:
    """The ``elapsed_ms`` of driverseat's record in an MCP result's ``_meta`` (actions only)."""
    record = (meta or {}).get("driverseat")
    return float(record["elapsed_ms"]) if isinstance(record, dict) and "elapsed_ms" in record else None


MCP_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "state": ("state", {}),
    "move": ("computer", {"action": "mouse_move", "coordinate": [600, 400]}),
    "screenshot": ("computer", {"action": "screenshot"}),
}


class _Pipes:
    """``driverseat mcp`` as any MCP client meets it (Claude Desktop is not Python): JSON-RPC
    lines written to its stdin and read from its stdout, no SDK on this side."""

    def __init__(self, url: str, data: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli.mcp", "--url", url, "--data-dir", str(data)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(ROOT),
        )  # fmt: skip
        self.ids = iter(range(1, 1 << 30))
        self.rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                "clientInfo": {"name": "bench", "version": "0"}})  # fmt: skip
        self.rpc("notifications/initialized", notify=True)

    def rpc(self, method: str, params: dict[str, Any] | None = None, *, notify: bool = False) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params or {}}
        if not notify:
            msg["id"] = next(self.ids)
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()
        if notify:
            return None
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply or reply["result"].get("isError"):
            raise SystemExit(f"MCP call failed: {reply}")
        return reply["result"]

    def call(self, name: str) -> float | None:
        """One call; the work inside it (driverseat's record in the result's ``_meta``)."""
        tool, args = MCP_CALLS[name]
        return _work_of(self.rpc("tools/call", {"name": tool, "arguments": args}).get("_meta"))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=20)


def through_mcp_pipes(url: str, data: Path, trials: int, work: dict[str, float]) -> dict[str, Any]:
    """The proxy on its pipes (:class:`_Pipes`), ``trials`` calls of each kind in a row."""
    mcp = _Pipes(url, data)
    out = {}
    try:
        mcp.call("state")
        for name in MCP_CALLS:
            calls = []
            for _ in range(trials):
                pause()
                t0 = time.perf_counter()
                spent = mcp.call(name)
                calls.append(((time.perf_counter() - t0) * 1000, work[name] if spent is None else spent))
            out[name] = with_work(calls)
    finally:
        mcp.close()
    return out


def mcp_paired(url: str, token: str, data: Path, trials: int) -> dict[str, Any]:
    """What the proxy adds to its HTTP request, paired: each trial makes the request the
    proxy would make (``daemon.client.Client``, the same route and body) and the MCP call
    on its pipes, in turn (the order alternating), so a loaded machine's drift falls on
    both; ``added_ms`` is the per-trial difference."""
    mcp = _Pipes(url, data)
    requests: dict[str, Callable[[Client], Any]] = {
        "state": lambda c: c.state(),
        "move": lambda c: c.anthropic(MCP_CALLS["move"][1]),
        "screenshot": lambda c: c.anthropic(MCP_CALLS["screenshot"][1]),
    }
    out: dict[str, Any] = {}
    try:
        with Client(url, token) as c:
            c.state()
            mcp.call("state")
            for name, request in requests.items():
                direct: list[float] = []
                proxied: list[float] = []
                for i in range(trials):
                    for is_mcp in (i % 2 == 0, i % 2 == 1):
                        pause()
                        t0 = time.perf_counter()
                        if is_mcp:
                            mcp.call(name)
                        else:
                            request(c)
                        (proxied if is_mcp else direct).append((time.perf_counter() - t0) * 1000)
                out[name] = {"request_ms": stats(direct), "mcp_ms": stats(proxied),
                             "added_ms": stats([p - d for p, d in zip(proxied, direct, strict=True)])}  # fmt: skip
    finally:
        mcp.close()
    return out


def desktop(path: Path | None, width: int = 1920, height: int = 1080) -> Any:
    """The screen's picture (BGRX): ``path`` scaled to the screen; None: leave it blank."""
    if path is None:
        return None
    import cv2
    import numpy as np

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read the image {path}")
    canvas = np.zeros((height, width, 4), np.uint8)
    canvas[:, :, :3] = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return canvas


def in_process(trials: int, picture: Any) -> dict[str, Any]:
    """The same work without HTTP: a Runtime on its own Xvfb (showing the same picture),
    called directly."""
    from capture.screen import Screen
    from capture.xvfb import VirtualDisplay
    from daemon.actions import Move, Screenshot
    from daemon.control.runtime import Runtime
    from daemon.control.screenshots import ScreenGrabber
    from daemon.control.view import AgentView

    out: dict[str, Any] = {}
    with VirtualDisplay(1920, 1080) as vd:
        if picture is not None:
            show_on_root(vd.name, picture)
        with Screen(vd.name) as scr:
            view = AgentView.for_monitor(scr.monitors()[1], 1)
        grabber = ScreenGrabber(vd.name, 1, view.agent_size, "agent")
        with Runtime(display=vd.name, view=view, screenshot=grabber) as rt:
            for name, action in (("move", Move(x=600, y=400)), ("screenshot", Screenshot())):
                times = []
                for _ in range(trials):
                    pause()
                    t0 = time.perf_counter()
                    rt.run(action)
                    times.append((time.perf_counter() - t0) * 1000)
                out[name] = stats(times)
        grabber.close()
    return out


def captured(url: str, token: str) -> dict[str, bytes]:
    """The daemon's answer to each kind of call the clients make (:mod:`bench._canned`):
    the calls of :data:`CALLS` and the Anthropic route's the MCP proxy makes."""
    route = "/v1/anthropic/computer?envelope=1"  # as daemon.client asks it
    wanted = [*CALLS.values(), *(("POST", route, MCP_CALLS[n][1]) for n in ("move", "screenshot"))]
    return dict(capture(url, token, method, path, body) for method, path, body in wanted)


def grab_aftermath(
    clients: dict[str, Any], wanted: set[str], trials: int, show: Callable[[str], None] | None
) -> dict[str, Any]:
    """The fast clients' screenshot overhead against ``bench._still`` (no grab), and how much
    more it was with the grab (``clients``: their figures against the real daemon)."""
    runs: dict[str, Callable[[str, str], dict[str, Any]]] = {
        "httpx": lambda u, t: through_httpx(u, t, trials),
        "daemon.client": lambda u, t: through_client(u, t, trials),
        "curl": lambda u, t: through_curl(u, t, trials, {name: 0.0 for name in CALLS}),
    }
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        with served(data, "1920x1080", SERVE, show, module="bench._still") as url:
            token = read_token(data)
            for name, run in runs.items():
                if name not in clients or "skipped" in clients[name]:
                    continue  # not asked for (httpx always is), or curl is missing
                still = run(url, token)["screenshot"]["overhead_ms"]
                real = clients[name]["screenshot"]["overhead_ms"]["median"]
                out[name] = {"still_overhead_ms": still, "aftermath_ms": round(real - still["median"], 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument(
        "--clients", default=",".join(CLIENTS),
        help=f"comma-separated clients to measure (default: all of {', '.join(CLIENTS)}; httpx "
        "always runs: its work figures are every other client's)",
    )  # fmt: skip
    ap.add_argument("--screen", default=str(DESKTOP),
                    help="a picture to show on the screen, scaled to it, or 'blank' (default: %(default)s)")  # fmt: skip
    ap.add_argument(
        "--no-floor", action="store_true", help="skip the floor (the clients against canned answers)"
    )
    ap.add_argument("--pause-ms", type=float, default=0.0,
                    help="idle this long before each call, as an agent does between steps (default 0: "
                    "back to back; after an idle pause every step of a call runs on cold caches)")  # fmt: skip
    ap.add_argument("--policy", choices=("shipped", "off"), default="shipped",
                    help="the daemon's policy: the shipped assets/policy.toml, as `make run` uses it "
                    "(a move and a screenshot are auto there, after the gate's ruling), or 'off' "
                    "(no ruling at all; the figures before 2026-12-03) (default: %(default)s)")  # fmt: skip
    ap.add_argument("--no-aftermath", action="store_true",
                    help="skip the grab's aftermath (the fast clients against a daemon whose grab is skipped)")  # fmt: skip
    args = ap.parse_args(argv)
    global SERVE
    SERVE = NO_SETTLE + (("--policy", str(ROOT / "assets" / "policy.toml")) if args.policy == "shipped" else ())
    if not 0 <= args.pause_ms <= 10_000:
        ap.error(f"--pause-ms must be between 0 and 10000, not {args.pause_ms}")
    global PAUSE_S
    PAUSE_S = args.pause_ms / 1000
    picture = desktop(None if args.screen == "blank" else Path(args.screen))
    wanted = set(args.clients.split(","))
    unknown = wanted - set(CLIENTS)
    if unknown:
        ap.error(f"unknown clients: {', '.join(sorted(unknown))}")
    show = None if picture is None else lambda name: show_on_root(name, picture)
    clients: dict[str, Any] = {}
    floor: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "data"
        url = stack.enter_context(served(data, "1920x1080", SERVE, show))
        token = read_token(data)
        answer_bytes = len(httpx.post(url + "/v1/actions", json=CALLS["screenshot"][2],
                                      headers={"Authorization": f"Bearer {token}"}, timeout=30).content)  # fmt: skip
        floor_url = None if args.no_floor else stack.enter_context(canned(captured(url, token)))

        def measure(name: str, run: Callable[[str], dict[str, Any]]) -> None:
            """``run`` against the daemon, then (its floor) against the canned answers."""
            clients[name] = run(url)
            if floor_url is not None and "skipped" not in clients[name]:
                floor[name] = {call: figures["call_ms"] for call, figures in run(floor_url).items()}

        measure("httpx", lambda u: through_httpx(u, token, args.trials))
        work = {name: clients["httpx"][name]["work_ms"]["median"] for name in CALLS}
        if "daemon.client" in wanted:
            measure("daemon.client", lambda u: through_client(u, token, args.trials))
        if "curl" in wanted:
            measure("curl", lambda u: through_curl(u, token, args.trials, work))
        if "mcp-requests" in wanted:
            mcp_requests = "mcp's requests (AsyncClient)"
            measure(mcp_requests, lambda u: through_mcp_requests(u, token, args.trials, work))
        if "mcp" in wanted:
            measure("mcp", lambda u: through_mcp_pipes(u, data, args.trials, work))
        if "mcp-sdk" in wanted:
            measure("mcp (Python SDK client)", lambda u: through_mcp(u, data, args.trials, work))
        paired = mcp_paired(url, token, data, args.trials) if "mcp-paired" in wanted else None
    aftermath = None if args.no_aftermath else grab_aftermath(clients, wanted, args.trials, show)
    local = in_process(args.trials, picture) if "in_process" in wanted else {}
    worst = max(
        v["overhead_ms"]["median"] for c in clients.values() if "skipped" not in c for v in c.values()
    )
    server = {  # each call's median overhead less its median floor
        name: {call: round(clients[name][call]["overhead_ms"]["median"] - f["median"], 3)
               for call, f in calls.items()}
        for name, calls in floor.items()
    }  # fmt: skip
    print(json.dumps({
        "bench": "api_latency", "trials": args.trials, "pause_ms": args.pause_ms, "policy": args.policy, "screen": "1920x1080", "agent": "1366x768",
        "picture": "blank" if picture is None else Path(args.screen).name if args.screen != str(DESKTOP)
        else "widget-factory-light", "screenshot_answer_bytes": answer_bytes,
        "clients": clients, "in_process_ms": local,
        **({"mcp_added_to_its_request": paired} if paired is not None else {}),
        **({"floor": floor, "server_overhead_ms": server} if floor_url is not None else {}),
        **({"grab_aftermath": aftermath} if aftermath is not None else {}),
        "worst_median_overhead_ms": round(worst, 3), "goal": {"median_overhead_ms": 1.0},
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
