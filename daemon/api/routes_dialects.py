"""The agent dialects' routes: Anthropic's computer tool and OpenAI's computer_call.

Each route translates with its adapter (pure functions in ``daemon/adapters``) and runs
the canonical actions through :meth:`Daemon.act`, like ``POST /v1/actions``: one
policy, one executor, one record. The body answered is exactly the vendor's (see
:mod:`daemon.api.dialect_shapes` for driverseat's own fields, headers and errors).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from daemon.actions import CursorPosition, Screenshot
from daemon.adapters import anthropic, candidates, openai
from daemon.api.bodies import (
    AnthropicBody,
    AnthropicToolUse,
    ComputerCall,
    ComputerCallOutput,
    ErrorBody,
    OpenAIErrorBody,
    ToolResult,
)
from daemon.api.dialect_shapes import (
    ENVELOPE_HEADER,
    IDS_HEADER,
    STATUS_HEADER,
    DialectOptions,
    anthropic_error,
    openai_error,
    outcome_headers,
    wants_envelope,
)
from daemon.api.gone import abandonment
from daemon.api.http import DialectShape
from daemon.errors import ActionError, Unavailable
from daemon.jsonsplice import render
from daemon.outcomes import Outcome
from daemon.service import Daemon

__all__ = ["ANTHROPIC", "OPENAI", "SHAPES", "router"]

ANTHROPIC = "/v1/anthropic/computer"
OPENAI = "/v1/openai/computer"
SAFETY_RULE = "openai-safety-checks"
_ERR = {"model": OpenAIErrorBody | ErrorBody}  # the vendor's form; driverseat's with the envelope
_HEADERS = {
    STATUS_HEADER: {"description": "what became of the action(s): executed, interrupted, ...",
                    "schema": {"type": "string"}},
    IDS_HEADER: {"description": "driverseat's action ids, comma-separated (GET /v1/actions/{id})",
                 "schema": {"type": "string"}},
}  # fmt: skip
# the outcomes of an action that was attempted: the screen may have changed
_RAN = frozenset({"executed", "interrupted"})

SHAPES: dict[str, DialectShape] = {ANTHROPIC: anthropic_error, OPENAI: openai_error}
# Declared for the OpenAPI document; wants_envelope() reads the same two (errors too).
EnvelopeQuery = Annotated[bool, Query(description="add driverseat's own `driverseat` record to the body")]
EnvelopeHeader = Annotated[bool, Header(alias=ENVELOPE_HEADER, description="the same as ?envelope=1")]


async def _settle(options: DialectOptions) -> None:
    # the reference tool's delay "to let things settle" (an animation, a page load)
    if options.settle_ms:
        await asyncio.sleep(options.settle_ms / 1000)


def router(daemon: Daemon, options: DialectOptions | None = None) -> APIRouter:
    """``POST /v1/anthropic/computer`` and ``POST /v1/openai/computer``."""
    api = APIRouter(tags=["actions"])
    opts = options or DialectOptions()

    async def screenshot_after(action: str, outcome: Outcome) -> Outcome:
        """The outcome with the screenshot the reference tool would send after it."""
        if (
            not opts.screenshot_after
            or action not in anthropic.SHOT_AFTER
            or outcome.status not in _RAN
            or outcome.screenshot is not None
        ):
            return outcome
        if action != "wait":  # a wait was its own settling
            await _settle(opts)
        shot = await daemon.look(Screenshot())
        if shot.screenshot is None:
            return outcome  # the result still says what happened; no picture to add
        return outcome.model_copy(update={"screenshot": shot.screenshot})

    @api.post(
        ANTHROPIC,
        response_model=ToolResult,
        responses={200: {"headers": _HEADERS}, 422: {"model": ToolResult}},
    )
    async def post_anthropic(
        body: AnthropicBody, request: Request, envelope: EnvelopeQuery = False, asked: EnvelopeHeader = False
    ) -> Response:
        """Execute the ``input`` of Anthropic's ``computer_20250124`` tool (and
        ``computer_20251124``'s ``zoom``), as the reference tool does.

        The body is the ``input`` object, or a whole ``tool_use`` block: then the answer is
        the ``tool_result`` block for it (``type``, ``tool_use_id``, ``content``,
        ``is_error``), else its ``content`` and ``is_error``. After every action but the
        looks it carries a fresh screenshot (``serve --no-screenshot-after`` turns that
        off; ``--settle-ms`` is the wait before it). Bad input: 422 with an error
        ``tool_result``. The body is exactly the vendor's; `?envelope=1` (or the request
        header `Driverseat-Envelope: 1`) adds driverseat's own `driverseat` record to it.
        """
        tool_use_id: str | None = None
        extra = body.driverseat
        if isinstance(body, AnthropicToolUse):
            if body.id:
                request.state.tool_use_id = tool_use_id = body.id
            if body.name is not None and body.name != anthropic.TOOL_NAME:
                raise ActionError(
                    f"this route runs the {anthropic.TOOL_NAME!r} tool; a tool_use block named "
                    f"{body.name!r} is for another tool"
                )
            inp = body.input
            extra = extra or inp.driverseat
        else:
            inp = body
        raw = inp.model_dump(exclude_none=True, exclude={"driverseat"})
        alternatives = extra.alternatives if extra is not None else []
        cursor = None
        if any(anthropic.needs_cursor(a) for a in [raw, *alternatives]):
            cursor = (await daemon.look(CursorPosition())).cursor
        action = anthropic.to_canonical(raw, cursor=cursor)  # ActionError: 422
        action = candidates.attach(action, alternatives, lambda a: anthropic.to_canonical(a, cursor=cursor))
        async with abandonment(request) as gone:
            outcome = await daemon.act(action, "anthropic", gone)
        outcome = await screenshot_after(raw["action"], outcome)
        result = anthropic.to_tool_result(outcome, tool_use_id)
        if envelope or asked or wants_envelope(request):
            result["driverseat"] = anthropic.envelope(outcome)
        return _json(result, outcome_headers([outcome], outcome.status))

    @api.post(
        OPENAI,
        response_model=ComputerCallOutput,
        responses={
            200: {"headers": _HEADERS},
            403: {**_ERR, "description": "pending safety checks, and reviews are off (--policy off)"},
            422: _ERR,
            503: {**_ERR, "description": "no screenshot could be taken"},
        },
    )
    async def post_openai(
        call: ComputerCall, request: Request, envelope: EnvelopeQuery = False, asked: EnvelopeHeader = False
    ) -> Response:
        """Execute an OpenAI ``computer_call`` (one ``action`` or batched ``actions[]``).

        Returns a ``computer_call_output`` with a fresh screenshot as a data URL. Actions
        run in order and stop at the first that does not execute (``Driverseat-Status``
        says which outcome stopped them). ``pending_safety_checks`` go to a person on the
        overlay (the first action held, the checks shown apart); they come back as
        ``acknowledged_safety_checks`` only if the person approved. Without reviews
        (``--policy off``) such a call is refused (403). Errors are OpenAI's error object.
        The body is exactly the vendor's; `?envelope=1` (or the request header
        `Driverseat-Envelope: 1`) adds driverseat's own `driverseat` record (with a
        `message` for the model when not every action ran).
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
        if any(o.status in _RAN for o in outcomes) and any(a.action not in ("screenshot", "wait")
                                                           for a in actions):  # fmt: skip
            await _settle(opts)
        shot = await daemon.look(Screenshot())
        if shot.screenshot is None:
            raise Unavailable(f"no screenshot for the computer_call_output: {shot.detail}")
        item = openai.to_output(call.call_id, outcomes, shot.screenshot, acknowledged=acknowledged)
        if envelope or asked or wants_envelope(request):
            item["driverseat"] = openai.envelope(call.call_id, outcomes, planned=len(actions))
        return _json(item, outcome_headers(outcomes, openai.status_of(outcomes)))

    return api


def _json(content: Any, headers: dict[str, str]) -> Response:
    """A dialect's answer as ``JSONResponse`` renders it, its images' base64 spliced in
    (a real screen's ~1 MB took json.dumps 4 ms: daemon/jsonsplice.py)."""
    return Response(render(content), media_type="application/json", headers=headers)

