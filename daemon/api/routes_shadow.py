"""The shadowing routes: a recorded frame, the agent's commentary, the agreement rate.

While the daemon records (``serve --shadow``), ``WS /v1/events`` carries a
``shadow_action`` message for each of the person's actions, whose ``frame`` is the path
of ``GET /v1/shadow/frames/{digest}``. An agent answers with ``POST
/v1/shadow/commentary``: its predicted action (in its own space by default, as any
action it sends) and its words. Comments are rows of SQLite beside the action they
answer, so they outlive a restart, and a comment may come after one.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from daemon.actions import Action
from daemon.api.bodies import ErrorBody
from daemon.commentary import CommentaryStore
from daemon.service import Daemon

__all__ = ["CommentaryBody", "router"]

_ERR = {"model": ErrorBody}
_DIGEST = re.compile(r"[0-9a-f]{64}")


class CommentaryBody(BaseModel):
    """What the agent would have done instead of the person's action ``action_id``."""

    model_config = ConfigDict(extra="forbid")

    action_id: str = Field(min_length=1, max_length=64, description="the shadow_action's action_id")
    predicted: Action | None = Field(
        None, description="the action the agent would have sent (its space unless it says 'screen')"
    )
    words: str = Field("", max_length=4_000, description="what the agent says about it")
    agent: str = Field("agent", min_length=1, max_length=200, description="who comments")


def router(daemon: Daemon) -> APIRouter:
    api = APIRouter(tags=["shadowing"])
    comments = CommentaryStore(daemon.store)
    root = daemon.store.path.parent

    @api.get("/v1/shadow/frames/{digest}", responses={404: _ERR},
             response_class=Response)  # fmt: skip
    async def get_frame(digest: str) -> Response:
        """A recorded frame (PNG), by the digest a ``shadow_action`` names."""
        if not _DIGEST.fullmatch(digest):
            raise StarletteHTTPException(404, f"no frame {digest!r}: a frame is named by 64 hex digits")

        def read() -> bytes | None:
            with daemon.store.locked() as db:
                row = db.execute("SELECT file FROM frames WHERE hash = ?", (digest,)).fetchone()
            if row is None:
                return None
            path = root / str(row["file"])
            return path.read_bytes() if path.is_file() else None

        data = await asyncio.to_thread(read)
        if data is None:
            raise StarletteHTTPException(404, f"no frame {digest!r}")
        return Response(data, media_type="image/png")

    @api.post("/v1/shadow/commentary", responses={404: _ERR, 409: _ERR, 422: _ERR})
    async def post_commentary(body: CommentaryBody) -> dict[str, Any]:
        """Store the agent's comment on one of the person's actions, its prediction scored
        against what the person did (``agrees``; ``score.why`` says how)."""
        found = await asyncio.to_thread(comments.action, body.action_id)
        if found is None:
            raise StarletteHTTPException(404, f"no recorded action with id {body.action_id!r}")
        predicted = None
        if body.predicted is not None:
            screen = daemon.to_screen(body.predicted)  # ActionError (422) if off the screen
            predicted = screen.model_dump(mode="json", exclude_none=True)
        try:
            return await asyncio.to_thread(comments.add, found, predicted, body.words, body.agent)
        except KeyError as exc:
            raise StarletteHTTPException(409, str(exc.args[0])) from None

    @api.get("/v1/shadow/agreement", responses={404: _ERR})
    async def get_agreement(
        session: str | None = Query(None, max_length=200, description="one session (default: all)"),
    ) -> list[dict[str, Any]]:
        """Per recorded session: the person's actions, how many the agent commented on,
        how many predictions were scored, and the share that agreed (``rate``)."""
        found = await asyncio.to_thread(comments.agreement, session)
        if session is not None and not found:
            raise StarletteHTTPException(404, f"no recorded session {session!r}")
        return [a.as_json() for a in found]

    @api.get("/v1/shadow/commentary")
    async def get_commentary(session: str = Query(..., min_length=1, max_length=200)) -> list[dict[str, Any]]:
        """A session's comments, in the order of the actions they answer."""
        return await asyncio.to_thread(comments.comments, session)

    return api
