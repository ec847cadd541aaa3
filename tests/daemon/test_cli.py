"""``driverseat ...`` as a user meets it: help, argument errors, and a real serve lifecycle."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from daemon.cli import main
from tests.daemon.live import StderrLines

EXE = Path(sys.executable).with_name("driverseat")


def _run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "daemon.cli"]
    return subprocess.run(
        [*cmd, *args], check=False, capture_output=True, text=True, timeout=timeout, env=env
    )


def _poll(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- help and argument errors (in process: fast) ------------------------------------------------


def test_console_script_help() -> None:
    r = _run("--help")
    assert r.returncode == 0
    for word in ("serve", "token", "state", "resume", "stop", "act"):
        assert word in r.stdout


@pytest.mark.parametrize("command", ["serve", "token", "state", "resume", "stop", "act"])
def test_subcommand_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: driverseat {command}")
    assert "--data-dir" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
        (["serve", "--port", "http"], "argument --port: 'http' is not a TCP port"),
        (["serve", "--port", "70000"], "is not a TCP port"),
        (
            ["serve", "--kill-switch", "ctrl+nokey"],
            "argument --kill-switch: unknown key name 'nokey'",
        ),
        (["serve", "--kill-switch", "End"], "a kill switch needs modifiers"),
        (["serve", "--display", "nope"], "argument --display: 'nope' is not an X display name"),
        (["serve", "--virtual-display", "big"], "expected WIDTHxHEIGHT like 1920x1080"),
        (
            ["serve", "--resume-after", "-1"],
            "argument --resume-after: '-1' is not a number of seconds",
        ),
        (["serve", "--resume-after", "nan"], "is not a number of seconds"),
        (["act"], "the following arguments are required: action"),
    ],
)
def test_bad_arguments_exit_2_with_a_sentence(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_act_with_bad_json_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["act", "{x: 1}", "--data-dir", str(tmp_path)]) == 2
    assert "the action is not valid JSON" in capsys.readouterr().err


def test_serve_without_a_display_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("DRIVERSEAT_INPUT_BACKEND", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    data = tmp_path / "data"
    assert main(["serve", "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("driverseat: no X display")
    assert "--virtual-display 1920x1080" in err
    assert not data.exists()  # failing early leaves nothing behind


def test_token_command_creates_then_repeats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--data-dir", str(tmp_path)]) == 0
    first = capsys.readouterr().out.strip()
    assert main(["token", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == first
    assert (tmp_path / "token").read_text().strip() == first


def test_token_dir_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRIVERSEAT_DATA_DIR", str(tmp_path / "env"))
    assert main(["token"]) == 0
    assert (tmp_path / "env" / "token").read_text().strip() == capsys.readouterr().out.strip()


def test_state_when_no_daemon_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["token", "--data-dir", str(tmp_path)])
    capsys.readouterr()
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["state", "--url", url, "--data-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"driverseat: the driverseat daemon is not running at {url} "
        "(start it with `driverseat serve`)"
    )


def test_state_without_a_token_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["state", "--data-dir", str(tmp_path / "none")]) == 1
    assert "no token file" in capsys.readouterr().err


# -- a real daemon -------------------------------------------------------------------------------


_Serving = StderrLines


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[_Serving, str, Path]]:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    data = tmp_path / "data"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DRIVERSEAT_DATA_DIR")
    }
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "daemon.cli"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--virtual-display", "1280x800", "--port", "0", "--data-dir", str(data),
         "--no-overlay"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    s = _Serving(proc)
    try:
        url = s.wait_line(r"API: +(http://127\.0\.0\.1:\d+)").group(1)
        yield s, url, data
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        s.close()


@pytest.mark.x11
def test_serve_with_a_bad_policy_exits_2_naming_the_line(tmp_path: Path) -> None:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    bad = tmp_path / "policy.toml"
    bad.write_text('[defaults]\ntier = "auto"\n\n[[rule]]\nname = "x"\ntier = "aprove"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = _run("serve", "--virtual-display", "640x480", "--port", "0", "--no-overlay",
             "--data-dir", str(tmp_path / "data"), "--policy", str(bad), env=env)  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert f"driverseat: bad policy: {bad}:6: rule 'x': unknown tier 'aprove'" in r.stderr
    assert "Traceback" not in r.stderr
    assert "started a virtual display" not in r.stderr  # read before anything was opened


@pytest.mark.x11
def test_serve_lifecycle(serving: tuple[_Serving, str, Path]) -> None:
    s, url, data = serving
    display = s.wait_line(r"^no DISPLAY: started a virtual display (:\d+) \(1280x800\)$").group(1)
    assert _poll(lambda: _healthy(url))
    assert s.wait_line(r"^token file: (.+?) ").group(1) == str(data / "token")
    assert s.wait_line(r"^data dir: +(.+)$").group(1) == str(data)

    tok = _run("token", "--data-dir", str(data))
    assert tok.returncode == 0 and tok.stdout.strip() == (data / "token").read_text().strip()

    st = _run("state", "--url", url, "--data-dir", str(data))
    assert st.returncode == 0, st.stderr
    state = json.loads(st.stdout)
    assert state["control"] == "agent" and state["screen"] == [1280, 800]

    act = _run(
        "act", '{"action": "click", "x": 10, "y": 20}', "--url", url, "--data-dir", str(data)
    )
    assert act.returncode == 0, act.stderr
    assert json.loads(act.stdout)["status"] == "executed"

    off = _run(
        "act", '{"action": "click", "x": 10, "y": 2000}', "--url", url, "--data-dir", str(data)
    )
    assert off.returncode == 2
    assert "off the screen, which is 1280x800" in off.stderr

    assert (
        json.loads(_run("stop", "--url", url, "--data-dir", str(data)).stdout)["control"]
        == "stopped"
    )
    refused = _run(
        "act", '{"action": "move", "x": 1, "y": 1}', "--url", url, "--data-dir", str(data)
    )
    assert refused.returncode == 1 and json.loads(refused.stdout)["status"] == "interrupted"
    assert (
        json.loads(_run("resume", "--url", url, "--data-dir", str(data)).stdout)["control"]
        == "agent"
    )

    # another data dir means another token: refused, with a hint
    other = _run("state", "--url", url, "--data-dir", str(data.parent / "other"))
    assert other.returncode == 1 and "no token file" in other.stderr
    _run("token", "--data-dir", str(data.parent / "other"))
    wrong = _run("state", "--url", url, "--data-dir", str(data.parent / "other"))
    assert wrong.returncode == 1 and "wrong bearer token" in wrong.stderr

    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=15) == 0
    s.wait_line(r"^driverseat stopped")
    assert not _healthy(url)
    # the virtual display it started is gone with it
    assert _poll(lambda: not Path(f"/tmp/.X11-unix/X{display[1:]}").exists(), timeout=5)


def _healthy(url: str) -> bool:
    try:
        return bool(httpx.get(url + "/healthz", timeout=1).json().get("ok"))
    except httpx.HTTPError:
        return False


@pytest.mark.x11
def test_sigterm_halts_the_action_in_flight(serving: tuple[_Serving, str, Path]) -> None:
    s, url, data = serving
    assert _poll(lambda: _healthy(url))
    token = (data / "token").read_text().strip()
    ws_url = url.replace("http://", "ws://") + f"/v1/events?token={token}"
    db = sqlite3.connect(f"file:{data / 'driverseat.db'}?mode=ro", uri=True)
    try:
        with ThreadPoolExecutor(1) as pool, connect(ws_url, open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "state"
            long_wait = pool.submit(
                httpx.post,
                url + "/v1/actions",
                json={"action": "wait", "duration": 50},
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            assert _poll(
                lambda: (
                    db.execute("SELECT status FROM actions WHERE kind = 'wait'").fetchall()
                    == [("pending",)]
                )
            )
            t0 = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
            assert s.proc.wait(timeout=15) == 0
            assert time.monotonic() - t0 < 10  # not the 50 s the action asked for
            out = long_wait.result(timeout=5).json()
            assert out["status"] == "interrupted"
            assert "shut down" in out["detail"] or "stopped" in out["detail"]
            seen = []
            with pytest.raises(ConnectionClosed):
                while True:
                    seen.append(json.loads(ws.recv(timeout=5)))
            stops = [m for m in seen if m.get("type") == "control"]
            assert stops and {"to": "stopped", "by": "shutdown"}.items() <= stops[0].items(), seen
        final = db.execute("SELECT status FROM actions WHERE kind = 'wait'").fetchall()
        assert final == [("interrupted",)]
    finally:
        db.close()


def test_serve_listens_so_that_every_response_leaves_at_once() -> None:
    """Kept connections are fast only if accepted sockets have TCP_NODELAY: asyncio sets it
    when the listening socket's proto says TCP, and the option itself is inherited."""
    from daemon.cli.serve import _bind

    listener = _bind("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        with socket.create_connection(listener.getsockname()[:2]):
            conn, _ = listener.accept()
            with conn:
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()


@pytest.mark.x11
def test_clients_find_the_daemon_without_url_and_act_summarises_images(
    serving: tuple[_Serving, str, Path], tmp_path: Path
) -> None:
    s, url, data = serving
    assert _poll(lambda: _healthy(url))
    url_file = data / "url"
    assert url_file.read_text().strip() == url
    assert url_file.stat().st_mode & 0o777 == 0o600
    env = {k: v for k, v in os.environ.items() if k != "DRIVERSEAT_URL"}

    # no --url: the port was picked at random, the client reads it from the data dir
    st = _run("state", "--data-dir", str(data), env=env)
    assert st.returncode == 0, st.stderr
    assert json.loads(st.stdout)["control"] == "agent"

    shot = _run("act", '{"action": "screenshot"}', "--data-dir", str(data), env=env)
    assert shot.returncode == 0, shot.stderr
    out = json.loads(shot.stdout)
    assert out["status"] == "executed"
    assert re.fullmatch(r"\d+x\d+ PNG, \d+ (KB|B)", out["screenshot"]), out["screenshot"]
    assert len(shot.stdout) < 2000  # no base64 on the terminal

    png = tmp_path / "shot.png"
    saved = _run("act", '{"action": "screenshot"}', "--save", str(png), "--json",
                 "--data-dir", str(data), env=env)  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"saved {json.loads(saved.stdout)['screenshot']['width']}x" in saved.stderr
    full = json.loads(saved.stdout)["screenshot"]  # --json: the body as the daemon sent it
    assert base64.b64decode(full["data"]) == png.read_bytes()

    # a stop is reported as a stop, not as the person having had control
    assert _run("stop", "--data-dir", str(data), env=env).returncode == 0
    assert _run("resume", "--data-dir", str(data), env=env).returncode == 0
    moved = _run("act", '{"action": "move", "x": 5, "y": 5}', "--data-dir", str(data), env=env)
    detail = json.loads(moved.stdout)["detail"]
    assert detail.startswith("driverseat was stopped by a stop request"), detail
    assert "had control" not in detail

    # the environment variable wins over the file
    dead = f"http://127.0.0.1:{_closed_port()}"
    gone = _run("state", "--data-dir", str(data), env={**env, "DRIVERSEAT_URL": dead})
    assert gone.returncode == 1 and dead in gone.stderr

    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=15) == 0
    assert not url_file.exists()  # a clean exit takes its address with it


