"""The ask tool in each agent dialect: its definition, its calls, its results (pure).

One JSON schema, :data:`INPUT_SCHEMA`, describes a question (:class:`~daemon.question.
QuestionRequest` checks it on arrival, with its own sentences); each dialect wraps it:

- Anthropic: a custom tool ``{name, description, input_schema}`` served beside the
  computer tool; a ``tool_use`` block in, a ``tool_result`` block out (text, and the
  annotated frame as an ``image`` block where the answer is a point);
- OpenAI (Responses API): a ``function`` tool; a ``function_call`` item in (``arguments``
  a JSON string), a ``function_call_output`` item out (``output`` a string, or
  ``input_text`` and ``input_image`` parts where the answer is a point);
- MCP: a tool ``{name, description, inputSchema}`` on ``driverseat mcp``; the result's
  text and image content are made by :mod:`daemon.cli.mcp` from :func:`result_blocks`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from daemon.errors import ActionError
from daemon.jsontext import parse
from daemon.question import DEFAULT_TIMEOUT, MAX_OPTIONS, MAX_TIMEOUT, Question, QuestionRequest
from daemon.validation import describe_validation_error

__all__ = [
    "DESCRIPTION", "DIALECTS", "INPUT_SCHEMA", "TOOL_NAME", "anthropic_result", "definitions",
    "openai_output", "parse_arguments", "request_of", "result_blocks", "result_text",
]  # fmt: skip

TOOL_NAME = "ask_human"
DIALECTS = ("anthropic", "openai", "mcp")
DESCRIPTION = (
    "Ask the person at this computer when you are stuck or unsure instead of guessing: two "
    "similar buttons, several matching results, a login that needs a one-time code. The "
    "screen freezes and the person sees your question, goal, steps and the options drawn "
    "on the screenshot, numbered. They answer by picking an option, typing an answer (set "
    "secret for a code or password: it is typed masked and never stored), pointing at a "
    "spot on the screen, or taking over to show you (the answer then lists their actions). "
    "Points and boxes are pixels of your latest screenshot."
)
_PIXELS = {"type": "integer", "minimum": 0}
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 1, "maxLength": 2000,
                     "description": "what you need to know, in one or two sentences"},
        "goal": {"type": "string", "maxLength": 2000, "description": "the task you are on"},
        "steps": {"type": "array", "items": {"type": "string", "maxLength": 500}, "maxItems": 50,
                  "description": "what you did so far"},
        "stuck": {"type": "string", "maxLength": 2000, "description": "where you are stuck, and why"},
        "options": {
            "type": "array", "maxItems": MAX_OPTIONS,
            "description": f"up to {MAX_OPTIONS} answers to choose from, numbered 1 to {MAX_OPTIONS}",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string", "minLength": 1, "maxLength": 500},
                    "point": {"type": "array", "items": _PIXELS, "minItems": 2, "maxItems": 2,
                              "description": "[x, y]: the spot this option means"},
                    "box": {"type": "array", "items": _PIXELS, "minItems": 4, "maxItems": 4,
                            "description": "[x0, y0, x1, y1]: the area this option means"},
                },
                "required": ["text"],
                "additionalProperties": False,
            },
        },
        "secret": {"type": "boolean", "description": "the answer is a one-time code or a password"},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT,
                    "description": f"seconds to wait for the person (default {DEFAULT_TIMEOUT:g})"},
    },
    "required": ["question"],
    "additionalProperties": False,
}  # fmt: skip


def definitions(dialect: str, agent_size: tuple[int, int]) -> list[dict[str, Any]]:
    """The tools to give a model in ``dialect``: the computer tool and the ask tool."""
    w, h = agent_size
    if dialect == "anthropic":
        computer = {"type": "computer_20250124", "name": "computer",
                    "display_width_px": w, "display_height_px": h}  # fmt: skip
        return [computer, {"name": TOOL_NAME, "description": DESCRIPTION, "input_schema": INPUT_SCHEMA}]
    if dialect == "openai":
        computer = {"type": "computer"}  # the GA tool: it sizes itself from the screenshots
        ask = {"type": "function", "name": TOOL_NAME, "description": DESCRIPTION,
               "parameters": INPUT_SCHEMA, "strict": False}  # fmt: skip
        return [computer, ask]
    if dialect == "mcp":  # the computer tool is driverseat mcp's own "computer"
        return [{"name": TOOL_NAME, "description": DESCRIPTION, "inputSchema": INPUT_SCHEMA}]
    raise ActionError(f"unknown dialect {dialect!r}; expected one of: {', '.join(DIALECTS)}")


def request_of(tool_input: Any) -> QuestionRequest:
    """The question a tool call asks; ActionError (422) with a sentence if it is not one."""
    try:
        return QuestionRequest.model_validate(tool_input)
    except ValidationError as exc:
        message, details = describe_validation_error(exc)
        raise ActionError(f"not a question for {TOOL_NAME}: {message}", errors=details) from None


def parse_arguments(arguments: str) -> Any:
    """An OpenAI function call's ``arguments`` (a JSON string); ActionError (422) if not
    JSON: nested too deeply to parse, and NaN or Infinity, included."""
    try:
        return parse(arguments)
    except ValueError as exc:  # NotJSON among them
        raise ActionError(f"the function call's arguments are not JSON: {exc}") from None


def result_text(q: Question) -> str:
    """What the person answered (or that nobody did), as a sentence and its JSON."""
    a = q.answer
    if a is None:
        return f"No answer: the question is {q.status} ({q.detail}). Question id {q.id}."
    data = a.model_dump(mode="json", exclude_none=True, exclude={"image", "summary", "by", "at"})
    if a.kind == "secret" and a.text is None:
        data["note"] = "the secret was handed over once already and is not stored"
    return f"{a.summary}\n{json.dumps({'question_id': q.id, **data})}"


def result_blocks(q: Question) -> list[dict[str, Any]]:
    """Anthropic-style content blocks: the text, then the annotated frame if any."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": result_text(q)}]
    image = q.answer.image if q.answer is not None else None
    if image is not None:
        blocks.append({"type": "image", "source": {"type": "base64", "media_type": image.media_type,
                                                   "data": image.data}})  # fmt: skip
    return blocks


def anthropic_result(tool_use_id: str, q: Question) -> dict[str, Any]:
    """A ``tool_result`` block answering the ``tool_use`` block ``tool_use_id``."""
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": result_blocks(q),
            "is_error": q.status != "answered"}  # fmt: skip


def openai_output(call_id: str, q: Question) -> dict[str, Any]:
    """A ``function_call_output`` item answering the ``function_call`` ``call_id``."""
    image = q.answer.image if q.answer is not None else None
    output: str | list[dict[str, Any]] = result_text(q)
    if image is not None:
        output = [{"type": "input_text", "text": output},
                  {"type": "input_image", "image_url": f"data:{image.media_type};base64,{image.data}",
                   "detail": "auto"}]  # fmt: skip
    return {"type": "function_call_output", "call_id": call_id, "output": output}
