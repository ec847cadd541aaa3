"""``/view`` over real HTTP, without X: the page and the WebSocket proxy refuse without the
daemon's token, carry bytes both ways with it, and serve only noVNC's own files.

The VNC server here is a unix socket of the test's own that greets like RFB and echoes,
and records every connection: a refused WebSocket must never reach it."""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.api.routes_view import LiveView, find_novnc
from daemon.control.runtime import Runtime
from daemon.review.gate import Gate
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.reviewers import Reviewers
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving
from tests.daemon.test_gate import PNG, POLICY, SCREEN

TOKEN = "view-token-0123456789abcdef"
GREETING = b"RFB 003.008\n"


class EchoVnc:
    """A unix socket that says the RFB greeting, then echoes; counts its connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connections = 0
        self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._srv.bind(str(path))
        self._srv.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            conn.sendall(GREETING)
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self) -> None:
        self._srv.close()


@pytest.fixture(scope="module")
def novnc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian's noVNC when installed, else a stand-in with the same layout."""
    found = find_novnc()
    if found is not None:
        return found
    root = tmp_path_factory.mktemp("novnc")
    (root / "core").mkdir()
    (root / "core" / "rfb.js").write_text("export default class RFB {}\n")
    (root / "vnc.html").write_text("<html></html>")
    return root


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, novnc: Path) -> Iterator[tuple[str, EchoVnc, Store]]:
    tmp: Path = tmp_path_factory.mktemp("view")
    sock_dir = Path(tempfile.mkdtemp(prefix="ds-view-test-"))  # short: sockaddr_un holds 108 bytes
    vnc = EchoVnc(sock_dir / "rfb")
    runtime = Runtime(FakeBackend((1366, 768)), step_interval=0.0)
    store = Store(tmp / "d.db")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp / "frames"), SCREEN, grab_frame=lambda: PNG)
    app = create_app(Daemon(runtime, store, gate), TOKEN, view=LiveView(vnc.path, novnc))
    try:
        with serving(app) as url:
            yield url, vnc, store
    finally:
        vnc.close()
        runtime.close()
        store.close()


def ws_url(url: str, token: str | None = TOKEN) -> str:
    base = url.replace("http://", "ws://", 1) + "/view/websocket"
    return base if token is None else f"{base}?token={token}"


