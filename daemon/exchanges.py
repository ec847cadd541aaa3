"""The daemon's API as *exchanges*: everything a client does except I/O, written once.

As in httpx, each method of :class:`daemon.client.Client` and :class:`~daemon.client.AsyncClient`
is a generator that yields the requests it needs, is sent each response (or has the failure
to send thrown in) and returns the method's result; the two clients only send what it
yields. :class:`Steps` drives one exchange for them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from daemon.actions import MAX_LONG_POLL
from daemon.errors import ActionError, AuthError, DaemonError
from daemon.jsonsplice import loads
from daemon.outcomes import DecisionRequest, Outcome, Review
from daemon.question import AnswerRequest, Question, QuestionRequest

__all__ = ["ACTION_TIMEOUT", "CONTROL_TIMEOUT", "DEFAULT_URL", "MAX_WAIT", "REVIEW_LIFETIME", "ClientError",
           "NotRunning", "Predict", "StillHeld", "json_kind"]  # fmt: skip

DEFAULT_URL = "http://127.0.0.1:8765"
# An action held for a person's review is answered once the review is decided or expires:
# the shipped policy's review_expiry_seconds (assets/policy.toml; tests check they agree).
REVIEW_LIFETIME = 900.0
# Then it runs, which may legitimately take a minute (a long text, a 60 s hold_key or wait).
ACTION_TIMEOUT = httpx.Timeout(connect=5.0, read=REVIEW_LIFETIME + 120.0, write=30.0, pool=5.0)
CONTROL_TIMEOUT = httpx.Timeout(10.0)
HEALTH_TIMEOUT = httpx.Timeout(2.0)
MAX_WAIT = MAX_LONG_POLL  # the longest long-poll the daemon holds; a longer wait takes several

T = TypeVar("T")
W = TypeVar("W", Review, Question)  # what a long-poll waits on
# a shadow_action message and its frame (PNG) -> (the action the agent would have sent, its
# words), or None for no comment
Predict = Callable[[dict[str, Any], bytes], "tuple[BaseModel | dict[str, Any] | None, str] | None"]


class ClientError(DaemonError):
    """The daemon answered something this client did not expect."""


class NotRunning(ClientError):
    """Nothing answered at the daemon's URL."""


class StillHeld(ClientError):
    """No outcome within :data:`ACTION_TIMEOUT`: the action is most likely still held for a
    person's review (a policy may keep reviews longer than the shipped 900 s). It runs if
    approved all the same; ``details["review"]`` is the newest pending review's id, if any."""


# -- exchanges: what each method asks and how it reads the answers (no I/O) ---------------


class _Call(NamedTuple):
    """One request an exchange needs; the client sends it to its own URL with its token."""

    method: str
    path: str
    json: Any = None
    timeout: httpx.Timeout = CONTROL_TIMEOUT
    params: dict[str, Any] | None = None


# Sent an httpx.Response for each _Call it yields; returns the method's result.
_Exchange = Generator[_Call, httpx.Response, T]


def json_kind(value: Any) -> str:
    """What a JSON value is, in words: ``a list``, ``null``..."""
    if value is None:
        return "null"
    kinds: dict[type, str] = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def _body(model: BaseModel | dict[str, Any]) -> dict[str, Any]:
    """The JSON object sent for ``model``; ActionError (nothing sent) if it is not an object."""
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json", exclude_none=True)
    if not isinstance(model, dict):  # a list, a number, None...: dict() would raise TypeError
        raise ActionError(f'expected a JSON object like {{"action": "click", "x": 10, "y": 20}}, not {json_kind(model)}')
    return dict(model)


def _review_path(review_id: str, tail: str = "") -> str:
    return f"/v1/reviews/{quote(review_id, safe='')}{tail}"


def _poll(left: float) -> tuple[dict[str, Any] | None, httpx.Timeout]:
    """Query and timeout of one long-poll of at most ``left`` seconds."""
    wait = round(min(max(0.0, left), MAX_WAIT), 3)
    timeout = httpx.Timeout(connect=5.0, read=wait + 15.0, write=10.0, pool=5.0)
    return ({"wait": wait} if wait > 0 else None), timeout


def _check(resp: httpx.Response) -> Any:
    """The JSON of a successful answer; an error answer raised as the error it stands for."""
    try:
        data = loads(resp.content)  # a screenshot's base64 cut out first (daemon/jsonsplice.py)
    except ValueError:
        data = None
    message = data.get("error") if isinstance(data, dict) else None
    if resp.status_code == 401:
        raise AuthError(message or "the daemon refused the token")
    if resp.status_code == 422:
        raise ActionError(message or "the daemon refused the action", response=data)
    if resp.status_code >= 400 or data is None:
        raise ClientError(
            f"the daemon answered {resp.status_code}: {message or resp.text[:200]}",
            status=resp.status_code,
        )
    return data


