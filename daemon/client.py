"""A small typed client of the daemon's API (sync :class:`Client`, async :class:`AsyncClient`).

>>> with Client.from_data_dir() as c:  # doctest: +SKIP
...     c.act({"action": "click", "x": 10, "y": 20}).status
'executed'

Errors: :class:`NotRunning` (nothing listens at the URL), :class:`~daemon.errors.AuthError`
(401), :class:`~daemon.errors.ActionError` (422: the action or decision was refused, nothing
ran), :class:`ClientError` for anything else unexpected; its ``details["status"]`` says
which (404: no such review, 409: the review was already decided or expired).
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from daemon.actions import DecisionRequest, Outcome, Review
from daemon.auth import default_data_dir, read_token
from daemon.errors import ActionError, AuthError, DaemonError

__all__ = ["DEFAULT_URL", "AsyncClient", "Client", "ClientError", "NotRunning"]

DEFAULT_URL = "http://127.0.0.1:8765"
# Actions may legitimately take a minute (a long text, a 60 s hold_key or wait).
ACTION_TIMEOUT = httpx.Timeout(connect=5.0, read=180.0, write=30.0, pool=5.0)
CONTROL_TIMEOUT = httpx.Timeout(10.0)
MAX_WAIT = 60.0  # the longest long-poll the daemon holds; a longer wait takes several


def _poll(left: float) -> tuple[dict[str, Any] | None, httpx.Timeout]:
    """Query and timeout of one long-poll of at most ``left`` seconds."""
    wait = min(max(0.0, left), MAX_WAIT)
    timeout = httpx.Timeout(connect=5.0, read=wait + 15.0, write=10.0, pool=5.0)
    return ({"wait": round(wait, 3)} if wait > 0 else None), timeout


def _review_path(review_id: str, tail: str = "") -> str:
    return f"/v1/reviews/{quote(review_id, safe='')}{tail}"


def _decision_body(req: DecisionRequest | dict[str, Any]) -> dict[str, Any]:
    if isinstance(req, DecisionRequest):
        return req.model_dump(mode="json", exclude_none=True)
    return dict(req)


class ClientError(DaemonError):
    """The daemon answered something this client did not expect."""


class NotRunning(ClientError):
    """Nothing answered at the daemon's URL."""


def _body(action: BaseModel | dict[str, Any]) -> dict[str, Any]:
    if isinstance(action, BaseModel):
        return action.model_dump(mode="json", exclude_none=True)
    return dict(action)


def _check(resp: httpx.Response) -> Any:
    try:
        data = resp.json()
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


def _not_running(url: str, exc: Exception) -> NotRunning:
    return NotRunning(
        f"the driverseat daemon is not running at {url} (start it with `driverseat serve`)",
        url=url,
        cause=str(exc),
    )


class _Base:
    def __init__(self, url: str = DEFAULT_URL, token: str = "") -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    def _token_from(cls, data_dir: str | Path | None) -> str:
        return read_token(data_dir if data_dir is not None else default_data_dir())


