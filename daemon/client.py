"""A small typed client of the daemon's API (sync :class:`Client`, async :class:`AsyncClient`).

>>> with Client.from_data_dir() as c:  # doctest: +SKIP
...     c.act({"action": "click", "x": 10, "y": 20}).status
'executed'

Errors: :class:`NotRunning` (nothing listens at the URL), :class:`~daemon.errors.AuthError`
(401), :class:`~daemon.errors.ActionError` (422: the action or decision was refused, nothing
ran), :class:`ClientError` for anything else unexpected; its ``details["status"]`` says
which (403: the rule wants an approver with a role this token's reviewer lacks, 404: no
such review, 409: the review was already decided or expired). A reviewer's own token
(``driverseat reviewer add``) serves the review methods; the daemon's serves them all.

As in httpx, everything but I/O is written once: each method is an *exchange*, a generator
that yields the requests it needs, is sent each response (or has the failure to send
thrown in) and returns the method's result. :class:`Client` and :class:`AsyncClient` only
send what it yields, each over one ``httpx`` client whose keep-alive connection stays open
between calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel

from capture.closing import Closing
from daemon.address import resolve_url
from daemon.auth import default_data_dir, read_token
from daemon.exchanges import (
    CONTROL_TIMEOUT,
    DEFAULT_URL,
    ClientError,
    NotRunning,
    Predict,
    T,
    _act,
    _answer,
    _anthropic,
    _ask,
    _body,
    _Call,
    _commentary,
    _control,
    _decide,
    _element_under,
    _Exchange,
    _frame,
    _healthy,
    _left,
    _question,
    _question_screenshot,
    _question_seen,
    _questions,
    _review,
    _review_screenshot,
    _reviews,
    _seen,
    _Steps,
    _withdraw,
)
from daemon.http11 import AsyncHTTP11Transport, HTTP11Transport
from daemon.outcomes import DecisionRequest, Outcome, Review
from daemon.question import AnswerRequest, Question, QuestionRequest

__all__ = ["DEFAULT_URL", "AsyncClient", "Client", "ClientError", "NotRunning"]

# -- the shells: the same methods, with sync or async I/O ---------------------------------

H = TypeVar("H", httpx.Client, httpx.AsyncClient)
_KEPT_URLS = 32
Transport = TypeVar("Transport", httpx.BaseTransport, httpx.AsyncBaseTransport)


class _BaseClient(Generic[H, Transport]):
    """The URL, the token and the httpx client of either kind; ``headers`` go with each call.

    The httpx client keeps its keep-alive connection (TCP_NODELAY set) open from one call
    to the next, until the client is closed; plain-HTTP URLs go through
    :mod:`daemon.http11` rather than httpcore.
    """

    _open: Callable[..., H]  # httpx.Client or httpx.AsyncClient
    _lean: Callable[[], Transport]  # its transport for plain HTTP (daemon.http11)

    def __init__(
        self, url: str = DEFAULT_URL, token: str = "", *, transport: Transport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        scheme, sep, rest = self.url.partition("://")
        if not sep or scheme not in ("http", "https") or not rest.split("/", 1)[0]:
            raise ValueError(f"{url!r} is not the daemon's address: give one like {DEFAULT_URL}")
        # no token, no header: "Bearer " alone is not a legal header value (h11 refuses it)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Plain HTTP goes to daemon.http11 directly: httpx's build_request (merging URLs and
        # headers, ~0.1 ms) and send (auth flow, cookie extraction through urllib) cost a
        # Python client more than the daemon's whole answer to GET /v1/state. The requests
        # stay httpx.Request objects, the answers httpx.Response objects, the errors httpx's.
        self._direct: Transport | None = None
        if transport is None and self.url.startswith("http://"):
            transport = self._direct = self._lean()
        self._http: H = self._open(base_url=self.url, headers=self.headers, transport=transport)
        self._raw_headers: list[tuple[bytes, bytes]] = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        self._urls: dict[str, httpx.URL] = {}

    @classmethod
    def from_data_dir(cls, url: str | None = None, data_dir: str | Path | None = None) -> Self:
        """A client of the running daemon, with the token it wrote in ``data_dir`` (default:
        the user's), at ``url`` or else where the CLI looks (:func:`daemon.address.resolve_url`):
        ``$DRIVERSEAT_URL``, the URL ``driverseat serve`` wrote in ``data_dir``, the default."""
        where = data_dir if data_dir is not None else default_data_dir()
        return cls(resolve_url(url, where), read_token(where))

    def _steps(self, exchange: _Exchange[T]) -> _Steps[T]:
        return _Steps(exchange, self.url, self._build)

    def _build(self, call: _Call) -> httpx.Request:
        if self._direct is None:
            return self._http.build_request(
                call.method, call.path, json=call.json, params=call.params, timeout=call.timeout
            )
        target = call.path + ("?" + urlencode(call.params) if call.params else "")
        url = self._urls.get(target)
        if url is None:
            url = httpx.URL(self.url + target)
            if len(self._urls) < _KEPT_URLS:  # the fixed routes; ids in paths vary
                self._urls[target] = url
        headers: list[tuple[bytes, bytes]] = self._raw_headers
        content = b""
        if call.json is not None:  # as httpx encodes json=
            content = json.dumps(call.json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            headers = [*headers, (b"Content-Type", b"application/json")]
        return httpx.Request(
            call.method, url, headers=headers, content=content, extensions={"timeout": call.timeout.as_dict()}
        )


class Client(_BaseClient[httpx.Client, httpx.BaseTransport], Closing):
    """Synchronous client; a context manager that closes its connection.

    ``Client(url, token, transport=...)``: ``transport`` replaces the network (tests pass
    an ``httpx.MockTransport``).
    """

    _open = httpx.Client
    _lean = HTTP11Transport

    def _run(self, exchange: _Exchange[T]) -> T:
        steps = self._steps(exchange)
        while (request := steps.request) is not None:
            steps.settle(self._send(request))
        return steps.result

    def act(self, action: BaseModel | dict[str, Any]) -> Outcome:
        """Execute one canonical action; returns its Outcome (``status`` says what happened)."""
        return self._run(_act(action))

    def anthropic(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        """Execute one Anthropic computer-tool ``input``; returns ``content``/``is_error``."""
        return self._run(_anthropic(tool_input))

    def state(self) -> dict[str, Any]:
        """Who has control (``agent``, ``human``, ``stopped``) and the screen size."""
        return self._run(_control("GET", "/v1/state"))

    def stop(self) -> dict[str, Any]:
        """Stop the agent until :meth:`resume`, as the kill switch does."""
        return self._run(_control("POST", "/v1/control/stop"))

    def resume(self) -> dict[str, Any]:
        """Give control back to the agent after a stop."""
        return self._run(_control("POST", "/v1/control/resume"))

    # -- reviews (the overlay's side) -------------------------------------------------------
    def reviews(self) -> list[Review]:
        """Every pending review, oldest first."""
        return self._run(_reviews())

    def review(self, review_id: str, wait: float = 0) -> Review:
        """One review; with ``wait`` (seconds) it returns as soon as the review is decided
        or expires, else as it stands when the wait ends (long-polls of 60 s at most)."""
        return self._run(_review(review_id, wait))

    def review_screenshot(self, review_id: str) -> bytes:
        """The review's frozen frame: PNG bytes, screen pixels of its ``screen_rect``."""
        return self._run(_review_screenshot(review_id))

    def element_under(self, review_id: str, x: int, y: int) -> dict[str, Any]:
        """What a correction at screen point (x, y) of a pending review would name:
        ``source``, ``box`` (screen), ``agent_box``, ``role``, ``name``, ``label``."""
        return self._run(_element_under(review_id, x, y))

    def decide(self, review_id: str, req: DecisionRequest | dict[str, Any]) -> Review:
        """Post a decision; returns the review after it (``status`` still ``pending`` after
        the first of two approvals)."""
        return self._run(_decide(review_id, req))

    def seen(self, review_id: str, moment: str) -> Review:
        """Report that the overlay showed a review (``"shown"``) or that the person first
        turned to it (``"looked"``); the review's ``timing`` after it."""
        return self._run(_seen(review_id, moment))

    # -- questions (the agent asks the person; the overlay answers) -----------------------
    def ask(self, question: QuestionRequest | dict[str, Any], wait: float | None = None) -> Question:
        """Ask the person (``{"question": ..., "options": [{"text": ...}, ...], ...}``) and
        wait for the answer, at most ``wait`` s (default: the question's own timeout).
        The answer is ``.answer`` (None if it expired: ``.status`` says so). Interrupted
        (Ctrl-C), it withdraws the question from the person's screen, even when the
        interrupt came while the question was on its way."""
        # Posted from a worker thread, waited for here: a Ctrl-C (raised on this thread
        # only) that comes while the question is on its way cannot lose the answer, which
        # carries the id; raised in the request, it left the question on the person's
        # screen with nobody waiting for it. One withdrawal covers both waits.
        sent: Future[Question] = Future()

        def post() -> None:
            try:
                sent.set_result(self._run(_ask(question)))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                sent.set_exception(exc)

        threading.Thread(target=post, name="driverseat-ask", daemon=True).start()
        try:
            q = sent.result()
            if q.status != "pending":
                return q
            return self._run(_question(q.id, _left(q, wait)))
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):  # its own failure is nothing to add now
                asked = sent.result(timeout=CONTROL_TIMEOUT.read)  # a few ms; a second Ctrl-C ends this
                if asked.status == "pending":
                    self.withdraw_question(asked.id)
            raise

    def withdraw_question(self, question_id: str) -> Question:
        """Take a pending question off the person's screen, unanswered (``withdrawn``)."""
        return self._run(_withdraw(question_id))

    def question(self, question_id: str, wait: float = 0) -> Question:
        """One question; with ``wait`` it returns as soon as it is answered or expires."""
        return self._run(_question(question_id, wait))

    def questions(self) -> list[Question]:
        """Every pending question, oldest first."""
        return self._run(_questions())

    def question_screenshot(self, question_id: str) -> bytes:
        """The question's frozen frame: PNG bytes, screen pixels of its ``screen_rect``."""
        return self._run(_question_screenshot(question_id))

    def answer(self, question_id: str, req: AnswerRequest | dict[str, Any]) -> Question:
        """Answer a question (the overlay's side); returns the question after it."""
        return self._run(_answer(question_id, req))

    def question_seen(self, question_id: str, moment: str) -> Question:
        """Report that the overlay showed a question (``"shown"``) or that the person
        first turned to it (``"looked"``)."""
        return self._run(_question_seen(question_id, moment))

    def healthy(self) -> bool:
        """True if a daemon answers ``/healthz`` (no token needed)."""
        return self._run(_healthy())

    # -- shadowing (the agent watching the person) ----------------------------------------------
    def comment(
        self,
        action_id: str,
        predicted: BaseModel | dict[str, Any] | None = None,
        words: str = "",
        agent: str = "agent",
    ) -> dict[str, Any]:
        """Post what the agent would have done instead of the person's action ``action_id``
        (``POST /v1/shadow/commentary``); returns the stored comment, ``agrees`` scored."""
        return self._run(_commentary(action_id, predicted, words, agent))

    def frame(self, path: str) -> bytes:
        """A recorded frame (PNG bytes) by the path a ``shadow_action`` names."""
        return self._run(_frame(path))

    def shadow(self, predict: Predict, *, agent: str = "agent", limit: int | None = None,
               stop: Callable[[], bool] = lambda: False) -> int:
        """Watch the person and comment: for each ``shadow_action`` on ``WS /v1/events``,
        call ``predict(message, frame_png)`` and post what it returns, ``(action, words)``
        (None: no comment). Returns the number posted, after ``limit`` of them or once
        ``stop()`` is true (checked at least every second).

        ``action`` is what the agent would have sent, in the frame's pixels unless it says
        otherwise (``"space": "screen"`` is added when it names no space).
        """
        from websockets.sync.client import connect

        ws_url = self.url.replace("http", "ws", 1) + "/v1/events"
        posted = 0
        with connect(ws_url, additional_headers=self.headers, open_timeout=10) as ws:
            while not stop() and (limit is None or posted < limit):
                try:
                    raw = ws.recv(timeout=1.0)
                except TimeoutError:
                    continue
                msg = json.loads(raw)
                if msg.get("type") != "shadow_action":
                    continue
                png = self.frame(msg["frame"]) if msg.get("frame") else b""
                answer = predict(msg, png)
                if answer is None:
                    continue
                action, words = answer
                if action is not None:
                    action = {"space": "screen", **_body(action)}
                self.comment(msg["action_id"], action, words, agent)
                posted += 1
        return posted

    def close(self) -> None:
        """Close the connection."""
        self._http.close()

    def _send(self, request: httpx.Request) -> httpx.Response | httpx.HTTPError:
        try:
            if self._direct is not None:
                return self._direct.handle_request(request)  # read whole already
            return self._http.send(request)
        except httpx.HTTPError as exc:  # the exchange gets it, in this client's words
            return exc


