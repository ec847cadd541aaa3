"""Answers with the screenshot's base64 spliced in are the bytes the encoders would make."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from daemon import jsonsplice as spliced
from daemon.jsonsplice import SPLICE_MIN, loads, outcome_json, render
from daemon.outcomes import Image, Outcome


def _b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode("ascii")


# long strings of any characters: a short piece repeated past SPLICE_MIN (or not)
_long = st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=8), st.integers(0, 1200))
_text = st.one_of(st.text(max_size=30), _long, st.builds(_b64, st.integers(0, 9000)))
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_render_is_what_jsonresponse_renders(content: Any) -> None:
    assert render(content) == JSONResponse(content).body


def test_a_dialects_screenshot_is_spliced_and_the_same() -> None:
    """An Anthropic tool result and an OpenAI computer_call_output, as the routes answer."""
    data = _b64(750_000)
    anthropic = {"content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                         "data": data}}], "is_error": False}  # fmt: skip
    openai = {"type": "computer_call_output", "call_id": "c1",
              "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64," + data}}  # fmt: skip
    for content in (anthropic, openai):
        assert render(content) == JSONResponse(content).body
        assert json.loads(render(content)) == content


def _outcome(data: str) -> Outcome:
    shot = Image(media_type="image/png", data=data, width=1366, height=768, space="agent")
    return Outcome(id="a1", action="screenshot", status="executed", control="agent", screenshot=shot,
                   elapsed_ms=5.25)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(_text)
def test_outcome_json_is_pydantics_json(data: str) -> None:
    o = _outcome(data)
    assert outcome_json(o) == o.model_dump_json().encode("utf-8")


def test_outcome_json_splices_a_screenshot_and_leaves_the_rest_to_pydantic(monkeypatch: Any) -> None:
    """The splice is taken for base64 (so the test above compares it), and not for what
    JSON would escape: quotes, backslashes, control characters, non-ASCII."""
    joins: list[int] = []
    real = spliced._joined
    monkeypatch.setattr(spliced, "_joined", lambda text, strings: joins.append(len(strings)) or real(text, strings))
    big = _b64(SPLICE_MIN)
    for data in (big, big + '"', big + "\\", big + "\x1f", big + "é", big[: SPLICE_MIN - 1]):
        o = _outcome(data)
        assert outcome_json(o) == o.model_dump_json().encode("utf-8")
    assert joins == [1]
    o = Outcome(id="m1", action="move", status="executed", control="agent")
    assert outcome_json(o) == o.model_dump_json().encode("utf-8")


def test_a_string_holding_the_marker_is_rendered_the_slow_way() -> None:
    """The marker is random per process; an answer that holds it anyway is still right."""
    content = {"a": _b64(SPLICE_MIN), "b": spliced._MARK}
    assert render(content) == JSONResponse(content).body


@settings(max_examples=300, deadline=None)
@given(_json, st.sampled_from([(",", ":"), (", ", ": ")]))
def test_loads_reads_what_json_loads_reads(content: Any, separators: tuple[str, str]) -> None:
    """Long strings of any characters (quotes, backslashes, control characters, non-ASCII)
    in any JSON, compact or not, and with ``ensure_ascii`` either way."""
    for ascii_only in (True, False):
        raw = json.dumps({"pad": _b64(3 * SPLICE_MIN), "v": content}, separators=separators,
                         ensure_ascii=ascii_only).encode("utf-8")  # fmt: skip
        assert loads(raw) == json.loads(raw)


def test_loads_cuts_a_screenshot_out_and_puts_it_back(monkeypatch: Any) -> None:
    data = _b64(300_000)
    answer = {"content": [{"type": "text", "text": 'a "quoted" :"b'}, {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": data}}], "is_error": False}  # fmt: skip
    raw = JSONResponse(answer).body
    decoded: list[int] = []
    real = json.loads
    monkeypatch.setattr(spliced.json, "loads", lambda b, **kw: decoded.append(len(b)) or real(b, **kw))
    assert loads(raw) == answer
    assert decoded and decoded[0] < 1000  # the decoder saw the rest, not the base64


def test_loads_refuses_what_json_loads_refuses() -> None:
    import pytest

    big = _b64(3 * SPLICE_MIN)
    for raw in ('{"a":"' + big + '"', '{"a":"' + big + '",}', '{"a":"' + big + '"}x', '["' + big + '"'):
        with pytest.raises(ValueError):
            json.loads(raw.encode())
        with pytest.raises(ValueError):
            loads(raw.encode())


def _checks(monkeypatch: Any) -> list[int]:
    """The lengths of the strings :func:`spliced._plain` looks at from now on."""
    seen: list[int] = []
    real = spliced._plain
    monkeypatch.setattr(spliced, "_plain", lambda raw: seen.append(len(raw)) or real(raw))
    return seen


def test_a_vouched_string_is_spliced_unchecked_and_an_equal_one_is_checked(monkeypatch: Any) -> None:
    """The grabber's base64 is spliced without a second look; the same characters in
    another string object are looked at as before (identity, not equality)."""
    raw = base64.b64encode(os.urandom(300_000))
    data = spliced.vouch(raw.decode("ascii"), raw)
    seen = _checks(monkeypatch)
    o = _outcome(data)
    assert outcome_json(o) == o.model_dump_json().encode("utf-8")
    assert render({"data": data}) == JSONResponse({"data": data}).body
    assert seen == []
    twin = _outcome("".join([data[:10], data[10:]]))  # equal, not the same object
    assert twin.screenshot is not None and twin.screenshot.data is not data
    assert outcome_json(twin) == outcome_json(o)
    assert seen == [len(raw)]


def test_only_the_last_vouched_strings_are_kept(monkeypatch: Any) -> None:
    first = spliced.vouch(_b64(SPLICE_MIN), b"")  # the bytes are never looked at again
    for _ in range(spliced.VOUCHED_KEPT):
        spliced.vouch(_b64(SPLICE_MIN), b"")
    assert len(spliced._vouched) == spliced.VOUCHED_KEPT
    seen = _checks(monkeypatch)
    assert spliced.json_verbatim(first) == first.encode("ascii")  # checked again, found plain
    assert seen == [len(first)]
    short = _b64(100)
    spliced.vouch(short, b"")
    assert id(short) not in spliced._vouched  # never spliced: never kept


def test_loads_vouches_for_what_it_cut_out(monkeypatch: Any) -> None:
    """The MCP proxy passes a screenshot it decoded on: the check it made once is enough."""
    data = _b64(300_000)
    got = loads(JSONResponse({"image": data}).body)["image"]
    seen = _checks(monkeypatch)
    assert spliced.json_verbatim(got) == data.encode("ascii")
    assert seen == []
