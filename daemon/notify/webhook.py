"""The webhook for chat tools: a signed JSON POST per notification, retried, in the background.

Each delivery is the JSON body of :meth:`~daemon.notify.item.Item.payload`, sent as
``application/json`` with two headers:

- ``X-Driverseat-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body bytes under
  the shared secret (a receiver recomputes it and compares in constant time);
- ``X-Driverseat-Delivery: <id>``: the same on every retry of one delivery (the body's
  ``delivery`` too), so a receiver can drop repeats.

A connection error, a timeout, a 5xx or a 429 is retried with exponential backoff
(``first_delay``, doubled each time up to ``max_delay``, ``attempts`` in all); any other
answer ends the delivery. One worker thread sends them in order: :meth:`Webhook.post`
only queues, so a slow or hung receiver never holds the agent's call. The secret and
the URL's path and query (chat tools put tokens there) never reach the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "Webhook", "sign", "where"]

log = logging.getLogger("driverseat.notify")

SIGNATURE_HEADER = "X-Driverseat-Signature"
DELIVERY_HEADER = "X-Driverseat-Delivery"
_QUEUE = 1000  # deliveries waiting; past that the newest are dropped (and said so)


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=`` and the HMAC's hex digest."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def where(url: str) -> str:
    """The URL as it may be logged: scheme and host only."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}/…"


@dataclass(frozen=True, slots=True)
class _Delivery:
    body: bytes
    delivery: str


class Webhook:
    """POSTs deliveries to ``url`` from a worker thread; every method returns at once."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        attempts: int = 6,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a non-empty secret to sign its deliveries")
        self.url = url
        self._secret = secret
        self.attempts, self.first_delay, self.max_delay = max(1, attempts), first_delay, max_delay
        self.delivered: Callable[[dict[str, Any], int], None] = lambda payload, status: None
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                                  trust_env=False)  # fmt: skip
        self._queue: queue.Queue[_Delivery | None] = queue.Queue(_QUEUE)
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, name="notify-webhook", daemon=True)
        self._worker.start()

    def post(self, payload: dict[str, Any]) -> None:
        """Queue one delivery of ``payload`` (it must carry its ``delivery`` id)."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        try:
            self._queue.put_nowait(_Delivery(body, str(payload["delivery"])))
        except queue.Full:
            log.warning("webhook %s: %d deliveries wait already; dropped one", where(self.url), _QUEUE)

    def close(self, wait: float = 1.0) -> None:
        """Stop: the delivery in flight gets ``wait`` seconds, queued ones are dropped."""
        self._stopping.set()
        self._queue.put(None)
        self._worker.join(timeout=wait)
        if not self._worker.is_alive():
            self._http.close()

    def _run(self) -> None:
        while (d := self._queue.get()) is not None and not self._stopping.is_set():
            try:
                self._deliver(d)
            except Exception:  # the worker must outlive any one delivery
                log.exception("webhook %s: delivery %s failed", where(self.url), d.delivery)

    def _deliver(self, d: _Delivery) -> None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, d.body),
                   DELIVERY_HEADER: d.delivery, "User-Agent": "driverseat-webhook"}  # fmt: skip
        delay = self.first_delay
        why = ""
        for attempt in range(1, self.attempts + 1):
            try:
                resp = self._http.post(self.url, content=d.body, headers=headers)
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}"
            else:
                if resp.status_code < 300:
                    self.delivered(json.loads(d.body), resp.status_code)
                    return
                if resp.status_code < 500 and resp.status_code != 429:
                    log.warning("webhook %s refused delivery %s: HTTP %d (not retried)",
                                where(self.url), d.delivery, resp.status_code)  # fmt: skip
                    return
                why = f"HTTP {resp.status_code}"
            if attempt == self.attempts or self._stopping.wait(delay):  # a stop cuts the wait short
                break
            delay = min(delay * 2, self.max_delay)
        log.warning("webhook %s: gave up on delivery %s after %d attempt(s) (last: %s)",
                    where(self.url), d.delivery, attempt, why)  # fmt: skip
