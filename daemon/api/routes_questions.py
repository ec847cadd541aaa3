"""Questions to the person (issue 10): ask, re-attach by id, fetch the frame, answer; the ask
tool's definition in each dialect and its calls in each dialect's shape.

Errors (:class:`~daemon.ask.desk.QuestionError`: 403, 404, 409, 422; an option off the
screen is an ActionError, 422) become HTTP in :mod:`daemon.api.http`. The desk publishes
``question``, ``question_takeover`` and ``question_resolved`` on the event stream.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from daemon.actions import MAX_LONG_POLL
from daemon.adapters import ask_tool
from daemon.api.bodies import ErrorBody
from daemon.api.http import DialectShape
from daemon.outcomes import SeenReport
from daemon.question import AnswerRequest, Question, QuestionRequest
from daemon.service import Daemon

__all__ = ["QUESTION_PREFIX", "SHAPES", "router"]

QUESTION_PREFIX = "/v1/questions"
ANTHROPIC_ASK = "/v1/anthropic/ask"
OPENAI_ASK = "/v1/openai/ask"
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "nobody can be asked (--policy off)"},
    404: {"model": ErrorBody, "description": "no question with that id"},
    409: {"model": ErrorBody, "description": "no longer pending, or being answered by a takeover"},
    422: {"model": ErrorBody, "description": "a question or answer that does not fit"},
}  # fmt: skip
_CACHE = "private, max-age=86400"  # a question's frame never changes
Wait = Annotated[
    float,
    Query(ge=0, allow_inf_nan=False, description=f"seconds to wait for an answer (cut to {MAX_LONG_POLL:g})"),
]


class ToolUse(BaseModel):
    """An Anthropic ``tool_use`` content block calling the ask tool."""

    model_config = ConfigDict(extra="allow")
    type: Literal["tool_use"]
    id: str = Field(max_length=200)
    name: str | None = Field(None, max_length=200)
    input: dict[str, Any]


class FunctionCall(BaseModel):
    """An OpenAI Responses ``function_call`` output item calling the ask tool."""

    model_config = ConfigDict(extra="allow")
    type: Literal["function_call"]
    call_id: str = Field(max_length=200)
    name: str | None = Field(None, max_length=200)
    arguments: str = Field(max_length=200_000)


def _anthropic_error(request: Request, status: int, message: str, details: Any, body: Any) -> dict[str, Any]:
    """A refused ask: driverseat's sentence, and a ``tool_result`` with ``is_error`` the agent
    can hand back as it is (naming the ``tool_use`` block when one was posted)."""
    out: dict[str, Any] = {"error": message, "type": "tool_result",
                           "content": [{"type": "text", "text": f"Error: {message}"}], "is_error": True}  # fmt: skip
    if details is not None:
        out["details"] = details
    found = body.get("id") if isinstance(body, dict) else getattr(request.state, "tool_use_id", None)
    if isinstance(found, str):
        out["tool_use_id"] = found
    return out


SHAPES: dict[str, DialectShape] = {ANTHROPIC_ASK: _anthropic_error}


def _json(q: Question) -> JSONResponse:
    return JSONResponse(q.model_dump(mode="json", exclude_none=True))


def router(daemon: Daemon) -> APIRouter:
    """The ``/v1/questions`` routes, ``/v1/tools`` and the dialects' ask calls."""
    api = APIRouter(tags=["questions"])

    async def settled(q: Question, wait: float) -> Question:
        """``q`` after at most ``wait`` s for its answer, as the agent reads it."""
        desk = daemon.desk()
        if wait > 0 and q.status == "pending":
            q = await desk.wait(q.id, wait)
        elif q.status != "pending":
            q = await asyncio.to_thread(desk.get, q.id)  # hands a secret over, once
        return await asyncio.to_thread(desk.for_agent, q)

    async def until_answered(req: QuestionRequest) -> Question:
        """Ask and wait as long as the question may wait (a dialect call needs the answer)."""
        q = await daemon.ask_person(req)
        while q.status == "pending" and not daemon.desk().closing:
            q = await daemon.desk().wait(q.id, MAX_LONG_POLL)
        return await settled(q, 0)

    @api.post(QUESTION_PREFIX, response_model=Question, responses=_ERRORS)
    async def post_question(req: QuestionRequest, wait: Wait = 0.0) -> JSONResponse:
        """Ask the person: the screen freezes and the overlay shows the question with its
        options drawn on the frame, numbered. Returns the question pending at once, or
        with ``?wait=S`` after at most S seconds (at most 60) for the answer; re-attach
        with ``GET /v1/questions/{id}?wait=S``. A secret's text comes in the first reply
        after the answer, once."""
        q = await daemon.ask_person(req)
        return _json(await settled(q, min(wait, MAX_LONG_POLL)))

    @api.get(QUESTION_PREFIX, response_model=list[Question], responses={403: _ERRORS[403]})
    async def list_questions() -> JSONResponse:
        """Every pending question, oldest first (the overlay's queue)."""
        pending = await asyncio.to_thread(daemon.desk().pending)
        return JSONResponse([q.model_dump(mode="json", exclude_none=True) for q in pending])

    @api.get(QUESTION_PREFIX + "/{question_id}", response_model=Question, responses=_ERRORS)
    async def get_question(question_id: str, wait: Wait = 0.0) -> JSONResponse:
        """One question by id; ``?wait=S`` holds the request until it is answered or expires
        (at most S seconds, at most 60)."""
        q = await asyncio.to_thread(daemon.desk().get, question_id, reveal=False)
        return _json(await settled(q, min(wait, MAX_LONG_POLL)))

    @api.get(
        QUESTION_PREFIX + "/{question_id}/screenshot", response_class=Response,
        responses={200: {"content": {"image/png": {}}, "description": "the frame"}, 403: _ERRORS[403],
                   404: _ERRORS[404]},
    )  # fmt: skip
    async def get_screenshot(question_id: str) -> Response:
        """The frame frozen when the question was asked: PNG, screen pixels of its
        ``screen_rect`` (draw the options' ``screen_point``/``screen_box`` on it 1:1)."""
        png = await asyncio.to_thread(daemon.desk().screenshot, question_id)
        return Response(png, media_type="image/png", headers={"Cache-Control": _CACHE})

    @api.post(QUESTION_PREFIX + "/{question_id}/answer", response_model=Question, responses=_ERRORS)
    async def post_answer(question_id: str, req: AnswerRequest) -> JSONResponse:
        """Answer a question (the overlay does): an option, a text, a secret, a screen point,
        or ``takeover`` (the answer then comes when control returns to the agent). Returns
        the question after it; a secret's text is never in it."""
        q = await asyncio.to_thread(daemon.desk().answer, question_id, req)
        return _json(q)

    @api.post(QUESTION_PREFIX + "/{question_id}/withdraw", response_model=Question, responses=_ERRORS)
    async def post_withdraw(question_id: str) -> JSONResponse:
        """The asker gives up waiting: the question leaves the person's screen unanswered
        (status ``withdrawn``). 409 if it was answered or expired first."""
        return _json(await asyncio.to_thread(daemon.desk().withdraw, question_id))

    @api.post(QUESTION_PREFIX + "/{question_id}/seen", response_model=Question, responses=_ERRORS)
    async def post_seen(question_id: str, report: SeenReport) -> JSONResponse:
        """The overlay showed the question (``shown``), or the person first turned to it
        (``looked``): stamped on the daemon's clock, the first report of each only."""
        return _json(await asyncio.to_thread(daemon.desk().seen, question_id, report.moment))

    @api.get("/v1/tools", responses={422: _ERRORS[422]})
    async def get_tools(dialect: Literal["anthropic", "openai", "mcp"] = "anthropic") -> JSONResponse:
        """The tools to give a model in its dialect: the computer tool and ``ask_human``
        (a custom tool with a JSON schema for Anthropic, a function tool for OpenAI's
        Responses API, an MCP tool as ``driverseat mcp`` serves it)."""
        agent_size = daemon.runtime.view.agent_size
        return JSONResponse({"dialect": dialect, "tools": ask_tool.definitions(dialect, agent_size)})

    @api.post(ANTHROPIC_ASK, responses=_ERRORS)
    async def post_anthropic_ask(block: ToolUse, request: Request) -> JSONResponse:
        """An Anthropic ``tool_use`` block calling ``ask_human``; answered, when the person
        answers (or the question expires), by the ``tool_result`` block to send back."""
        request.state.tool_use_id = block.id  # a refused question's error carries it too
        q = await until_answered(ask_tool.request_of(block.input))
        return JSONResponse(ask_tool.anthropic_result(block.id, q))

    @api.post(OPENAI_ASK, responses=_ERRORS)
    async def post_openai_ask(call: FunctionCall) -> JSONResponse:
        """An OpenAI ``function_call`` item calling ``ask_human``; answered by the
        ``function_call_output`` item to add to the next request's input."""
        q = await until_answered(ask_tool.request_of(ask_tool.parse_arguments(call.arguments)))
        return JSONResponse(ask_tool.openai_output(call.call_id, q))

    return api