def test_serve_records_takeovers_unless_told_not_to() -> None:
    from daemon.cli import build_parser

    p = build_parser()
    assert p.parse_args(["serve"]).demonstrations is True
    assert p.parse_args(["serve", "--no-demonstrations"]).demonstrations is False


@pytest.mark.x11
def test_a_virtual_display_gets_the_buses_a_desktop_session_starts(serving: tuple[_Serving, str, Path]) -> None:
    """`make run` on a headless machine: applications started later on the virtual display
    (knowing nothing but DISPLAY) expose their elements, so corrections can name them."""
    from capture.a11y import A11y
    from capture.a11y._atspi import _x_root_property
    from tests.daemon.live import poll

    s, _url, _data = serving
    name = s.wait_line(r"started a virtual display (:\d+)").group(1)
    s.wait_line(r"started a session bus and the accessibility bus on " + re.escape(name))
    assert _x_root_property(name)
    if shutil.which("zenity") is None:
        pytest.skip("zenity is not installed")
    env = {"PATH": os.environ["PATH"], "DISPLAY": name, "HOME": str(_data)}
    app = subprocess.Popen(["zenity", "--question", "--text", "Escalate?", "--ok-label", "Escalate"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        with A11y(timeout=1.0, display=name) as lookup:
            def named() -> bool:
                return any(el.name == "Escalate" for el in [lookup.focused()] if el is not None) or any(
                    (e := lookup.element_at(x, y)) is not None and e.name == "Escalate"
                    for x in range(0, 640, 20) for y in range(0, 480, 20)
                )

            assert poll(named, timeout=20)
    finally:
        app.terminate()
        app.wait(timeout=10)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.x11
def test_a_killed_daemon_leaves_no_virtual_display_or_bus_behind(serving: tuple[_Serving, str, Path]) -> None:
    """kill -9 of `serve --virtual-display`: its Xvfb and the buses it started end with it."""
    from tests.daemon.live import poll

    s, _url, _data = serving
    s.wait_line(r"started a session bus and the accessibility bus")
    kids = [k for k in _children(s.proc.pid) if Path(f"/proc/{k}/cmdline").read_bytes().split(b"\0")[0].endswith(
        (b"Xvfb", b"dbus-daemon", b"at-spi-bus-launcher"))]  # fmt: skip
    assert len(kids) == 3, kids
    s.proc.kill()
    s.proc.wait(timeout=10)
    assert poll(lambda: not any(_alive(k) for k in kids), timeout=10), [k for k in kids if _alive(k)]
