"""The reviewer's HTTP API: list pending reviews, re-attach by id, fetch the frame, decide.

``router(queue)`` is included by :func:`daemon.api.app.create_app` when reviews are on,
behind its bearer middleware (which also accepts a reviewer's token here, and only here).
Errors (:class:`~daemon.review.queue.ReviewError`: 403, 404, 409, 422) become HTTP in :mod:`daemon.api.http`. Every decision is announced on the
event stream by the daemon (a listener of the queue), whoever posted it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from daemon.actions import MAX_LONG_POLL
from daemon.api.bodies import ErrorBody
from daemon.outcomes import DecisionRequest, Review, SeenReport
from daemon.review.queue import ReviewQueue, UnknownReview
from daemon.reviewers import Identity

__all__ = ["REVIEWER_KEY", "REVIEW_PREFIX", "router"]

REVIEW_PREFIX = "/v1/reviews"
REVIEWER_KEY = "driverseat.reviewer"
"""The ASGI scope key of the :class:`~daemon.reviewers.Identity` whose reviewer token made
the request (absent with the daemon's token)."""

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no review with that id"},
    403: {"model": ErrorBody, "description": "the rule needs an approver with a role this reviewer lacks"},
    409: {"model": ErrorBody, "description": "no longer pending, or a repeat approval"},
    422: {"model": ErrorBody, "description": "a decision that does not fit the review"},
}  # fmt: skip
_CACHE = "private, max-age=86400"  # a review's frame never changes
Wait = Annotated[
    float,
    Query(ge=0, allow_inf_nan=False, description=f"seconds to wait for a decision (cut to {MAX_LONG_POLL:g})"),
]


def _review(review: Review) -> JSONResponse:
    return JSONResponse(review.model_dump(mode="json"))


ElementUnder = Callable[[str, int, int], dict[str, Any]]  # review id, screen x, y -> element
Coord = Annotated[int, Query(ge=-(2**31), le=2**31 - 1, description="screen pixel")]


def router(queue: ReviewQueue, element_under: ElementUnder | None = None) -> APIRouter:
    """The ``/v1/reviews`` routes around ``queue``; ``element_under`` answers the hover
    question (:meth:`daemon.review.gate.Gate.element_under`)."""
    api = APIRouter(prefix=REVIEW_PREFIX, tags=["reviews"])

    @api.get("", response_model=list[Review])
    async def list_reviews() -> JSONResponse:
        """Every pending review, oldest first (the newest is last)."""
        pending = await asyncio.to_thread(queue.pending)
        return JSONResponse([r.model_dump(mode="json") for r in pending])

    @api.get("/{review_id}", response_model=Review, responses=_ERRORS)
    async def get_review(review_id: str, wait: Wait = 0.0) -> JSONResponse:
        """One review by id. ``?wait=S`` holds the request until it is decided (or
        expires), at most S seconds (at most 60): an agent re-attaches with this."""
        if wait > 0:
            return _review(await queue.wait(review_id, min(wait, MAX_LONG_POLL), long_poll=True))
        found = await asyncio.to_thread(queue.get, review_id)
        if found is None:
            raise UnknownReview(f"no review with id {review_id!r}")
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
        png = await asyncio.to_thread(queue.screenshot, review_id)
        return Response(png, media_type="image/png", headers={"Cache-Control": _CACHE})

    @api.get("/{review_id}/element", responses=_ERRORS)
    async def get_element(review_id: str, x: Coord, y: Coord) -> JSONResponse:
        """The element a correction at screen point (x, y) would name, as the agent would
        be told: ``source`` (``a11y`` or ``vision``), ``box`` (screen space, x1/y1
        exclusive), ``agent_box``, ``role``, ``name`` and ``label`` (the words). The
        overlay outlines it while the person hovers, before they click."""
        if element_under is None:
            raise UnknownReview("element lookups are not available on this daemon")
        return JSONResponse(await asyncio.to_thread(element_under, review_id, x, y))

    @api.post("/{review_id}/decision", response_model=Review, responses=_ERRORS)
    async def post_decision(review_id: str, req: DecisionRequest, request: Request) -> JSONResponse:
        """Decide a review; returns the review after the decision.

        With a reviewer's token the decision is that reviewer's: the ``reviewer`` field
        of the body is ignored (replaced by the token's name) and the reviewer's roles
        count for the rule's ``approve_by``. With the daemon's token it is the local
        reviewer's (the desktop overlay), named as the body says, holding no role."""
        by: Identity | None = request.scope.get(REVIEWER_KEY)
        return _review(await asyncio.to_thread(lambda: queue.decide(review_id, req, by=by)))

    @api.post("/{review_id}/seen", response_model=Review, responses={404: _ERRORS[404]})
    async def post_seen(review_id: str, report: SeenReport) -> JSONResponse:
        """The overlay showed this review, or the person first turned to it (input or
        focus): stamped once each, on the daemon's clock, into the review's ``timing``."""
        return _review(await asyncio.to_thread(queue.seen, review_id, report.moment))

    return api