class Client(_Base):
    """Synchronous client; a context manager that closes its connection pool."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str = "",
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, token)
        self._http = httpx.Client(base_url=self.url, headers=self.headers, transport=transport)

    @classmethod
    def from_data_dir(cls, url: str = DEFAULT_URL, data_dir: str | Path | None = None) -> Client:
        """A client using the token the daemon wrote in ``data_dir`` (default: the user's)."""
        return cls(url, cls._token_from(data_dir))

    def _send(
        self,
        method: str,
        path: str,
        json: Any = None,
        timeout: httpx.Timeout = CONTROL_TIMEOUT,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        try:
            return self._http.request(method, path, json=json, timeout=timeout, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _not_running(self.url, exc) from exc
        except httpx.HTTPError as exc:
            raise ClientError(f"request to {self.url}{path} failed: {exc}") from exc

    def _request(
        self,
        method: str,
        path: str,
        json: Any = None,
        timeout: httpx.Timeout = CONTROL_TIMEOUT,
        params: dict[str, Any] | None = None,
    ) -> Any:
        return _check(self._send(method, path, json, timeout, params))

    def act(self, action: BaseModel | dict[str, Any]) -> Outcome:
        """Execute one canonical action; returns its Outcome (``status`` says what happened)."""
        return Outcome.model_validate(
            self._request("POST", "/v1/actions", _body(action), ACTION_TIMEOUT)
        )

    def anthropic(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        """Execute one Anthropic computer-tool ``input``; returns ``content``/``is_error``."""
        result: dict[str, Any] = self._request(
            "POST", "/v1/anthropic/computer", tool_input, ACTION_TIMEOUT
        )
        return result

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/v1/state")
        return result

    def stop(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", "/v1/control/stop")
        return result

    def resume(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", "/v1/control/resume")
        return result

    # -- reviews (the overlay's side) -------------------------------------------------------
    def reviews(self) -> list[Review]:
        """Every pending review, oldest first."""
        return [Review.model_validate(r) for r in self._request("GET", "/v1/reviews")]

    def review(self, review_id: str, wait: float = 0) -> Review:
        """One review; with ``wait`` (seconds) it returns as soon as the review is decided
        or expires, else as it stands when the wait ends (long-polls of 60 s at most)."""
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            params, timeout = _poll(left)
            data = self._request("GET", _review_path(review_id), None, timeout, params)
            review = Review.model_validate(data)
            if review.status != "pending" or left <= MAX_WAIT:
                return review

    def review_screenshot(self, review_id: str) -> bytes:
        """The review's frozen frame: PNG bytes, screen pixels of its ``screen_rect``."""
        resp = self._send("GET", _review_path(review_id, "/screenshot"))
        if resp.status_code != 200:
            _check(resp)
        return resp.content

    def decide(self, review_id: str, req: DecisionRequest | dict[str, Any]) -> Review:
        """Post a decision; returns the review after it (``status`` still ``pending`` after
        the first of two approvals)."""
        data = self._request("POST", _review_path(review_id, "/decision"), _decision_body(req))
        return Review.model_validate(data)

    def healthy(self) -> bool:
        """True if a daemon answers ``/healthz`` (no token needed)."""
        try:
            return bool(self._http.get("/healthz", timeout=2.0).json().get("ok"))
        except (httpx.HTTPError, ValueError):
            return False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_Base):
    """The same API for asyncio agents; ``async with`` closes it."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str = "",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, token)
        self._http = httpx.AsyncClient(base_url=self.url, headers=self.headers, transport=transport)

    @classmethod
    def from_data_dir(
        cls, url: str = DEFAULT_URL, data_dir: str | Path | None = None
    ) -> AsyncClient:
        return cls(url, cls._token_from(data_dir))

    async def _send(
        self,
        method: str,
        path: str,
        json: Any = None,
        timeout: httpx.Timeout = CONTROL_TIMEOUT,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, json=json, timeout=timeout, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _not_running(self.url, exc) from exc
        except httpx.HTTPError as exc:
            raise ClientError(f"request to {self.url}{path} failed: {exc}") from exc

    async def _request(
        self,
        method: str,
        path: str,
        json: Any = None,
        timeout: httpx.Timeout = CONTROL_TIMEOUT,
        params: dict[str, Any] | None = None,
    ) -> Any:
        return _check(await self._send(method, path, json, timeout, params))

    async def act(self, action: BaseModel | dict[str, Any]) -> Outcome:
        return Outcome.model_validate(
            await self._request("POST", "/v1/actions", _body(action), ACTION_TIMEOUT)
        )

    async def anthropic(self, tool_input: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "POST", "/v1/anthropic/computer", tool_input, ACTION_TIMEOUT
        )
        return result

    async def state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", "/v1/state")
        return result

    async def stop(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("POST", "/v1/control/stop")
        return result

    async def resume(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("POST", "/v1/control/resume")
        return result

    async def reviews(self) -> list[Review]:
        return [Review.model_validate(r) for r in await self._request("GET", "/v1/reviews")]

    async def review(self, review_id: str, wait: float = 0) -> Review:
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            params, timeout = _poll(left)
            data = await self._request("GET", _review_path(review_id), None, timeout, params)
            review = Review.model_validate(data)
            if review.status != "pending" or left <= MAX_WAIT:
                return review

    async def review_screenshot(self, review_id: str) -> bytes:
        resp = await self._send("GET", _review_path(review_id, "/screenshot"))
        if resp.status_code != 200:
            _check(resp)
        return resp.content

    async def decide(self, review_id: str, req: DecisionRequest | dict[str, Any]) -> Review:
        path = _review_path(review_id, "/decision")
        return Review.model_validate(await self._request("POST", path, _decision_body(req)))

    async def healthy(self) -> bool:
        try:
            return bool((await self._http.get("/healthz", timeout=2.0)).json().get("ok"))
        except (httpx.HTTPError, ValueError):
            return False

    async def aclose(self) -> None:
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
