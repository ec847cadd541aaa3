"""Desktop notifications: ``org.freedesktop.Notifications`` on the session bus (jeepney).

The protocol (Desktop Notifications Specification 1.2): ``Notify(app_name, replaces_id,
app_icon, summary, body, actions, hints, expire_timeout) -> id``, ``CloseNotification(id)``,
and the signals ``ActionInvoked(id, action_key)`` and ``NotificationClosed(id, reason)``.

Everything runs on threads of this module's own: :meth:`DesktopNotifier.notify` and
:meth:`DesktopNotifier.withdraw` only queue a command, so neither the agent's call nor
the event loop ever waits on the bus. A missing session bus or notification server is
said in one log line (and once more when it comes back), never raised: desktop
notifications are a courtesy, the overlay and the webhook do not depend on them.
"""

from __future__ import annotations

import contextlib
import html
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, Message, message_bus, new_method_call
from jeepney.io.common import RouterClosed
from jeepney.io.threading import DBusRouter, Proxy, open_dbus_connection
from jeepney.wrappers import DBusErrorResponse, unwrap_msg

from daemon.notify.item import Item

__all__ = ["ACTION_OPEN", "BUS_NAME", "DesktopNotifier", "OnAction"]

log = logging.getLogger("driverseat.notify")

BUS_NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
ACTION_OPEN = "open"
_URGENCY = {"normal": 1, "critical": 2}  # the spec's byte: 0 low, 1 normal, 2 critical
_RETRY_S = 30.0  # after a failure, how long notifications are dropped before trying again
_BODY_MAX = 300

OnAction = Callable[[str, str], None]
"""Called with ``(item id, action key)`` on the signal thread when the person clicks an
action of one of our notifications (``"default"`` is a click on the notification itself)."""


class _Down(Exception):
    """The bus or the server cannot be used now; the message says why, for the one log line."""


