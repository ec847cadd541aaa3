"""A real `driverseat serve` process for end-to-end tests, driven over HTTP only.

Nothing here imports the daemon: the tests talk to it the way an agent and a reviewer
do (HTTP, the event WebSocket) and read what reached the desktop from the target
window's XI2 log, so they outlive any rewrite of the daemon's insides.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx

from tests.daemon.live import StderrLines, poll
from tests.x11.target import TargetWindow

__all__ = [
    "AGENT_SOURCES",
    "DEFAULT_POLICY",
    "Daemon",
    "agent_events",
    "barrier",
    "near",
    "policy_with",
    "screen_xy",
    "settled",
    "typed",
]

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "assets" / "policy.toml"
# The core XTEST pointer and keyboard: driverseat's own input. The simulated person has
# its own master device with other XTEST slaves, so its events never carry these ids.
AGENT_SOURCES = (4, 5)
# A spot no test rule covers (agent pixels): the barrier click lands here.
BARRIER = (1300, 700)


def screen_xy(x: float, y: float) -> tuple[float, float]:
    """An agent point (1366x768 view) in screen pixels of the tests' 1920x1080 Xvfb."""
    return x * 1920 / 1366, y * 1080 / 768


def near(event: dict[str, Any], point: tuple[float, float]) -> bool:
    """The event landed on ``point``, give or take the conversion's rounding (1.5 px:
    the daemon maps pixel centres, the test maps pixel corners)."""
    x, y = float(event["x"]), float(event["y"])
    return abs(x - point[0]) <= 1.5 and abs(y - point[1]) <= 1.5


def policy_with(rules: str, *, defaults: dict[str, str] | None = None) -> str:
    """The shipped default policy with ``rules`` tried before its own rules, and some
    ``[defaults]`` values replaced (``{"grace_seconds": "30"}``): first match wins, so
    the tests' narrow rules decide their actions and everything else is the default."""
    text = DEFAULT_POLICY.read_text()
    for key, value in (defaults or {}).items():
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{key} ="))
        lines[at] = f"{key} = {value}"
        text = "\n".join(lines) + "\n"
    first = text.index("[[rule]]")
    return text[:first] + rules.strip() + "\n\n" + text[first:]


class Daemon:
    """``python -m daemon.cli serve`` on ``display`` with ``--port 0``; ``http`` is an
    authorised client that asks for driverseat's envelope on the dialect routes (the
    ``driverseat`` record in the body); :meth:`vendor` one that gets the vendors' exact
    bodies. ``close()`` stops it with SIGTERM; ``kill()`` with any signal. ``extra``:
    more ``serve`` options."""

    def __init__(
        self, display: str, data: Path, policy: Path, *, overlay: bool = False,
        resume_after: float = 0.3, extra: Sequence[str] = (), args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.data = data
        base = os.environ if env is None else env
        env = {k: v for k, v in base.items() if k != "DRIVERSEAT_DATA_DIR"}
        env["QT_QPA_PLATFORM"] = "xcb"
        self.data = data
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "serve", "--display", display, "--port", "0",
             "--data-dir", str(data), "--policy", str(policy), "--resume-after", str(resume_after),
             *([] if overlay else ["--no-overlay"]), *extra, *args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        self.out = StderrLines(self.proc)
        try:
            self.url = self.out.wait_line(r"API: +(http://[\d.]+:\d+)", 30).group(1)
        except AssertionError:
            self.kill(signal.SIGKILL)
            raise
        self.token = (data / "token").read_text().strip()
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.headers = {**self.auth, "Driverseat-Envelope": "1"}
        self.http = httpx.Client(base_url=self.url, headers=self.headers, timeout=60)

    def vendor(self) -> httpx.Client:
        """A client of its own that gets the dialect routes' bodies exactly as the vendors
        define them (no envelope asked for)."""
        return httpx.Client(base_url=self.url, headers=self.auth, timeout=60)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + f"/v1/events?token={self.token}"

    def fresh(self) -> httpx.Client:
        """A client of its own: for requests that may make the server drop the connection."""
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=60)

    def post_later(self, path: str, body: Any) -> Future[httpx.Response]:
        """POST on a thread of its own (the call may wait for a person); its own client,
        so a connection the daemon drops at a restart takes no other request with it."""
        fut: Future[httpx.Response] = Future()

        def go() -> None:
            try:
                with self.fresh() as client:
                    fut.set_result(client.post(path, json=body))
            except Exception as exc:  # noqa: BLE001 - handed to the test
                fut.set_exception(exc)

        threading.Thread(target=go, daemon=True).start()
        return fut

    def pending(self) -> list[dict[str, Any]]:
        r = self.http.get("/v1/reviews")
        r.raise_for_status()
        reviews: list[dict[str, Any]] = r.json()
        return reviews

    def decide(self, review_id: str, verdict: str, **extra: Any) -> httpx.Response:
        body = {"verdict": verdict, "reviewer": "tester@desk", **extra}
        return self.http.post(f"/v1/reviews/{review_id}/decision", json=body)

    def reject_all_pending(self) -> None:
        """Leave no review behind for the next test on a shared daemon."""
        for review in self.pending():
            self.decide(review["id"], "reject")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` and wait for the process to end (it is not restarted)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=20)

    def close(self) -> None:
        self.kill(signal.SIGTERM)
        self.http.close()
        self.out.close()


def agent_events(target: TargetWindow) -> list[dict[str, Any]]:
    """Every key and button event the target received from driverseat's XTEST devices."""
    return [e for e in target.snapshot() if e["sourceid"] in AGENT_SOURCES]


def typed(target: TargetWindow) -> str:
    """The text the agent's key presses typed into the target (shift presses left out)."""
    from capture.input.keys import char_for_keysym  # keysym table only, not the daemon

    return "".join(
        char_for_keysym(e["keysym"]) or ""
        for e in agent_events(target)
        if e["type"] == "key_press" and e["keysym"] != 0xFFE1
    )


def barrier(daemon: Daemon, target: TargetWindow) -> list[dict[str, Any]]:
    """The agent input that reached the target before a barrier click, which is sent now.

    The executor runs actions one at a time, in order, and X delivers one device's
    events in order: once the barrier click has arrived, any input an earlier action
    produced has arrived too. A deterministic "nothing else came", with no sleep.
    """
    r = daemon.http.post("/v1/actions", json={"action": "click", "x": BARRIER[0], "y": BARRIER[1]})
    assert r.status_code == 200 and r.json()["status"] == "executed", r.text
    spot = screen_xy(*BARRIER)

    def is_barrier(e: dict[str, Any]) -> bool:
        return e["type"] == "button_release" and near(e, spot)

    assert target.wait_for(lambda: any(is_barrier(e) for e in agent_events(target)), 10), (
        f"no barrier click in {target.snapshot()}"
    )
    events = agent_events(target)
    cut = next(i for i, e in enumerate(events) if is_barrier(e))
    # the barrier's own press is the event just before its release
    return events[: max(0, cut - 1)]


def settled(pred: Callable[[], Any], timeout: float = 10.0, what: str = "a condition") -> Any:
    """``pred()``'s first truthy value, polled until ``timeout``; AssertionError if none."""
    box: list[Any] = []

    def check() -> bool:
        value = pred()
        if value:
            box.append(value)
            return True
        return False

    assert poll(check, timeout=timeout), f"timed out after {timeout:g} s waiting for {what}"
    return box[0]
