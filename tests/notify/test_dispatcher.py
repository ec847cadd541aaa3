"""The dispatcher on a real event hub: what is notified, escalated, withdrawn."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from daemon.events import EventHub
from daemon.notify.dispatcher import Dispatcher
from daemon.notify.item import Item
from daemon.store import Store
from daemon.timings import timing


class Desk:
    def __init__(self) -> None:
        self.shown: list[Item] = []
        self.withdrawn: list[str] = []

    def notify(self, item: Item) -> None:
        self.shown.append(item)

    def withdraw(self, item_id: str) -> None:
        self.withdrawn.append(item_id)

    def close(self) -> None:
        pass


class Hook:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    def post(self, payload: dict[str, Any]) -> None:
        self.posted.append(payload)

    def close(self) -> None:
        pass


def review(id: str, urgency: str, **extra: Any) -> dict[str, Any]:
    return {"id": id, "action": {"action": "key", "keys": "ctrl+w"}, "tier": "approve2",
            "rule": "r", "urgency": urgency, "created": time.time(), "status": "pending", **extra}  # fmt: skip


async def until(pred: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)  # yields to the loop the dispatcher runs on


def test_urgency_escalation_resolution_and_questions(tmp_path: Any) -> None:
    async def main() -> None:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        desk, hook = Desk(), Hook()
        store = Store(tmp_path / "d.db")
        d = Dispatcher(hub, "http://127.0.0.1:9", desktop=desk, webhook=hook, escalate_after=0.2,
                       store=store)  # fmt: skip
        await d.start()
        watch = hub.subscribe()
        try:
            hub.publish({"type": "review", "review": review("quiet", "log")})
            hub.publish({"type": "review", "review": review("normal", "normal")})
            hub.publish({"type": "review", "review": review("loud", "critical")})
            hub.publish({"type": "review", "review": review("loud", "critical")})  # again: once
            q = {"id": "q1", "question": "Which flight, the $500 or the $1,500 one?", "created": time.time()}
            hub.publish({"type": "question", "question": q})
            await until(lambda: len(desk.shown) == 3)
            assert [i.id for i in desk.shown] == ["normal", "loud", "q1"]
            assert desk.shown[2].summary == "driverseat asks: Which flight, the $500 or the $1,500 one?"
            assert desk.shown[2].link.endswith("/v1/questions/q1")
            # the critical one, unanswered, comes again, escalated; the normal one does not
            await until(lambda: any(p["event"] == "escalated" for p in hook.posted))
            esc = [p for p in hook.posted if p["event"] == "escalated"]
            assert [(p["id"], p["escalated"]) for p in esc] == [("loud", True)]
            assert desk.shown[-1].id == "loud" and desk.shown[-1].summary.startswith("Still waiting")
            hub.publish({"type": "review_resolved", "id": "loud"})
            hub.publish({"type": "question_resolved", "id": "q1"})
            await until(lambda: desk.withdrawn == ["loud", "q1"])
            assert [p["id"] for p in hook.posted if p["event"] == "resolved"] == ["loud", "q1"]
            await until(lambda: timing(store, "q1").answered is not None)
            # the "Open review" action asks the overlay to come up
            d.on_action("normal", "open")
            msg = await asyncio.wait_for(watch.get(), 5)
            while msg is not None and msg["type"] != "overlay_raise":
                msg = await asyncio.wait_for(watch.get(), 5)
            assert {k: v for k, v in msg.items() if k != "seq"} == {"type": "overlay_raise", "kind": "review", "id": "normal"}
        finally:
            await d.close()
            store.close()

    asyncio.run(main())


def test_a_resolved_critical_item_is_not_escalated() -> None:
    async def main() -> None:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        desk, hook = Desk(), Hook()
        d = Dispatcher(hub, "http://h", desktop=desk, webhook=hook, escalate_after=0.1)
        await d.start()
        try:
            hub.publish({"type": "review", "review": review("r", "critical")})
            hub.publish({"type": "review_resolved", "id": "r"})
            hub.publish({"type": "review", "review": review("s", "critical")})
            await until(lambda: any(p["event"] == "escalated" for p in hook.posted))
            assert [p["id"] for p in hook.posted if p["event"] == "escalated"] == ["s"]
        finally:
            await d.close()

    asyncio.run(main())


def test_reviews_pending_at_start_are_notified() -> None:
    """After a restart the adopted reviews wait again: they are notified again."""

    async def main() -> None:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        desk = Desk()
        d = Dispatcher(hub, "http://h", desktop=desk, pending=lambda: [review("old", "normal")])
        await d.start()
        try:
            assert [i.id for i in desk.shown] == ["old"]
            hub.publish({"type": "review", "review": review("old", "normal")})  # the same one: once
            hub.publish({"type": "review", "review": review("new", "normal")})
            await until(lambda: len(desk.shown) == 2)
            assert [i.id for i in desk.shown] == ["old", "new"]
        finally:
            await d.close()

    asyncio.run(main())


def test_a_missed_test_review_is_an_alert_on_the_desktop_and_the_webhook() -> None:
    async def main() -> None:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        desk, hook = Desk(), Hook()
        d = Dispatcher(hub, "http://127.0.0.1:9", desktop=desk, webhook=hook)
        await d.start()
        hub.publish({"type": "honeypot_missed", "review_id": "r1", "reviewer": "alice", "reviewer_id": "a1",
                     "wrong": "moved", "summary": "That was a test, and it was approved"})  # fmt: skip
        await until(lambda: bool(hook.posted))
        assert desk.shown[0].urgency == "critical" and "alice" in desk.shown[0].summary
        assert hook.posted[0]["event"] == "honeypot_missed" and hook.posted[0]["reviewer"] == "alice"
        await d.close()

    asyncio.run(main())
