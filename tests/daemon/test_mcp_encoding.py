"""``encode_result``: a tool's result as one JSON-RPC line, images' base64 spliced in as
it is; whatever the blocks hold, the line is the JSON of the message and one line."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from daemon.cli.mcp_server import encode_result


def _decoded(request_id: str | int, result: dict[str, Any]) -> Any:
    line = encode_result(request_id, result)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    return json.loads(line)


def test_an_image_is_spliced_and_reads_back() -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40).decode()
    result = {"content": [{"type": "text", "text": 'Done. "quoted"\n'},
                          {"type": "image", "data": png, "mimeType": "image/png"}], "isError": False}  # fmt: skip
    line = encode_result(7, result)
    assert b'"data":"' + png.encode() + b'"' in line  # as it is
    assert json.loads(line) == {"jsonrpc": "2.0", "id": 7, "result": result}


def test_data_that_is_not_base64_goes_through_the_encoder() -> None:
    for data in ['a"b', "a\\b", "a\nb", "é", "\x00", "ab cd", ""]:
        result = {"content": [{"type": "image", "data": data, "mimeType": "image/png"}], "isError": True}
        assert _decoded("x", result) == {"jsonrpc": "2.0", "id": "x", "result": result}


def test_results_without_a_content_list() -> None:
    results: list[dict[str, Any]] = [{}, {"content": "text"}, {"tools": [1]}, {"content": []}]
    for result in results:
        assert _decoded(1, result)["result"] == result


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_base64 = st.binary().map(lambda b: base64.b64encode(b).decode())
_block = st.one_of(
    st.fixed_dictionaries({"type": st.just("image"), "data": st.text() | _base64, "mimeType": st.text(max_size=10)}),
    st.dictionaries(st.text(max_size=8), _json, max_size=4),
    _json,
)


@given(
    request_id=st.integers(-(2**53), 2**53) | st.text(),
    content=st.lists(_block, max_size=4),
    rest=st.dictionaries(st.text(max_size=8).filter(lambda k: k != "content"), _json, max_size=3),
)
def test_any_result_reads_back_as_itself(request_id: str | int, content: list[Any], rest: dict[str, Any]) -> None:
    result = {"content": content, **rest}
    assert _decoded(request_id, result) == {"jsonrpc": "2.0", "id": request_id, "result": result}
