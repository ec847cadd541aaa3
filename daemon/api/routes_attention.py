"""``GET /v1/reviewers/me/attention``: a reviewer's own attention figures (docs/reviewers.md).

With a reviewer's token, that reviewer's; with the daemon's token, the local reviewer named
by ``?name=`` (the name the desktop overlay decides under). Nothing here says which reviews
were tests: only how many were shown and caught, once decided.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from daemon.api.bodies import ErrorBody
from daemon.api.routes_reviews import REVIEWER_KEY
from daemon.attention import attention, decided
from daemon.review.queue import ReviewQueue
from daemon.reviewers import LOCAL, Identity

__all__ = ["ATTENTION_PATH", "router"]

ATTENTION_PATH = "/v1/reviewers/me/attention"
Name = Annotated[str | None, Query(min_length=1, max_length=200, description="the local reviewer's name (daemon token only)")]


def router(queue: ReviewQueue) -> APIRouter:
    api = APIRouter(tags=["reviews"])

    @api.get(ATTENTION_PATH, responses={422: {"model": ErrorBody}})
    async def my_attention(request: Request, name: Name = None) -> dict[str, Any]:
        """Attention score, catch rate of test reviews, unread approvals, approval streak,
        approval rate by tier, median decision time and time on duty."""
        who: Identity | None = request.scope.get(REVIEWER_KEY)
        if who is None and name is None:
            raise StarletteHTTPException(422, "with the daemon's token, say whose figures: ?name=<the overlay's reviewer name>")
        rid, local = (LOCAL, name) if who is None else (who.id, None)
        label = who.name if who is not None else str(name)
        now = queue.clock()
        rows = await asyncio.to_thread(decided, queue.store, rid, local)
        return attention(label, rows, now).as_json()

    return api
