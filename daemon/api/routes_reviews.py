"""The reviewer's HTTP API: list pending reviews, re-attach by id, fetch the frame, decide.

``router(queue, publish)`` is included by :func:`daemon.api.app.create_app`, behind its
bearer middleware. Errors are answered here as ``{"error": "..."}`` with the status a
:class:`~daemon.review.queue.ReviewError` carries (404, 409, 422), so the routes behave
the same in any app that includes them.

``publish`` receives ``{"type": "review_decided", "review": {...}}`` after every
decision posted here, first approvals of an ``approve2`` included, so every open
overlay sees a review another reviewer has answered. It must be safe to call from
the event loop thread.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from daemon.actions import DecisionRequest, Review
from daemon.adapters import describe_validation_error
from daemon.api.openapi import ErrorBody
from daemon.review.queue import ReviewError, ReviewQueue

__all__ = ["MAX_WAIT", "router"]

MAX_WAIT = 60.0  # seconds a long-poll may hold a request; clients loop for longer waits
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no review with that id"},
    409: {"model": ErrorBody, "description": "no longer pending, or a repeat approval"},
    422: {"model": ErrorBody, "description": "a decision that does not fit the review"},
}  # fmt: skip
_CACHE = "private, max-age=86400"  # a review's frame never changes
_DECISION_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": DecisionRequest.model_json_schema()}},
    }
}


def _error(exc: ReviewError) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


def _unprocessable(message: str, details: Any = None) -> JSONResponse:
    body = {"error": message} if details is None else {"error": message, "details": details}
    return JSONResponse(body, status_code=422)


def _review(review: Review) -> JSONResponse:
    return JSONResponse(review.model_dump(mode="json"))


def _wait_seconds(raw: str | None) -> float:
    """``?wait=S`` as seconds in [0, MAX_WAIT]; a longer wait is cut to the maximum."""
    if raw is None or raw == "":
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"wait must be a number of seconds from 0 to {MAX_WAIT:g}, got {raw!r}")
    return min(seconds, MAX_WAIT)


def router(queue: ReviewQueue, publish: Callable[[dict[str, Any]], None]) -> APIRouter:
    """The ``/v1/reviews`` routes around ``queue``; decisions are announced via ``publish``."""
    api = APIRouter(prefix="/v1/reviews", tags=["reviews"])

    @api.get("", response_model=list[Review])
    async def list_reviews() -> JSONResponse:
        """Every pending review, oldest first (the newest is last)."""
        pending = await asyncio.to_thread(queue.pending)
        return JSONResponse([r.model_dump(mode="json") for r in pending])

    @api.get("/{review_id}", response_model=Review, responses=_ERRORS)
    async def get_review(review_id: str, wait: str | None = None) -> JSONResponse:
        """One review by id. ``?wait=S`` holds the request until it is decided (or
        expires), at most S seconds (at most 60): an agent re-attaches with this."""
        try:
            seconds = _wait_seconds(wait)
        except ValueError as exc:
            return _unprocessable(str(exc))
        try:
            if seconds > 0:
                return _review(await queue.wait(review_id, seconds))
            found = await asyncio.to_thread(queue.get, review_id)
        except ReviewError as exc:
            return _error(exc)
        if found is None:
            return JSONResponse({"error": f"no review with id {review_id!r}"}, status_code=404)
        return _review(found)

    @api.get(
        "/{review_id}/screenshot",
        response_class=Response,
        responses={
            200: {"content": {"image/png": {}}, "description": "the frame"},
            404: _ERRORS[404],
        },
    )
    async def get_screenshot(review_id: str) -> Response:
        """The frame frozen when the action was proposed: PNG, screen pixels of the
        review's ``screen_rect`` (draw ``screen_action`` on it 1:1)."""
        try:
            png = await asyncio.to_thread(queue.screenshot, review_id)
        except ReviewError as exc:
            return _error(exc)
        return Response(png, media_type="image/png", headers={"Cache-Control": _CACHE})

    @api.post(
        "/{review_id}/decision",
        response_model=Review,
        responses=_ERRORS,
        openapi_extra=_DECISION_BODY,
    )
    async def post_decision(review_id: str, request: Request) -> JSONResponse:
        """Decide a review (body: DecisionRequest); returns the review after the decision."""
        raw = await request.body()
        if not raw:
            return _unprocessable("the request body is empty; send a DecisionRequest object")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return _unprocessable(f"the request body is not valid JSON: {exc}")
        try:
            req = DecisionRequest.model_validate(body)
        except ValidationError as exc:
            message, details = describe_validation_error(exc)
            return _unprocessable(message, details)
        try:
            review = await asyncio.to_thread(queue.decide, review_id, req)
        except ReviewError as exc:
            return _error(exc)
        publish({"type": "review_decided", "review": review.model_dump(mode="json")})
        return _review(review)

    return api
