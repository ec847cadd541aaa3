"""The vendors' own SDK types, as the judges of "exactly the vendor's shape".

An Anthropic ``tool_result`` is checked against ``anthropic.types.beta.BetaToolResultBlockParam``
(and each content block against its text or image param type), an OpenAI
``computer_call_output`` against ``openai.types.responses.response_input_item_param.ComputerCallOutput``:
what the SDK would send back to the API. The TypedDicts say which keys may be there; a key
they do not name (driverseat's own ``driverseat``, ``error``) fails the check.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

__all__ = ["anthropic_tool_result", "anthropic_tool_use", "openai_call", "openai_call_output"]


def _keys(typed: Any) -> frozenset[str]:
    return frozenset(typed.__required_keys__ | typed.__optional_keys__)


def _exactly(body: dict[str, Any], typed: Any) -> None:
    extra = set(body) - _keys(typed)
    # the keys only: a body holds a screenshot's base64
    assert not extra, f"{sorted(extra)} are not fields of {typed.__name__} (keys: {sorted(body)})"
    TypeAdapter(typed).validate_python(body)


def anthropic_tool_result(body: dict[str, Any], tool_use_id: str) -> list[dict[str, Any]]:
    """``body`` is a whole ``tool_result`` block answering ``tool_use_id``; its content blocks."""
    from anthropic.types.beta import (
        BetaBase64ImageSourceParam,
        BetaImageBlockParam,
        BetaTextBlockParam,
        BetaToolResultBlockParam,
    )

    _exactly(body, BetaToolResultBlockParam)
    assert body["type"] == "tool_result" and body["tool_use_id"] == tool_use_id, sorted(body)
    blocks: list[dict[str, Any]] = list(body["content"])
    for block in blocks:
        if block["type"] == "text":
            _exactly(block, BetaTextBlockParam)
        else:
            assert block["type"] == "image", block["type"]
            _exactly(block, BetaImageBlockParam)
            _exactly(block["source"], BetaBase64ImageSourceParam)
    return blocks


def anthropic_tool_use(block: dict[str, Any]) -> None:
    """``block`` is a ``tool_use`` block as the Messages API returns it."""
    from anthropic.types.beta import BetaToolUseBlock

    BetaToolUseBlock.model_validate(block)


def openai_call(item: dict[str, Any]) -> None:
    """``item`` is a ``computer_call`` output item as the Responses API returns it."""
    from openai.types.responses import ResponseComputerToolCall

    ResponseComputerToolCall.model_validate(item)


def openai_call_output(body: dict[str, Any], call_id: str) -> str:
    """``body`` is a ``computer_call_output`` input item answering ``call_id``; its image URL."""
    from openai.types.responses.response_computer_tool_call_output_screenshot_param import (
        ResponseComputerToolCallOutputScreenshotParam,
    )
    from openai.types.responses.response_input_item_param import ComputerCallOutput

    _exactly(body, ComputerCallOutput)
    _exactly(body["output"], ResponseComputerToolCallOutputScreenshotParam)
    assert body["type"] == "computer_call_output" and body["call_id"] == call_id, sorted(body)
    url = str(body["output"]["image_url"])
    assert url.startswith("data:image/png;base64,"), url[:40]
    return url
