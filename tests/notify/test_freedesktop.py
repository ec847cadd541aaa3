"""Desktop notifications against a notification server on a private session bus."""

from __future__ import annotations

import logging
import queue

import pytest

from daemon.notify.freedesktop import DesktopNotifier
from daemon.notify.item import Item
from tests.daemon.live import poll
from tests.notify.bus import NotificationServer, SessionBus


def item(urgency: str = "critical", id: str = "r1", body: str = "rule 'x': <b>rm</b> & co") -> Item:
    return Item(kind="review", id=id, summary="driverseat: a key waits for two people to approve it",
                body=body, urgency=urgency, rule="x", created=1.0, expires=None,  # type: ignore[arg-type]
                link="http://127.0.0.1:1/v1/reviews/" + id)  # fmt: skip


def test_notify_says_summary_urgency_and_actions_and_close_withdraws(
    bus: SessionBus, server: NotificationServer
) -> None:
    with_actions: queue.Queue[tuple[str, str]] = queue.Queue()
    d = DesktopNotifier(lambda i, a: with_actions.put((i, a)), bus=bus.address)
    try:
        d.notify(item("critical", "r1"))
        d.notify(item("normal", "r2"))
        assert poll(lambda: len(server.of("Notify")) == 2)
        crit, normal = server.of("Notify")
        assert crit.summary == "driverseat: a key waits for two people to approve it"
        assert crit.urgency == 2 and normal.urgency == 1
        assert crit.actions == ["default", "Open review", "open", "Open review"]
        assert crit.body[7] == 0  # a critical one stays until it is answered
        assert crit.text == "rule 'x': &lt;b&gt;rm&lt;/b&gt; &amp; co"  # agent text is not markup
        d.withdraw("r1")
        assert poll(lambda: [c.body[0] for c in server.of("CloseNotification")] == [crit.nid])
        # the person clicks "Open review" on the other one
        server.invoke(normal.nid, "open")
        assert with_actions.get(timeout=5) == ("r2", "open")
        server.invoke(crit.nid, "open")  # withdrawn: no longer ours to act on
        server.invoke(normal.nid, "default")
        assert with_actions.get(timeout=5) == ("r2", "default")
    finally:
        d.close()


def test_a_log_item_is_not_shown(bus: SessionBus, server: NotificationServer) -> None:
    d = DesktopNotifier(lambda i, a: None, bus=bus.address)
    try:
        d.notify(item("log", "quiet"))
        d.notify(item("normal", "loud"))
        assert poll(lambda: len(server.of("Notify")) == 1)
        assert server.of("Notify")[0].summary.startswith("driverseat:")
    finally:
        d.close()


@pytest.mark.parametrize("where", ["no bus", "no server"])
def test_no_bus_or_no_server_is_one_log_line(
    where: str, bus: SessionBus, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "driverseat.notify")
    if where == "no bus":
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
        d = DesktopNotifier(lambda i, a: None)
    else:
        d = DesktopNotifier(lambda i, a: None, bus=bus.address)  # nobody owns the name
    try:
        for n in range(3):
            d.notify(item("critical", f"r{n}"))  # returns at once, raises nothing
        assert poll(lambda: any("desktop notifications off" in r.message for r in caplog.records))
        d.withdraw("r0")
    finally:
        d.close()
    lines = [r.message for r in caplog.records if "desktop notifications" in r.message]
    want = "no session bus" if where == "no bus" else "no notification server on the session bus"
    assert len(lines) == 1 and want in lines[0], lines
