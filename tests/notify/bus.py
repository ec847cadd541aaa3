"""A private session bus and a tiny ``org.freedesktop.Notifications`` server on it (jeepney).

The server records every call (Notify with its summary, body, actions and hints;
CloseNotification) with the moment it arrived, and can invoke an action the way a real
server does when the person clicks it (the ``ActionInvoked`` signal). Used by the
notification tests, the e2e test against a real ``serve``, and bench/notify_latency.py.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from jeepney import (
    DBusAddress,
    HeaderFields,
    MessageType,
    message_bus,
    new_method_return,
    new_signal,
)
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.wrappers import new_error

__all__ = ["Call", "NotificationServer", "SessionBus"]

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class SessionBus:
    """``dbus-daemon --session`` of our own (our child: ``close`` ends exactly it)."""

    def __init__(self) -> None:
        if shutil.which("dbus-daemon") is None:
            raise RuntimeError("dbus-daemon is missing: the Debian package dbus provides it")
        self._proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                      stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self._proc.stdout is not None
        self.address = self._proc.stdout.readline().strip()
        if not self.address:
            self.close()
            raise RuntimeError("dbus-daemon printed no address")

    def env(self) -> dict[str, str]:
        return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.address}

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
        self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


@dataclass(frozen=True, slots=True)
class Call:
    member: str
    at: float  # time.time() when it arrived
    body: tuple[Any, ...]
    nid: int = 0  # the id a Notify was answered with

    @property
    def summary(self) -> str:
        return str(self.body[3])

    @property
    def text(self) -> str:
        return str(self.body[4])

    @property
    def actions(self) -> list[str]:
        return list(self.body[5])

    @property
    def urgency(self) -> int:
        return int(self.body[6]["urgency"][1])


@dataclass
class NotificationServer:
    """Answers Notify (with a fresh id), CloseNotification, GetCapabilities, GetServerInformation."""

    address: str
    calls: list[Call] = field(default_factory=list)
    hang: threading.Event = field(default_factory=threading.Event)  # set: calls get no answer

    def __post_init__(self) -> None:
        self._conn: DBusConnection = open_dbus_connection(self.address)
        reply = self._conn.send_and_get_reply(message_bus.RequestName(NAME, 4), timeout=5)
        assert reply.body[0] == 1, f"could not own {NAME}: {reply.body}"
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._conn.receive(timeout=0.2)  # bounded so close() is heard
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            member = msg.header.fields.get(HeaderFields.member)
            nid = next(self._ids) if member == "Notify" else 0
            with self._lock:
                self.calls.append(Call(str(member), time.time(), tuple(msg.body), nid))
            if self.hang.is_set():
                continue
            if member == "Notify":
                answer = new_method_return(msg, "u", (nid,))
            elif member == "CloseNotification":
                answer = new_method_return(msg)
                self._signal("NotificationClosed", "uu", (int(msg.body[0]), 3))
            elif member == "GetCapabilities":
                answer = new_method_return(msg, "as", (["actions", "body"],))
            elif member == "GetServerInformation":
                answer = new_method_return(msg, "ssss", ("test", "driverseat", "1", "1.2"))
            else:
                answer = new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod")
            with self._lock:
                self._conn.send(answer)

    def _signal(self, name: str, sig: str, body: tuple[Any, ...]) -> None:
        emitter = DBusAddress(PATH, interface=NAME)
        with self._lock:
            self._conn.send(new_signal(emitter, name, sig, body))

    def invoke(self, notification_id: int, action: str) -> None:
        """What a server does when the person clicks an action of a notification."""
        self._signal("ActionInvoked", "us", (notification_id, action))

    def of(self, member: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.member == member]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._conn.close()