def test_the_page_needs_the_token(served: tuple[str, EchoVnc, Store]) -> None:
    url, _, _ = served
    for address in ("/view", "/view?token=wrong"):
        r = httpx.get(url + address, timeout=30)
        assert r.status_code == 401, r.text
        assert "driverseat view" in r.text and "/view/app.js" not in r.text  # how to, not the viewer
    ok = httpx.get(f"{url}/view?token={TOKEN}", timeout=30)
    assert ok.status_code == 200 and '<script type="module" src="/view/app.js">' in ok.text
    assert TOKEN not in ok.text  # the page holds no token: its script reads its own address
    assert "script-src 'self'" in ok.headers["content-security-policy"]
    assert ok.headers["referrer-policy"] == "no-referrer"
    header = httpx.get(url + "/view", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert header.status_code == 200
    # the daemon's Host guard applies: a DNS-rebinding page's name is refused, token or not
    rebound = httpx.get(f"{url}/view?token={TOKEN}", headers={"Host": "evil.example:8765"}, timeout=30)
    assert rebound.status_code == 403


def test_a_reviewers_token_does_not_open_the_view(served: tuple[str, EchoVnc, Store]) -> None:
    """The view drives the desktop (any click is a takeover): the daemon's token only."""
    url, _, store = served
    reviewer_token = Reviewers(store).add("ann", ["ops"])[1]
    assert httpx.get(f"{url}/view?token={reviewer_token}", timeout=30).status_code == 401


def test_the_websocket_refuses_without_the_token_and_never_reaches_vnc(served: tuple[str, EchoVnc, Store]) -> None:
    url, vnc, _ = served
    before = vnc.connections

    async def refused(address: str, **kw: object) -> tuple[int, str]:
        with pytest.raises(InvalidStatus) as info:
            async with websockets.connect(address, **kw):  # type: ignore[arg-type]
                pass
        return info.value.response.status_code, json.loads(info.value.response.body)["error"]

    async def go() -> None:
        assert await refused(ws_url(url, None)) == (403, "refused: this WebSocket has no token; open the address `driverseat view` prints")
        assert await refused(ws_url(url, "wrong")) == (403, "refused: this WebSocket has a wrong token; open the address `driverseat view` prints")
        # another page served from this machine (another port) with the token still cannot
        origin = url.rsplit(":", 1)[0] + ":1"
        status, why = await refused(ws_url(url), origin=origin)
        assert status == 403 and "another origin" in why
        status, why = await refused(ws_url(url), origin="http://evil.example")  # the daemon's guard
        assert status == 403 and "comes from a page at 'http://evil.example'" in why

    asyncio.run(go())
    assert vnc.connections == before


def test_the_websocket_carries_rfb_both_ways(served: tuple[str, EchoVnc, Store]) -> None:
    url, vnc, _ = served

    async def go() -> None:
        async with websockets.connect(ws_url(url), subprotocols=["binary"], origin=url) as ws:  # type: ignore[list-item,arg-type]
            assert ws.subprotocol == "binary"
            assert await asyncio.wait_for(ws.recv(), 10) == GREETING
            payload = bytes(range(256)) * 512  # 128 KiB: more than one read of the socket
            await ws.send(payload)
            got = b""
            while len(got) < len(payload):
                got += await asyncio.wait_for(ws.recv(), 10)  # type: ignore[operator]
            assert got == payload

    before = vnc.connections
    asyncio.run(go())
    assert vnc.connections == before + 1


def test_only_novncs_scripts_are_served(served: tuple[str, EchoVnc, Store], novnc: Path) -> None:
    url, _, _ = served
    rfb = httpx.get(url + "/view/novnc/core/rfb.js", timeout=30)
    assert rfb.status_code == 200 and rfb.headers["content-type"].startswith("text/javascript")
    assert rfb.content == (novnc / "core" / "rfb.js").read_bytes()
    for path in ("/view/novnc/vnc.html", "/view/novnc/app/ui.js", "/view/novnc/../pyproject.toml", "/view/novnc/core/%2e%2e/vnc.html",
                 "/view/novnc/core/missing.js", "/view/novnc/core/%00.js", "/view/novnc/core/" + "a" * 300 + ".js",
                 "/view/novnc/" + "a" * 5000 + "/x.js", "/view/novnc/core/" + "a/" * 3000 + "x.js"):  # fmt: skip
        # a name the file system refuses (a NUL, a name or path too long) was a 500
        r = httpx.get(url + path, timeout=30)
        assert r.status_code == 404 and r.json()["error"], (path[:60], r.text[:200])
    assert httpx.get(url + "/view/app.js", timeout=30).text.startswith('import RFB from "/view/novnc/core/rfb.js"')


def _data_dir_with_token(tmp_path: Path) -> Path:
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "token").chmod(0o600)
    return tmp_path


def test_driverseat_view_prints_the_pages_address_with_the_token(
    served: tuple[str, EchoVnc, Store], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from daemon.cli import main

    url, _, _ = served
    assert main(["view", "--url", url, "--data-dir", str(_data_dir_with_token(tmp_path))]) == 0
    assert capsys.readouterr().out.strip() == f"{url}/view?token={TOKEN}"


def test_driverseat_view_says_when_there_is_no_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from daemon.cli import main

    data = str(_data_dir_with_token(tmp_path))
    runtime = Runtime(FakeBackend((1366, 768)), step_interval=0.0)
    store = Store(tmp_path / "d.db")
    try:
        with serving(create_app(Daemon(runtime, store, None), TOKEN)) as url:
            assert main(["view", "--url", url, "--data-dir", data]) == 1
            err = capsys.readouterr().err
            assert "serves no live view" in err and "serve --view" in err and TOKEN not in err
            for path in ("/view", "/view/app.js", "/view/novnc/core/rfb.js"):  # a 404 that says how
                r = httpx.get(url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
                assert r.status_code == 404 and "serve --view" in r.json()["error"], (path, r.text)
            assert httpx.get(url + "/view", timeout=30).status_code == 401  # and behind the token
    finally:
        runtime.close()
        store.close()
    assert main(["view", "--url", "http://127.0.0.1:9", "--data-dir", data]) == 1
    assert "no daemon answers at http://127.0.0.1:9" in capsys.readouterr().err
