"""The agent dialects' routes: Anthropic's computer tool and OpenAI's computer_call.

Each route translates with its adapter (pure functions in ``daemon/adapters``) and runs
the canonical actions through :meth:`Daemon.act`, like ``POST /v1/actions``: one
policy, one executor, one record.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from daemon.actions import CursorPosition, Screenshot, Wait
from daemon.adapters import anthropic, candidates, openai
from daemon.api.bodies import (
    AnthropicBody,
    AnthropicToolUse,
    ComputerCall,
    ComputerCallOutput,
    ErrorBody,
    ToolResult,
)
from daemon.api.gone import abandonment
from daemon.api.http import DialectShape
from daemon.errors import ActionError, Unavailable
from daemon.outcomes import Outcome
from daemon.service import Daemon

__all__ = ["SHAPES", "router"]

ANTHROPIC = "/v1/anthropic/computer"
OPENAI = "/v1/openai/computer"
SAFETY_RULE = "openai-safety-checks"
_ERR = {"model": ErrorBody}


def _tool_use_id(request: Request, body: Any) -> str | None:
    if isinstance(body, dict) and body.get("type") == "tool_use" and isinstance(body.get("id"), str):
        return str(body["id"])
    found = getattr(request.state, "tool_use_id", None)
    return found if isinstance(found, str) else None


def _anthropic_error(request: Request, message: str, body: Any) -> dict[str, Any]:
    """An Anthropic error also carries a tool_result the agent can hand back as it is."""
    extra: dict[str, Any] = {"content": [{"type": "text", "text": f"Error: {message}"}], "is_error": True}
    if (tool_use_id := _tool_use_id(request, body)) is not None:
        extra["tool_use_id"] = tool_use_id
    return extra


SHAPES: dict[str, DialectShape] = {ANTHROPIC: _anthropic_error}


def router(daemon: Daemon) -> APIRouter:
    """``POST /v1/anthropic/computer`` and ``POST /v1/openai/computer``."""
    api = APIRouter(tags=["actions"])

    @api.post(ANTHROPIC, response_model=ToolResult, responses={422: _ERR})
    async def post_anthropic(body: AnthropicBody, request: Request) -> JSONResponse:
        """Execute the ``input`` of Anthropic's ``computer_20250124`` tool (and
        ``computer_20251124``'s ``zoom``).

        The body is the ``input`` object, or a whole ``tool_use`` block (then the reply
        carries its ``tool_use_id``). Returns ``content``/``is_error`` ready for a
        ``tool_result`` block. Bad input: 422 that also carries such a result.
        """
        extra: dict[str, Any] = {}
        envelope = body.driverseat
        if isinstance(body, AnthropicToolUse):
            if body.id:
                request.state.tool_use_id = extra["tool_use_id"] = body.id
            inp = body.input
            envelope = envelope or inp.driverseat
        else:
            inp = body
        raw = inp.model_dump(exclude_none=True, exclude={"driverseat"})
        alternatives = envelope.alternatives if envelope is not None else []
        cursor = None
        if any(anthropic.needs_cursor(a) for a in [raw, *alternatives]):
            cursor = (await daemon.look(CursorPosition())).cursor
        action = anthropic.to_canonical(raw, cursor=cursor)  # ActionError: 422
        action = candidates.attach(action, alternatives, lambda a: anthropic.to_canonical(a, cursor=cursor))
        async with abandonment(request) as gone:
            outcome = await daemon.act(action, "anthropic", gone)
        if isinstance(action, Wait) and outcome.ok and outcome.screenshot is None:
            # the reference tool answers a wait with a fresh look at the screen
            shot = await daemon.look(Screenshot())
            if shot.screenshot is not None:
                outcome = outcome.model_copy(update={"screenshot": shot.screenshot})
        return JSONResponse({**anthropic.to_tool_result(outcome), **extra})

    @api.post(
        OPENAI,
        response_model=ComputerCallOutput,
        responses={
            403: {**_ERR, "description": "pending safety checks, and reviews are off (--policy off)"},
            422: _ERR,
            503: {**_ERR, "description": "no screenshot could be taken"},
        },
    )
    async def post_openai(call: ComputerCall, request: Request) -> JSONResponse:
        """Execute an OpenAI ``computer_call`` (one ``action`` or batched ``actions[]``).

        Returns a ``computer_call_output`` with a fresh screenshot as a data URL. Actions
        run in order and stop at the first that does not execute. ``pending_safety_checks``
        go to a person on the overlay (the first action held, the checks shown apart);
        they come back as ``acknowledged_safety_checks`` only if the person approved.
        Without reviews (``--policy off``) such a call is refused (403).
        """
        raw = call.model_dump(exclude_none=True, exclude={"driverseat"})
        checks = openai.safety_checks(raw)
        actions = openai.to_canonical(raw, checks_go_to_a_person=bool(checks))
        if call.driverseat is not None and call.driverseat.alternatives:
            if len(actions) != 1:
                raise ActionError("driverseat.alternatives go with a computer_call of one action, "
                                  f"and this one has {len(actions)}")  # fmt: skip
            actions = [candidates.attach(actions[0], call.driverseat.alternatives, openai.one_action)]
        for action in actions:
            daemon.to_screen(action)  # every bounds check before anything runs
        outcomes: list[Outcome] = []
        acknowledged: list[dict[str, Any]] = []
        async with abandonment(request) as gone:
            for i, action in enumerate(actions):
                if gone.is_set():
                    break  # the client has given up: its later actions do not run
                if i == 0 and checks:
                    said = openai.describe_checks(checks)
                    outcome = await daemon.ask(
                        action, "openai", rule=SAFETY_RULE, why=f"the model flagged this call: {said}",
                        safety_checks=[openai.describe_checks([c]) for c in checks],
                    )  # fmt: skip
                    if outcome.status == "executed":
                        acknowledged = checks  # a person approved: only then
                else:
                    outcome = await daemon.act(action, "openai", gone)
                outcomes.append(outcome)
                if outcome.status != "executed":
                    break
        shot = await daemon.look(Screenshot())
        if shot.screenshot is None:
            raise Unavailable(f"no screenshot for the computer_call_output: {shot.detail}")
        return JSONResponse(
            openai.to_output(
                call.call_id, outcomes, shot.screenshot, planned=len(actions), acknowledged=acknowledged
            )
        )

    return api