def _json_of(call: _Call) -> _Exchange[Any]:
    """One request whose answer is JSON."""
    return _check((yield call))


def _dict_of(call: _Call) -> _Exchange[dict[str, Any]]:
    result: dict[str, Any] = yield from _json_of(call)
    return result


def _held(call: _Call) -> _Exchange[httpx.Response]:
    """Send an action; a read timeout becomes :class:`StillHeld`, naming the pending review."""
    try:
        return (yield call)
    except ClientError as exc:
        if not isinstance(exc.__cause__, httpx.ReadTimeout):
            raise
        cause = exc.__cause__
    pending: list[Review] = []
    with contextlib.suppress(DaemonError, ValidationError):  # the sentence goes out anyway
        pending = yield from _reviews()
    raise StillHeld(_held_sentence(pending, call.timeout.read), review=pending[-1].id if pending else None) from cause


def _held_sentence(pending: list[Review], waited: float | None) -> str:
    after = f"no outcome after {waited:g} s"
    if not pending:
        return (f"{after}, and no review is pending now: it may have just been decided and the "
                "action still be running; `driverseat state` shows who has control")  # fmt: skip
    newest = pending[-1]
    which = (f"review {newest.id}" if len(pending) == 1
             else f"{len(pending)} reviews are pending, the newest {newest.id}")  # fmt: skip
    return (
        f"{after}: the action is still waiting for a person's review ({which}, action "
        f"{newest.action_id}); it runs if approved, though this client stopped waiting. See it on "
        f"the desktop's overlay or in `driverseat view`'s page; GET {_review_path(newest.id)}?wait=60 "
        f"and GET /v1/actions/{quote(newest.action_id, safe='')} tell how it ended"
    )


def _anthropic(tool_input: dict[str, Any]) -> _Exchange[dict[str, Any]]:
    # with driverseat's envelope: the record's id and status, and the refusal's sentence
    call = _Call("POST", "/v1/anthropic/computer", tool_input, ACTION_TIMEOUT, {"envelope": 1})
    result: dict[str, Any] = _check((yield from _held(call)))
    return result


def _control(method: str, path: str) -> _Exchange[dict[str, Any]]:
    return (yield from _dict_of(_Call(method, path)))


def _act(action: BaseModel | dict[str, Any]) -> _Exchange[Outcome]:
    resp = yield from _held(_Call("POST", "/v1/actions", _body(action), ACTION_TIMEOUT))
    if resp.status_code == 200:  # parsed and validated in one step (a screenshot is 30 KB+)
        with contextlib.suppress(ValidationError):
            return Outcome.model_validate_json(resp.content)
    return Outcome.model_validate(_check(resp))


def _reviews() -> _Exchange[list[Review]]:
    data = yield from _json_of(_Call("GET", "/v1/reviews"))
    return [Review.model_validate(r) for r in data]


def _until_decided(
    path: str, wait: float, model: type[W], clock: Callable[[], float] = time.monotonic
) -> _Exchange[W]:
    """Long-polls of at most :data:`MAX_WAIT` until the review or question at ``path`` is
    no longer pending, or ``wait`` ends."""
    deadline = clock() + wait
    while True:
        left = deadline - clock()
        params, timeout = _poll(left)
        data = yield from _json_of(_Call("GET", path, None, timeout, params))
        found = model.model_validate(data)
        if found.status != "pending" or left <= MAX_WAIT:
            return found


def _review(review_id: str, wait: float, clock: Callable[[], float] = time.monotonic) -> _Exchange[Review]:
    return (yield from _until_decided(_review_path(review_id), wait, Review, clock))


def _png(path: str) -> _Exchange[bytes]:
    """A frame: its bytes as served (a screenshot, a shadowing frame)."""
    resp = yield _Call("GET", path)
    if resp.status_code != 200:
        _check(resp)
    return resp.content


def _review_screenshot(review_id: str) -> _Exchange[bytes]:
    return (yield from _png(_review_path(review_id, "/screenshot")))


def _element_under(review_id: str, x: int, y: int) -> _Exchange[dict[str, Any]]:
    return (yield from _dict_of(_Call("GET", _review_path(review_id, "/element"), params={"x": x, "y": y})))