class DesktopNotifier:
    """Our notifications on the session bus; every method returns at once."""

    def __init__(
        self,
        on_action: OnAction,
        *,
        bus: str = "SESSION",
        call_timeout: float = 2.0,
        app_name: str = "driverseat",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_action = on_action
        self.bus = bus
        self.call_timeout = call_timeout
        self.app_name = app_name
        self.clock = clock
        self.sent: Callable[[Item, int], None] = lambda item, nid: None  # benchmarks, tests
        self._commands: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._router: DBusRouter | None = None
        self._server: str | None = None  # the server's unique name: signals from others are ignored
        self._down_until = 0.0
        self._down_said: str | None = None
        self._ids: dict[str, list[int]] = {}  # item id -> its notifications' ids (escalations add one)
        self._items: dict[int, str] = {}  # notification id -> item id
        self._lock = threading.Lock()  # _ids and _items: the worker writes, the signal thread reads
        self._signals: queue.Queue[Message] = queue.Queue()  # the connection's own, see _connection
        self._worker = threading.Thread(target=self._run, name="notify-desktop", daemon=True)
        self._worker.start()

    # -- the outside world (any thread, never blocks) -----------------------------------------
    def notify(self, item: Item) -> None:
        """Show ``item`` (one more notification for an escalation)."""
        self._commands.put(("notify", item))

    def withdraw(self, item_id: str) -> None:
        """Close every notification shown for ``item_id`` (it was answered or expired)."""
        self._commands.put(("close", item_id))

    def close(self) -> None:
        """Stop the threads and close the connection (notifications on screen stay)."""
        self._commands.put(None)
        self._worker.join(timeout=5)

    # -- the worker ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while (command := self._commands.get()) is not None:
                what, arg = command
                try:
                    if what == "notify":
                        self._notify(arg)
                    else:
                        self._close(arg)
                except _Down as exc:
                    self._went_down(str(exc))
        finally:
            self._disconnect()

    def _went_down(self, why: str) -> None:
        self._disconnect()
        self._down_until = self.clock() + _RETRY_S
        if why != self._down_said:  # one line per cause, not one per review
            log.warning("desktop notifications off: %s (the overlay and the webhook go on)", why)
            self._down_said = why

    def _connection(self) -> DBusRouter:
        if self._router is not None:
            return self._router
        if self.clock() < self._down_until:
            raise _Down(self._down_said or "the session bus was unusable a moment ago")
        try:
            conn = open_dbus_connection(self.bus, auth_timeout=self.call_timeout)
        except KeyError:
            raise _Down("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)") from None
        except (OSError, ValueError, RuntimeError) as exc:
            raise _Down(f"cannot reach the session bus: {exc}") from None
        router = DBusRouter(conn)
        # a queue for each connection: a listener of an earlier one never takes its messages
        signals: queue.Queue[Message] = queue.Queue(maxsize=256)
        self._signals = signals
        try:
            rule = MatchRule(type="signal", interface=BUS_NAME, path=PATH)
            router.filter(rule, queue=signals)
            Proxy(message_bus, router, timeout=self.call_timeout).AddMatch(rule)
        except (OSError, TimeoutError, DBusErrorResponse) as exc:
            router.close()
            conn.close()
            raise _Down(f"the session bus did not answer: {exc}") from None
        self._router = router
        threading.Thread(target=self._listen, args=(router, signals), name="notify-signals",
                         daemon=True).start()  # fmt: skip
        if self._down_said is not None:
            log.info("desktop notifications back on")
            self._down_said = None
        return router

    def _disconnect(self) -> None:
        router, self._router = self._router, None
        if router is not None:
            router.close()
            router.conn.close()
            with contextlib.suppress(queue.Full):  # then the listener sees the router changed
                self._signals.put_nowait(_STOP)

    def _call(self, method: str, signature: str, body: tuple[Any, ...]) -> Message:
        router = self._connection()
        addr = DBusAddress(PATH, bus_name=BUS_NAME, interface=BUS_NAME)
        try:
            reply = router.send_and_get_reply(new_method_call(addr, method, signature, body),
                                              timeout=self.call_timeout)  # fmt: skip
            unwrap_msg(reply)
        except TimeoutError:
            raise _Down(f"the notification server did not answer {method} within "
                        f"{self.call_timeout:g} s") from None  # fmt: skip
        except DBusErrorResponse as exc:
            if exc.name == "org.freedesktop.DBus.Error.ServiceUnknown":
                raise _Down(f"no notification server on the session bus ({BUS_NAME})") from None
            raise _Down(f"the notification server refused {method}: {exc.name} {exc.data}") from None
        except (OSError, RouterClosed) as exc:
            raise _Down(f"the session bus went away ({type(exc).__name__})") from None
        self._server = reply.header.fields.get(HeaderFields.sender, self._server)
        return reply

    def _notify(self, item: Item) -> None:
        if item.urgency == "log":
            return
        label = "Open question" if item.kind == "question" else "Open review"
        actions = ["default", label, ACTION_OPEN, label]
        hints = {"urgency": ("y", _URGENCY[item.urgency]), "category": ("s", "im"),
                 "desktop-entry": ("s", "driverseat")}  # fmt: skip
        # a critical item stays until it is answered; a normal one as long as the server says
        expire = 0 if item.urgency == "critical" else -1
        reply = self._call("Notify", "susssasa{sv}i",
                           (self.app_name, 0, "dialog-question", item.summary, _body(item),
                            actions, hints, expire))  # fmt: skip
        nid = int(reply.body[0])
        with self._lock:
            self._ids.setdefault(item.id, []).append(nid)
            self._items[nid] = item.id
        self.sent(item, nid)

    def _close(self, item_id: str) -> None:
        with self._lock:
            nids = self._ids.pop(item_id, [])
            for nid in nids:
                self._items.pop(nid, None)
        for nid in nids:
            self._call("CloseNotification", "u", (nid,))

    # -- signals ---------------------------------------------------------------------------
    def _listen(self, router: DBusRouter, signals: queue.Queue[Message]) -> None:
        while (msg := signals.get()) is not _STOP:
            if self._router is not router:
                return
            sender = msg.header.fields.get(HeaderFields.sender)
            member = msg.header.fields.get(HeaderFields.member)
            if self._server is not None and sender != self._server:
                continue  # anyone on the bus may send this signal; only the server's counts
            nid = int(msg.body[0])
            with self._lock:
                item_id = self._items.get(nid)
                if member == "NotificationClosed" and item_id is not None:
                    self._items.pop(nid, None)
            if member == "ActionInvoked" and item_id is not None:
                try:
                    self.on_action(item_id, str(msg.body[1]))
                except Exception:  # a broken callback must not end the listener
                    log.exception("the action of notification %d failed", nid)


_STOP: Any = object()


def _body(item: Item) -> str:
    """The notification's body: servers may read it as markup, and agent text is data."""
    text = item.body if len(item.body) <= _BODY_MAX else item.body[: _BODY_MAX - 1] + "…"
    return html.escape(text, quote=False)
