"""The OpenAPI document: every endpoint with its request and response schemas.

The action routes parse their bodies themselves (to turn validation errors into one
readable sentence, and to take NaN-free JSON only), so FastAPI cannot infer their
schemas; this module states them. ``GET /openapi.json`` is what clients and the
schemathesis fuzz run read.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from daemon.actions import ACTION_ADAPTER, Outcome
from daemon.adapters.anthropic import ACTIONS as ANTHROPIC_ACTIONS

REF = "#/components/schemas/{model}"


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: one readable sentence, and details where they help."""

    error: str
    details: Any = None


class AnthropicInput(BaseModel):
    """The ``input`` of Anthropic's ``computer_20250124`` tool (or a whole ``tool_use``
    block carrying it)."""

    model_config = ConfigDict(extra="allow")
    action: str = Field(json_schema_extra={"enum": list(ANTHROPIC_ACTIONS)})
    coordinate: list[int] | None = Field(None, min_length=2, max_length=2)
    start_coordinate: list[int] | None = Field(None, min_length=2, max_length=2)
    text: str | None = None
    key: str | None = None
    scroll_direction: str | None = Field(None, json_schema_extra={"enum": ["up", "down", "left", "right"]})
    scroll_amount: int | None = None
    duration: float | None = None
    region: list[int] | None = Field(None, min_length=4, max_length=4)


class ToolResult(BaseModel):
    """Blocks ready for an Anthropic ``tool_result``, and driverseat's own record."""

    content: list[dict[str, Any]]
    is_error: bool
    driverseat: dict[str, Any] | None = None
    tool_use_id: str | None = None


class ComputerCall(BaseModel):
    """An OpenAI ``computer_call`` item: one ``action`` or batched ``actions[]``."""

    model_config = ConfigDict(extra="allow")
    type: str | None = None
    call_id: str | None = None
    action: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    pending_safety_checks: list[dict[str, Any]] | None = None


class ComputerCallOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    call_id: str
    output: dict[str, Any]
    acknowledged_safety_checks: list[dict[str, Any]]


class State(BaseModel):
    model_config = ConfigDict(extra="allow")
    control: str = Field(json_schema_extra={"enum": ["agent", "human", "stopped"]})
    screen: list[int]
    agent_size: list[int] | None = None
    version: str


def _schema(target: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema, definitions) for a model or an adapter, with refs into components."""
    adapter = target if isinstance(target, TypeAdapter) else TypeAdapter(target)
    schema = adapter.json_schema(ref_template=REF)
    defs = schema.pop("$defs", {})
    return schema, defs


def _content(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


ERRORS = {
    "401": {"description": "missing or wrong bearer token", "content": _content("ErrorBody")},
    "422": {"description": "bad input: nothing was executed", "content": _content("ErrorBody")},
}

BODIES: dict[tuple[str, str], tuple[str, str]] = {
    # (method, path) -> (request schema, 200 response schema)
    ("post", "/v1/actions"): ("Action", "Outcome"),
    ("post", "/v1/anthropic/computer"): ("AnthropicInput", "ToolResult"),
    ("post", "/v1/openai/computer"): ("ComputerCall", "ComputerCallOutput"),
}
RESPONSES: dict[tuple[str, str], str] = {
    ("get", "/v1/state"): "State",
    ("post", "/v1/control/stop"): "State",
    ("post", "/v1/control/resume"): "State",
}


def install(app: FastAPI, extra_bodies: dict[tuple[str, str], tuple[str, str]] | None = None,
            extra_models: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Make ``app.openapi()`` describe the hand-parsed bodies and the bearer auth."""
    bodies = {**BODIES, **(extra_bodies or {})}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        models: dict[str, Any] = {
            "Action": ACTION_ADAPTER, "Outcome": Outcome, "ErrorBody": ErrorBody,
            "AnthropicInput": AnthropicInput, "ToolResult": ToolResult, "State": State,
            "ComputerCall": ComputerCall, "ComputerCallOutput": ComputerCallOutput,
            **(extra_models or {}),
        }  # fmt: skip
        for name, target in models.items():
            schema, defs = _schema(target)
            schemas.update(defs)
            schemas[name] = schema
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        for path, item in doc.get("paths", {}).items():
            for method, op in item.items():
                if path != "/healthz":
                    op["security"] = [{"bearer": []}]
                    op.setdefault("responses", {}).update({"401": ERRORS["401"]})
                if (method, path) in bodies:
                    req, resp = bodies[(method, path)]
                    op["requestBody"] = {"required": True, "content": _content(req)}
                    op["responses"]["200"] = {"description": "the outcome", "content": _content(resp)}
                    op["responses"]["422"] = ERRORS["422"]
                    if path == "/v1/openai/computer":
                        op["responses"]["403"] = {
                            "description": "pending safety checks: a person must acknowledge them",
                            "content": _content("ErrorBody"),
                        }
                        op["responses"]["503"] = {
                            "description": "no screenshot could be taken",
                            "content": _content("ErrorBody"),
                        }
                if "{" in path:
                    op["responses"]["404"] = {"description": "no such id", "content": _content("ErrorBody")}
                if (method, path) in bodies:
                    pass
                elif (method, path) in RESPONSES:
                    op["responses"]["200"] = {"description": "the state", "content": _content(RESPONSES[(method, path)])}
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
