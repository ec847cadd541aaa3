"""The live view's VNC server on a real Xvfb: a unix socket and nothing else, frames of the
display, and input that the backend counts as the person's."""

from __future__ import annotations

import os
import queue
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from capture import CaptureError
from capture.input import InputEvent, Kind, Origin, open_backend
from capture.vnc import VncServer
from tests.daemon.live import poll
from tests.x11.rfb import RfbClient

pytestmark = pytest.mark.x11


@pytest.fixture(scope="module")
def vnc(xserver: str) -> Iterator[VncServer]:
    with VncServer(xserver) as v:
        yield v


def connect(v: VncServer) -> RfbClient:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(v.socket_path))
    return RfbClient(s)


def inet_inodes() -> set[str]:
    """The inode of every IPv4/IPv6 TCP and UDP socket on this machine."""
    found = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        path = Path("/proc/net") / table
        if path.exists():
            for line in path.read_text().splitlines()[1:]:
                found.add(line.split()[9])
    return found


def socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def test_vnc_listens_on_its_private_unix_socket_only(vnc: VncServer) -> None:
    assert vnc.pid is not None
    # no TCP or UDP socket at all, listening or not, IPv4 or IPv6 (x11vnc's defaults
    # listen on 5900 and [::]:5900): the unix socket is the only way in
    assert socket_inodes(vnc.pid) & inet_inodes() == set()
    assert stat.S_IMODE(vnc.socket_path.parent.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(vnc.socket_path.stat().st_mode)


def test_vnc_serves_the_display(vnc: VncServer, xserver: str) -> None:
    subprocess.run(["xsetroot", "-display", xserver, "-solid", "#2080c0"], check=True)
    c = connect(vnc)
    try:
        assert (c.width, c.height) == (1920, 1080)
        # the root window's colour reaches the viewer (x11vnc polls: wait for a frame that has
        # it); most of the screen, as other tests' windows and the cursor may cover some
        def painted() -> bool:
            frame = c.frame().astype(int)
            return bool((np.abs(frame - (0x20, 0x80, 0xC0)).max(axis=2) <= 2).mean() > 0.5)

        assert poll(painted, timeout=10)
    finally:
        c.close()


def test_a_viewers_click_is_the_persons_input(vnc: VncServer, xserver: str) -> None:
    """x11vnc injects through XTest from its own connection: the backend sees events from an
    XTEST device that match nothing it sent, which the intervention counts as the person."""
    backend = open_backend(xserver)
    events: queue.Queue[InputEvent] = queue.Queue()
    backend.start(events.put)
    c = connect(vnc)
    try:
        c.pointer(300, 200)
        c.pointer(300, 200, buttons=1)
        c.pointer(300, 200, buttons=0)
        seen: list[InputEvent] = []
        deadline = time.monotonic() + 10
        while not any(e.kind is Kind.BUTTON_UP for e in seen) and time.monotonic() < deadline:
            try:
                seen.append(events.get(timeout=0.5))
            except queue.Empty:
                pass
        presses = [e for e in seen if e.kind in (Kind.BUTTON_DOWN, Kind.BUTTON_UP)]
        assert [(e.kind, e.code) for e in presses] == [(Kind.BUTTON_DOWN, 1), (Kind.BUTTON_UP, 1)]
        assert {e.origin for e in seen} == {Origin.FOREIGN}
        assert backend.cursor_position() == (300, 200)
    finally:
        c.close()
        backend.close()


def test_closing_stops_the_server_and_removes_its_socket(xserver: str) -> None:
    v = VncServer(xserver).start()
    pid, sock = v.pid, v.socket_path
    assert pid is not None
    v.close()
    assert not sock.parent.exists()
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_missing_display_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="x11vnc exited at start on :999"):
        VncServer(":999", timeout=10).start()

