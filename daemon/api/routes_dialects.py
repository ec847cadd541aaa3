"""The agent dialects' routes: Anthropic's computer tool and OpenAI's computer_call.

Each route translates with its adapter (pure functions in ``daemon/adapters``) and runs
the canonical actions through the same ``run`` as ``POST /v1/actions``: one policy, one
executor, one record.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from daemon.actions import Action, CursorPosition, Outcome, Screenshot, Wait
from daemon.adapters import anthropic, openai
from daemon.errors import ActionError
from daemon.review.gate import Admitted, Gate
from daemon.api.http import error_response, json_body, jsonable
from daemon.review.policy import Verdict
from daemon.control.runtime import Runtime

Run = Callable[[Action, str], Awaitable[Outcome]]


def add_routes(app: FastAPI, runtime: Runtime, run: Run, gate: Gate | None = None) -> None:
    """``POST /v1/anthropic/computer`` and ``POST /v1/openai/computer``."""
    executor = runtime.executor

    @app.post("/v1/anthropic/computer", tags=["actions"])
    async def post_anthropic(request: Request) -> JSONResponse:
        """Execute the ``input`` of Anthropic's ``computer_20250124`` tool.

        The body is the ``input`` object, or a whole ``tool_use`` block (then the reply
        carries its ``tool_use_id``). Returns ``content``/``is_error`` ready for a
        ``tool_result`` block. Bad input: 422 that also carries such a result.
        """
        body = await json_body(request)
        tool_use_id = None
        if (
            isinstance(body, dict)
            and body.get("type") == "tool_use"
            and isinstance(body.get("input"), dict)
        ):
            tool_use_id = body.get("id")
            body = body["input"]
        extra = {"tool_use_id": tool_use_id} if tool_use_id else {}
        try:
            cursor = None
            if isinstance(body, dict) and anthropic.needs_cursor(body):
                cursor = (await asyncio.wrap_future(runtime.submit(CursorPosition()))).cursor
            action = anthropic.to_canonical(body, cursor=cursor)
            outcome = await run(action, "anthropic")
        except ActionError as exc:
            return error_response(
                422,
                str(exc),
                details=jsonable(exc.details),
                content=[{"type": "text", "text": f"Error: {exc}"}],
                is_error=True,
                **extra,
            )
        if (
            isinstance(action, Wait)
            and outcome.ok
            and outcome.screenshot is None
            and executor.screenshot
        ):
            # the reference tool answers a wait with a fresh look at the screen
            shot = await asyncio.wrap_future(runtime.submit(Screenshot()))
            if shot.screenshot is not None:
                outcome = outcome.model_copy(update={"screenshot": shot.screenshot})
        return JSONResponse({**anthropic.to_tool_result(outcome), **extra})

    @app.post("/v1/openai/computer", tags=["actions"])
    async def post_openai(request: Request) -> JSONResponse:
        """Execute an OpenAI ``computer_call`` (one ``action`` or batched ``actions[]``).

        Returns a ``computer_call_output`` with a fresh screenshot as a data URL. Actions
        run in order and stop at the first that does not execute. ``pending_safety_checks``
        go to a person on the overlay (the first action held, the checks shown apart);
        they come back as ``acknowledged_safety_checks`` only if the person approved.
        Without the review gate (``--policy off``) such a call is refused (403).
        """
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ActionError("expected a computer_call object")
        checks = openai.safety_checks(body)
        try:
            actions = openai.to_canonical(body if gate is None else {**body, "pending_safety_checks": []})
        except openai.SafetyCheckPending as exc:
            return error_response(403, str(exc), details=jsonable(exc.details))
        for action in actions:
            runtime.view.to_screen(action)  # every bounds check before anything runs
        call_id = str(body.get("call_id", ""))
        acknowledged: list[dict[str, Any]] = []
        if checks and gate is not None:
            answer = await _acknowledge(gate, actions[0], checks)
            if isinstance(answer, Outcome):
                shot = await asyncio.wrap_future(runtime.submit(Screenshot()))
                if shot.screenshot is None:
                    return error_response(503, f"no screenshot: {shot.detail}")
                return JSONResponse(openai.to_output(call_id, [answer], shot.screenshot, planned=len(actions)))
            actions[0] = answer.action
            acknowledged = checks
        outcomes: list[Outcome] = []
        for action in actions:
            outcome = await run(action, "openai")
            outcomes.append(outcome)
            if outcome.status != "executed":
                break
        shot = await asyncio.wrap_future(runtime.submit(Screenshot()))
        if shot.screenshot is None:
            return error_response(503, f"no screenshot for the computer_call_output: {shot.detail}")
        return JSONResponse(
            openai.to_output(call_id, outcomes, shot.screenshot, planned=len(actions), acknowledged=acknowledged)
        )


async def _acknowledge(gate: Gate, first: Action, checks: list[dict[str, Any]]) -> Admitted | Outcome:
    """Show the model's safety checks to a person with the call's first action."""
    said = "; ".join(f"{c.get('code', '?')}: {c.get('message', '')}" for c in checks)
    held = first.model_copy(update={"screen_text": f"OpenAI safety checks: {said}"})
    verdict = Verdict("approve", "openai-safety-checks", f"the model flagged this call: {said}")
    return await gate.ask(held, uuid.uuid4().hex, verdict)

