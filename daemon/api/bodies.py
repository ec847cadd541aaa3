"""Typed request and response bodies of the dialect and control routes.

FastAPI validates every request against these before a handler runs, and the OpenAPI
document (``GET /openapi.json``) is generated from them: what the schema says is what
the handlers accept. The adapters (``daemon/adapters``) then check what a type cannot
say (which fields each action takes, key names, bounds), with a sentence in the
dialect's own words.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from daemon.actions import Int, Num
from daemon.adapters.anthropic import ACTIONS as ANTHROPIC_ACTIONS

__all__ = [
    "MAX_BATCH", "AnthropicBody", "AnthropicInput", "AnthropicToolUse", "ComputerCall",
    "ComputerCallOutput", "ErrorBody", "OpenAIErrorBody", "SafetyCheck", "State", "ToolResult",
]  # fmt: skip

MAX_BATCH = 100  # actions in one OpenAI computer_call


class ErrorBody(BaseModel):
    """Every 4xx answer: one readable sentence, and details where they help."""

    error: str
    details: Any = None


class OpenAIError(BaseModel):
    """The Responses API's own error object."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    """A refusal on the OpenAI route, in OpenAI's form (driverseat's ``ErrorBody`` with
    ``?envelope=1``)."""

    error: OpenAIError


class AnthropicInput(BaseModel):
    """The ``input`` of Anthropic's ``computer_20250124`` tool (``zoom``: ``computer_20251124``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    action: str = Field(max_length=40, json_schema_extra={"enum": list(ANTHROPIC_ACTIONS)})
    coordinate: tuple[Int, Int] | None = None
    start_coordinate: tuple[Int, Int] | None = None
    text: str | None = Field(None, max_length=10_000)
    key: str | None = Field(None, max_length=500)
    scroll_direction: Literal["up", "down", "left", "right"] | None = None
    scroll_amount: Int | None = None
    duration: Num | None = None
    repeat: Int | None = None
    region: tuple[Int, Int, Int, Int] | None = None


class AnthropicToolUse(BaseModel):
    """A whole ``tool_use`` content block carrying the input (the reply then names its id)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["tool_use"]
    id: str | None = Field(None, max_length=200)
    name: str | None = Field(None, max_length=200)
    input: AnthropicInput


def _anthropic_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "tool_use" if value.get("type") == "tool_use" else "input"
    return "tool_use" if getattr(value, "type", None) == "tool_use" else "input"


AnthropicBody = Annotated[
    Annotated[AnthropicInput, Tag("input")] | Annotated[AnthropicToolUse, Tag("tool_use")],
    Discriminator(_anthropic_kind),
]


class ToolResult(BaseModel):
    """An Anthropic ``tool_result`` block (``type`` and ``tool_use_id`` when a whole
    ``tool_use`` block was posted), and driverseat's own record only on request."""

    type: Literal["tool_result"] | None = None
    tool_use_id: str | None = None
    content: list[dict[str, Any]]
    is_error: bool
    driverseat: dict[str, Any] | None = None


class SafetyCheck(BaseModel):
    """One of a ``computer_call``'s ``pending_safety_checks``, as OpenAI sends it."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=200)
    code: str | None = Field(None, max_length=200)
    message: str | None = Field(None, max_length=4_000)


class ComputerCall(BaseModel):
    """An OpenAI ``computer_call`` item: one ``action`` or batched ``actions[]``.

    The actions are checked by the adapter (``daemon/adapters/openai.py``), which names
    the field at fault in the tool's own terms; anything else the API added to the item
    (``id``, ``status``...) is ignored.
    """

    model_config = ConfigDict(extra="allow")
    type: Literal["computer_call"] = "computer_call"
    # required, as in the schema (1 to 64 characters): the output must name its call
    call_id: str = Field(min_length=1, max_length=64)
    action: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=MAX_BATCH)
    pending_safety_checks: list[SafetyCheck] = Field(
        default_factory=list,
        max_length=20,
        description="checks only a person may acknowledge: the call is held for one",
    )


class ComputerCallOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    call_id: str
    output: dict[str, Any]
    acknowledged_safety_checks: list[dict[str, Any]]


class State(BaseModel):
    model_config = ConfigDict(extra="allow")
    control: Literal["agent", "human", "stopped"]
    screen: list[int]
    agent_size: list[int] | None = None
    version: str