def _decide(review_id: str, req: DecisionRequest | dict[str, Any]) -> _Exchange[Review]:
    data = yield from _json_of(_Call("POST", _review_path(review_id, "/decision"), _body(req)))
    return Review.model_validate(data)


def _commentary(
    action_id: str, predicted: BaseModel | dict[str, Any] | None, words: str, agent: str
) -> _Exchange[dict[str, Any]]:
    body: dict[str, Any] = {"action_id": action_id, "words": words, "agent": agent}
    if predicted is not None:
        body["predicted"] = _body(predicted)
    return (yield from _dict_of(_Call("POST", "/v1/shadow/commentary", body)))


def _frame(path: str) -> _Exchange[bytes]:
    return (yield from _png(path))


def _seen(review_id: str, moment: str) -> _Exchange[Review]:
    data = yield from _json_of(_Call("POST", _review_path(review_id, "/seen"), {"moment": moment}))
    return Review.model_validate(data)


def _question_path(question_id: str, tail: str = "") -> str:
    return f"/v1/questions/{quote(question_id, safe='')}{tail}"


def _question(question_id: str, wait: float, clock: Callable[[], float] = time.monotonic) -> _Exchange[Question]:
    return (yield from _until_decided(_question_path(question_id), wait, Question, clock))


def _ask(req: QuestionRequest | dict[str, Any]) -> _Exchange[Question]:
    """Ask; the question comes back pending (the clients then wait with :func:`_question`,
    and withdraw it if their caller gives up)."""
    data = yield from _json_of(_Call("POST", "/v1/questions", _body(req)))
    return Question.model_validate(data)


def _left(q: Question, wait: float | None) -> float:
    """How long to wait for ``q``'s answer (``wait`` None: as long as the question may wait)."""
    return q.expires - q.created + 1.0 if wait is None else wait


def _withdraw(question_id: str) -> _Exchange[Question]:
    data = yield from _json_of(_Call("POST", _question_path(question_id, "/withdraw")))
    return Question.model_validate(data)


def _questions() -> _Exchange[list[Question]]:
    data = yield from _json_of(_Call("GET", "/v1/questions"))
    return [Question.model_validate(q) for q in data]


def _question_screenshot(question_id: str) -> _Exchange[bytes]:
    return (yield from _png(_question_path(question_id, "/screenshot")))


def _question_seen(question_id: str, moment: str) -> _Exchange[Question]:
    data = yield from _json_of(_Call("POST", _question_path(question_id, "/seen"), {"moment": moment}))
    return Question.model_validate(data)


def _answer(question_id: str, req: AnswerRequest | dict[str, Any]) -> _Exchange[Question]:
    data = yield from _json_of(_Call("POST", _question_path(question_id, "/answer"), _body(req)))
    return Question.model_validate(data)


def _healthy() -> _Exchange[bool]:
    try:
        data = (yield _Call("GET", "/healthz", timeout=HEALTH_TIMEOUT)).json()
    except (ClientError, ValueError):  # ClientError: the shell could not send it
        return False
    return isinstance(data, dict) and bool(data.get("ok"))


def _send_error(url: str, request: httpx.Request, exc: httpx.HTTPError) -> ClientError:
    """What a failure to send ``request`` means to the caller."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return NotRunning(
            f"the driverseat daemon is not running at {url} (start it with `driverseat serve`)",
            url=url,
            cause=str(exc),
        )
    return ClientError(f"request to {request.url} failed: {exc}")


class _Steps(Generic[T]):
    """Steps one exchange: :attr:`request` is the one it waits for, None once it returned
    :attr:`result`. An error it does not handle comes out of :meth:`settle`."""

    def __init__(
        self, exchange: _Exchange[T], url: str, build: Callable[[_Call], httpx.Request]
    ) -> None:
        self._exchange, self._url, self._build = exchange, url, build
        self.request: httpx.Request | None = None
        self.result: T
        self._advance(lambda: next(exchange))

    def _advance(self, step: Callable[[], _Call]) -> None:
        try:
            self.request = self._build(step())
        except StopIteration as done:
            self.request, self.result = None, done.value

    def settle(self, outcome: httpx.Response | httpx.HTTPError) -> None:
        """Hand the exchange the answer to :attr:`request`, or the failure to send it."""
        if isinstance(outcome, httpx.Response):
            self._advance(lambda: self._exchange.send(outcome))
            return
        assert self.request is not None, "settle() after the exchange returned"
        err = _send_error(self._url, self.request, outcome)
        err.__cause__ = outcome  # as `raise err from outcome` would
        self._advance(lambda: self._exchange.throw(err))
