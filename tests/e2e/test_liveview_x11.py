"""The live view as a person on a headless machine uses it: `driverseat serve --view` with
its overlay on the session's Xvfb, Debian's Chromium (headless, driven by Playwright through
``executable_path``: no browser is downloaded) on the page, an agent over HTTP.

The page connects and shows the desktop; a click on its canvas is a takeover; a correction
made on the overlay through the page comes back to the agent; without the token the page
and its WebSocket are refused."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from Xlib import X, display

from tests.daemon.live import StderrLines, poll
from tests.e2e.live_daemon import Daemon, policy_with, settled

pytestmark = pytest.mark.x11

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("DRIVERSEAT_VIEW_SHOTS", "")) if os.environ.get("DRIVERSEAT_VIEW_SHOTS") else None
RULES = """
[[rule]]
name = "view-careful-clicks"
tier = "approve"
kinds = ["click"]
confidence_below = 0.85
"""
MAGENTA = (255, 0, 255)
PATCH = (400, 300, 160, 120)  # screen pixels: x, y, width, height


def _need(what: str, found: object) -> None:
    if not found:
        msg = f"{what} is not installed: scripts/install-deps.sh installs it"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def daemon(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    _need("x11vnc", shutil.which("x11vnc"))
    _need("novnc", Path("/usr/share/novnc/core/rfb.js").exists() or os.environ.get("DRIVERSEAT_NOVNC"))
    data = tmp_path_factory.mktemp("liveview")
    policy = data / "policy.toml"
    policy.write_text(policy_with(RULES))
    # the person stays in control until the test gives it back: the state is read after
    d = Daemon(xserver, data, policy, overlay=True, resume_after=600, extra=("--view",))
    try:
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def patch(xserver: str) -> Iterator[None]:
    """A magenta window at PATCH: something the page must show."""
    dpy = display.Display(xserver)
    screen = dpy.screen()
    colour = screen.default_colormap.alloc_color(*(c * 257 for c in MAGENTA)).pixel
    x, y, w, h = PATCH
    win = screen.root.create_window(x, y, w, h, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
                                    background_pixel=colour, override_redirect=True)  # fmt: skip
    win.map()
    dpy.sync()
    try:
        yield
    finally:
        win.destroy()
        dpy.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need("chromium", CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser: Any, daemon: Daemon, patch: None) -> Iterator[Any]:
    pg = browser.new_page(viewport={"width": 1400, "height": 860})
    pg.goto(view_url(daemon))
    pg.wait_for_selector("body[data-connected='1']", timeout=30_000)
    yield pg
    pg.close()


def view_url(d: Daemon) -> str:
    """What `driverseat view` prints for this daemon."""
    env = {k: v for k, v in os.environ.items() if k != "DRIVERSEAT_URL"}
    out = subprocess.run([sys.executable, "-m", "daemon.cli", "view", "--url", d.url, "--data-dir",
                          str(d.data)], check=False, capture_output=True, text=True, timeout=60,
                         env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def canvas_point(page: Any, sx: float, sy: float) -> tuple[float, float]:
    """Where screen pixel (sx, sy) is on the page: the canvas is the screen, scaled to fit."""
    box = page.locator("#screen canvas").bounding_box()
    w, h = page.evaluate("() => { const c = document.querySelector('#screen canvas'); return [c.width, c.height]; }")
    return box["x"] + (sx + 0.5) * box["width"] / w, box["y"] + (sy + 0.5) * box["height"] / h


def pixel(page: Any, sx: int, sy: int) -> list[int]:
    """The canvas's own pixel for screen pixel (sx, sy) (noVNC draws at the screen's size)."""
    return page.evaluate(
        "([x, y]) => Array.from(document.querySelector('#screen canvas').getContext('2d')"
        ".getImageData(x, y, 1, 1).data.slice(0, 3))",
        [sx, sy],
    )


def shot(page: Any, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


MARKS = ((16, 1064), (6, 1074))  # screen pixels no test's own input goes near


def page_input_arrived(page: Any, xserver: str) -> None:
    """Wait until everything the page has sent has reached the X server: the page's mouse
    goes to one mark, then the other, and the real pointer must get to the second. noVNC
    sends, and x11vnc injects, in order, so the release of a click made before has arrived
    by then (a late release after the agent was given control back took it again at the
    start of the next test). Two marks, as x11vnc drops a move to where it last put the
    pointer, even when the agent has moved it since."""
    for mark in MARKS:
        page.mouse.move(*canvas_point(page, *mark))
    dpy = display.Display(xserver)
    try:

        def there() -> bool:
            p = dpy.screen().root.query_pointer()
            return abs(p.root_x - MARKS[-1][0]) <= 2 and abs(p.root_y - MARKS[-1][1]) <= 2

        settled(there, 15, "the page's input at the X server")
    finally:
        dpy.close()


def give_back(d: Daemon, page: Any, xserver: str) -> None:
    """Control back to the agent, for good: once the page's input has all arrived, resume,
    then an agent move that must execute. The executor drains the observer before each
    primitive, so an event of the person's still queued interrupts the move and we resume
    again. The move takes the pointer away from the marks."""
    page_input_arrived(page, xserver)
    for _ in range(20):
        d.http.post("/v1/control/resume")
        r = d.http.post("/v1/actions", json={"action": "move", "x": 1300, "y": 20})
        if r.json()["status"] == "executed":
            return
    raise AssertionError(f"the agent never got control back: {d.http.get('/v1/state').json()}")


def test_the_page_shows_the_desktop_and_leaves_the_agent_in_control(page: Any, daemon: Daemon) -> None:
    size = page.evaluate("() => { const c = document.querySelector('#screen canvas'); return [c.width, c.height]; }")
    assert size == [1920, 1080]
    x, y, w, h = PATCH
    settled(lambda: pixel(page, x + w // 2, y + h // 2) == list(MAGENTA), 15, "the magenta window on the canvas")
    shot(page, "desktop")
    # opening the view (x11vnc starting, a viewer connecting) is no input of the person's
    state = daemon.http.get("/v1/state").json()
    assert state["control"] == "agent" and state["takeovers"] == 0, state
    page.wait_for_selector("#who:has-text('the agent is driving')", timeout=10_000)
    # the daemon's output never carries the token (the page's address is printed without it)
    assert daemon.token not in "\n".join(daemon.out.lines)
    assert any("/view" in line for line in daemon.out.lines)


def test_a_click_on_the_canvas_is_a_takeover(page: Any, daemon: Daemon, xserver: str) -> None:
    dpy = display.Display(xserver)

    def pointer() -> tuple[int, int]:
        p = dpy.screen().root.query_pointer()
        return int(p.root_x), int(p.root_y)

    try:
        # a 30 s drag from agent (1000, 100) to (1000, 700): the agent is still dragging when
        # the person clicks (agent 1000 is screen 1405, away from the person's click)
        fut = daemon.post_later("/v1/actions", {"action": "drag", "path": [[1000, 100], [1000, 700]],
                                                "duration": 30})  # fmt: skip
        settled(lambda: pointer()[0] in range(1400, 1411) and pointer()[1] > 150, 20, "the agent's drag under way")
        page.mouse.click(*canvas_point(page, 300, 900))
        out = fut.result(timeout=30).json()
        assert out["status"] == "interrupted", out
        state = daemon.http.get("/v1/state").json()
        assert state["control"] == "human" and state["takeovers"] == 1, state
        page.wait_for_selector("body[data-control='human']", timeout=10_000)
        shot(page, "takeover")
    finally:
        dpy.close()
        give_back(daemon, page, xserver)


def overlay_mapped(xserver: str) -> bool:
    dpy = display.Display(xserver)
    try:
        for w in dpy.screen().root.query_tree().children:
            cls = w.get_wm_class()
            if cls and cls[1] == "driverseat-overlay" and w.get_attributes().map_state == X.IsViewable:
                return True
        return False
    finally:
        dpy.close()


def test_a_correction_on_the_overlay_through_the_page_reaches_the_agent(
    page: Any, daemon: Daemon, xserver: str
) -> None:
    before = daemon.http.get("/v1/state").json()
    assert before["control"] == "agent"
    panel = pixel(page, 1700, 500)  # where the overlay's panel will be: the desktop, for now
    fut = daemon.post_later("/v1/actions", {"action": "click", "x": 100, "y": 100, "confidence": 0.4,
                                            "reason": "open the menu"})  # fmt: skip
    review = settled(lambda: daemon.pending(), 20, "the review")[0]
    assert review["rule"] == "view-careful-clicks"
    assert poll(lambda: overlay_mapped(xserver), timeout=20), "the overlay did not open"
    page.wait_for_selector("#reviews:has-text('review')", timeout=10_000)
    # the person sees the overlay in the page before answering it
    settled(lambda: pixel(page, 1700, 500) != panel, 15, "the overlay's panel on the canvas")
    shot(page, "review")
    # the person clicks the right spot on the overlay, in the browser, then presses Enter
    page.mouse.click(*canvas_point(page, 1200, 700))
    page.keyboard.press("Enter")
    out = fut.result(timeout=30).json()
    assert out["status"] == "corrected", out
    fb = out["feedback"]
    # screen (1200, 700) is agent (853, 497) at 1366/1920; a page pixel is ~1.4 screen pixels
    assert abs(fb["corrected"][0] - 853) <= 2 and abs(fb["corrected"][1] - 497) <= 2, fb["corrected"]
    assert fb["proposed"] == [100, 100]
    # review input, not a takeover
    assert daemon.http.get("/v1/state").json()["takeovers"] == before["takeovers"]
    assert poll(lambda: not overlay_mapped(xserver), timeout=20)


def test_without_the_token_the_page_and_its_websocket_are_refused(browser: Any, daemon: Daemon) -> None:
    pg = browser.new_page()
    try:
        response = pg.goto(daemon.url + "/view")
        assert response is not None and response.status == 401
        assert pg.locator("h1").inner_text() == "The live view needs the daemon's token"
        ws = daemon.url.replace("http://", "ws://", 1) + "/view/websocket"
        opened = pg.evaluate(
            """(urls) => Promise.all(urls.map((u) => new Promise((done) => {
                 const w = new WebSocket(u, ["binary"]);
                 w.onopen = () => { w.close(); done("open"); };
                 w.onerror = () => done("refused");
               })))""",
            [ws, ws + "?token=wrong", ws + "?token=" + daemon.token],
        )
        assert opened == ["refused", "refused", "open"]
    finally:
        pg.close()


def test_watch_only_sends_nothing(page: Any, daemon: Daemon, target: Any, xserver: str) -> None:
    """With *watch only* ticked a click on the canvas reaches nothing; unticked, the next one
    does. X delivers one device's events in order, so once the second click has arrived the
    first would have too."""

    def presses() -> list[dict[str, Any]]:
        return [e for e in target.snapshot() if e["type"] == "button_press"]

    try:
        page.check("#watch")
        page.mouse.click(*canvas_point(page, 500, 500))
        page.uncheck("#watch")
        page.mouse.click(*canvas_point(page, 900, 600))
        assert target.wait_for(lambda: bool(presses()), 15), "the second click never arrived"
        assert [(abs(e["x"] - 900) <= 2, abs(e["y"] - 600) <= 2) for e in presses()] == [(True, True)]
    finally:
        give_back(daemon, page, xserver)


def test_serve_view_without_x11vnc_is_one_sentence(tmp_path: Path) -> None:
    xvfb = shutil.which("Xvfb")
    assert xvfb is not None
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "Xvfb").symlink_to(xvfb)  # a PATH with Xvfb and no x11vnc
    out = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "serve", "--virtual-display", "640x480", "--view", "--port", "0",
         "--data-dir", str(tmp_path / "data"), "--no-overlay"],
        check=False, capture_output=True, text=True, timeout=120, env={**os.environ, "PATH": str(tmp_path / "bin")},
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("driverseat: cannot start the live view: x11vnc is not installed"), out.stderr
    assert "Traceback" not in out.stderr


def test_moving_the_mouse_over_the_page_takes_control(page: Any, daemon: Daemon, xserver: str) -> None:
    """As moving the real mouse does: hovering over the desktop is using it."""
    try:
        assert daemon.http.get("/v1/state").json()["control"] == "agent"
        page.mouse.move(*canvas_point(page, 700, 400))
        page.mouse.move(*canvas_point(page, 720, 420))
        assert poll(lambda: daemon.http.get("/v1/state").json()["control"] == "human", timeout=15)
    finally:
        give_back(daemon, page, xserver)


def test_the_pages_stop_and_resume_buttons(page: Any, daemon: Daemon, xserver: str) -> None:
    try:
        page.click("#stop")
        assert poll(lambda: daemon.http.get("/v1/state").json()["control"] == "stopped", timeout=15)
        page.wait_for_selector("body[data-control='stopped']", timeout=10_000)
        page.click("#resume")
        assert poll(lambda: daemon.http.get("/v1/state").json()["control"] == "agent", timeout=15)
    finally:
        give_back(daemon, page, xserver)


def test_make_run_without_a_display_turns_the_view_on() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}

    def recipe(*extra: str) -> str:
        out = subprocess.run(["make", "-n", "run", *extra], cwd=root, env=env, check=True,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        return out.stdout

    assert "serve --virtual-display 1920x1080 --view" in recipe()
    assert "--view" not in recipe("VIEW=")


@pytest.mark.because("Ctrl+C on `make run` reached Xvfb in the same process group, which died "
                     "first: the daemon's cleanup met closed connections and printed tracebacks")  # fmt: skip
def test_ctrl_c_on_make_runs_setup_stops_cleanly(tmp_path: Path) -> None:
    """`make run` without a display, stopped from its terminal: SIGINT to the whole group."""
    _need("x11vnc", shutil.which("x11vnc"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon.cli", "serve", "--virtual-display", "640x480", "--view", "--port", "0",
         "--data-dir", str(tmp_path / "data"), "--no-overlay"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != "DISPLAY"},
    )  # fmt: skip
    out = StderrLines(proc)
    try:
        url = out.wait_line(r"API: +(http://[\d.]+:\d+)", 60).group(1)

        def serving() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        assert poll(serving, timeout=30)  # uvicorn's own signal handling is in place
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does
        assert proc.wait(timeout=60) == 0
        assert poll(lambda: any("driverseat stopped" in line for line in out.lines), timeout=10), out.lines
        assert not any("Traceback" in line for line in out.lines), "\n".join(out.lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