class AsyncClient(_BaseClient[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """The same API for asyncio agents, each method awaited; ``async with`` closes it."""

    _open = httpx.AsyncClient
    _lean = AsyncHTTP11Transport

    async def _run(self, exchange: _Exchange[T]) -> T:
        steps = self._steps(exchange)
        while (request := steps.request) is not None:
            steps.settle(await self._send(request))
        return steps.result

    async def act(self, action: BaseModel | dict[str, Any]) -> Outcome:
        return await self._run(_act(action))

    async def anthropic(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        return await self._run(_anthropic(tool_input))

    async def state(self) -> dict[str, Any]:
        return await self._run(_control("GET", "/v1/state"))

    async def stop(self) -> dict[str, Any]:
        return await self._run(_control("POST", "/v1/control/stop"))

    async def resume(self) -> dict[str, Any]:
        return await self._run(_control("POST", "/v1/control/resume"))

    async def reviews(self) -> list[Review]:
        return await self._run(_reviews())

    async def review(self, review_id: str, wait: float = 0) -> Review:
        return await self._run(_review(review_id, wait))

    async def review_screenshot(self, review_id: str) -> bytes:
        return await self._run(_review_screenshot(review_id))

    async def element_under(self, review_id: str, x: int, y: int) -> dict[str, Any]:
        return await self._run(_element_under(review_id, x, y))

    async def decide(self, review_id: str, req: DecisionRequest | dict[str, Any]) -> Review:
        return await self._run(_decide(review_id, req))

    async def seen(self, review_id: str, moment: str) -> Review:
        return await self._run(_seen(review_id, moment))

    async def ask(self, question: QuestionRequest | dict[str, Any], wait: float | None = None) -> Question:
        """As :meth:`Client.ask`; cancelled (an MCP client's ``notifications/cancelled``),
        it withdraws the question before the cancel goes on, even when the cancel came
        while the question was on its way (the request is shielded and finished first)."""
        sent = asyncio.ensure_future(self._run(_ask(question)))
        try:
            q = await asyncio.shield(sent)
            if q.status != "pending":
                return q
            return await self._run(_question(q.id, _left(q, wait)))
        except asyncio.CancelledError:  # one withdrawal covers both waits
            with contextlib.suppress(Exception):  # its own failure is nothing to add now
                asked = await asyncio.shield(sent)  # a few ms; a second cancel ends this wait
                if asked.status == "pending":
                    await asyncio.shield(self.withdraw_question(asked.id))
            raise

    async def withdraw_question(self, question_id: str) -> Question:
        return await self._run(_withdraw(question_id))

    async def question(self, question_id: str, wait: float = 0) -> Question:
        return await self._run(_question(question_id, wait))

    async def questions(self) -> list[Question]:
        return await self._run(_questions())

    async def question_screenshot(self, question_id: str) -> bytes:
        return await self._run(_question_screenshot(question_id))

    async def answer(self, question_id: str, req: AnswerRequest | dict[str, Any]) -> Question:
        return await self._run(_answer(question_id, req))

    async def question_seen(self, question_id: str, moment: str) -> Question:
        return await self._run(_question_seen(question_id, moment))

    async def healthy(self) -> bool:
        return await self._run(_healthy())

    async def comment(
        self,
        action_id: str,
        predicted: BaseModel | dict[str, Any] | None = None,
        words: str = "",
        agent: str = "agent",
    ) -> dict[str, Any]:
        return await self._run(_commentary(action_id, predicted, words, agent))

    async def frame(self, path: str) -> bytes:
        return await self._run(_frame(path))

    async def aclose(self) -> None:
        """Close the connection."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, request: httpx.Request) -> httpx.Response | httpx.HTTPError:
        try:
            if self._direct is not None:
                return await self._direct.handle_async_request(request)  # read whole already
            return await self._http.send(request)
        except httpx.HTTPError as exc:  # the exchange gets it, in this client's words
            return exc
