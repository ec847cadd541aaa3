"""From the event stream to the person: what to notify, when to say it again, when to stop.

The :class:`Dispatcher` is one more subscriber of the daemon's :class:`EventHub`. It
reads ``review`` / ``question`` (an item waits: notify it), and ``review_resolved`` /
``question_resolved`` (it is over: withdraw the desktop notification, tell the webhook).
The notifiers only queue work for threads of their own, so handling an event takes
microseconds on the event loop and nothing here ever waits on a bus or a network.

Urgency comes with the item (a review's ``urgency`` is the policy's, see
:meth:`daemon.review.policy.Policy.urgency`): ``log`` is not notified, ``normal`` once,
``critical`` once and, still unanswered ``escalate_after`` seconds after it opened, once
more, escalated (a second desktop notification, the webhook with ``escalated: true``).

The notification's "Open" action publishes ``{"type": "overlay_raise", "kind", "id"}``:
the overlay (a client of the stream, maybe on another machine) raises its window and
takes the focus. Questions also get their ``answered`` moment stamped here (a review's
comes from its queue, with the decision): :mod:`daemon.timings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from daemon import timings
from daemon.events import EventHub, Subscription
from daemon.notify.item import Item
from daemon.store import Store

__all__ = ["Dispatcher", "Notifier", "Sink"]

log = logging.getLogger("driverseat.notify")
_OPEN_ACTIONS = ("default", "open")


class Notifier(Protocol):
    """A desktop notifier (:class:`~daemon.notify.freedesktop.DesktopNotifier`)."""

    def notify(self, item: Item) -> None: ...

    def withdraw(self, item_id: str) -> None: ...

    def close(self) -> None: ...


class Sink(Protocol):
    """A webhook (:class:`~daemon.notify.webhook.Webhook`)."""

    def post(self, payload: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class Dispatcher:
    """Notifies waiting items; start it on the daemon's loop once the hub is bound."""

    def __init__(
        self,
        hub: EventHub,
        base_url: str,
        *,
        desktop: Notifier | None = None,
        webhook: Sink | None = None,
        escalate_after: float = 120.0,
        store: Store | None = None,
        pending: Callable[[], list[dict[str, Any]]] = list,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.hub, self.base_url = hub, base_url
        self.desktop, self.webhook = desktop, webhook
        self.escalate_after = escalate_after
        self.store = store
        self.pending = pending  # the reviews waiting at start (adopted after a restart)
        self.clock = clock
        self._open: dict[str, Item] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle (event loop) ------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sub = self.hub.subscribe()
        self._task = asyncio.create_task(self._pump(self._sub), name="notify-dispatcher")
        for review in await asyncio.to_thread(self.pending):
            self.handle({"type": "review", "review": review})

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sub is not None:
            self.hub.unsubscribe(self._sub)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for notifier in (self.desktop, self.webhook):
            if notifier is not None:
                await asyncio.to_thread(notifier.close)

    async def _pump(self, sub: Subscription) -> None:
        while (msg := await sub.get()) is not None:
            try:
                self.handle(msg)
            except Exception:  # one odd message must not end the notifications
                log.exception("could not notify for a %s event", msg.get("type"))
        log.warning("notifications stopped: the event hub hung up on them")

    # -- events (event loop) ---------------------------------------------------------------
    def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "review" and isinstance(msg.get("review"), dict):
            if msg["review"].get("status", "pending") == "pending":
                self.opened(Item.from_review(msg["review"], self.base_url))
        elif kind == "question" and isinstance(msg.get("question"), dict):
            self.opened(Item.from_question(msg["question"], self.base_url))
        elif kind == "honeypot_missed" and isinstance(msg.get("review_id"), str):
            self.missed(msg)
        elif kind in ("review_resolved", "question_resolved") and isinstance(msg.get("id"), str):
            if kind == "question_resolved" and msg.get("status") not in ("expired", "cancelled", "withdrawn"):
                self._stamp_answered(msg["id"])
            self.resolved(msg["id"])

    def opened(self, item: Item) -> None:
        if item.id in self._open or item.urgency == "log":
            return  # the same review again (a restart's adoption, an approve2's update)
        if item.created <= 0:  # an item that says not when it opened: now, for its escalation
            item = replace(item, created=self.clock())
        self._open[item.id] = item
        self._send(item, "opened")
        if item.urgency == "critical" and self._loop is not None:
            left = max(0.0, item.created + self.escalate_after - self.clock())
            self._timers[item.id] = self._loop.call_later(left, self._escalate, item.id)

    def missed(self, msg: dict[str, Any]) -> None:
        """A test review was approved (docs/reviewers.md): the alert goes out once, at once,
        to whoever watches the reviewers (the webhook), and to the desktop."""
        rid = str(msg["review_id"])
        item = Item(
            kind="review", id=f"honeypot-{rid}", summary=f"driverseat: {msg.get('reviewer')} approved a test review",
            body=str(msg.get("summary", "")), urgency="critical", rule=None, created=self.clock(), expires=None,
            link=f"{self.base_url.rstrip('/')}/v1/reviews/{rid}",
        )  # fmt: skip
        if self.desktop is not None:
            self.desktop.notify(item)
        if self.webhook is not None:
            body = item.payload("honeypot_missed", self.clock(), uuid.uuid4().hex)
            body.update(reviewer=msg.get("reviewer"), reviewer_id=msg.get("reviewer_id"), wrong=msg.get("wrong"))
            self.webhook.post(body)

    def resolved(self, item_id: str) -> None:
        item = self._open.pop(item_id, None)
        if (timer := self._timers.pop(item_id, None)) is not None:
            timer.cancel()
        if item is None:
            return
        if self.desktop is not None:
            self.desktop.withdraw(item_id)
        if self.webhook is not None:
            self.webhook.post(item.payload("resolved", self.clock(), uuid.uuid4().hex))

    def _escalate(self, item_id: str) -> None:
        self._timers.pop(item_id, None)
        item = self._open.get(item_id)
        if item is None:
            return
        loud = item.escalation()
        self._open[item_id] = loud
        self._send(loud, "escalated")

    def _send(self, item: Item, event: str) -> None:
        if self.desktop is not None:
            self.desktop.notify(item)
        if self.webhook is not None:
            self.webhook.post(item.payload(event, self.clock(), uuid.uuid4().hex))

    # -- the notification's action (signal thread) -------------------------------------------
    def on_action(self, item_id: str, action: str) -> None:
        """The person clicked our notification: bring the overlay up on that item."""
        if action not in _OPEN_ACTIONS:
            return
        item = self._open.get(item_id)
        kind = item.kind if item is not None else "review"
        self.hub.publish({"type": "overlay_raise", "kind": kind, "id": item_id})

    def _stamp_answered(self, question_id: str) -> None:
        store = self.store
        if store is None or self._loop is None:
            return
        at = self.clock()
        self._loop.run_in_executor(None, timings.record, store, "question", question_id, "answered", at)
