"""The ask tool in every dialect (issue 10), against a real `driverseat serve`: each
definition checked by its vendor's SDK types and JSON Schema, a call in each dialect's
shape answered in that dialect's result format; the Python client's ask() (sync and
async), `driverseat ask`, and the events the notifications subscribe to.

The person here answers through the API (the overlay's own path is in
test_questions_x11.py): a thread waits for the question to be pending and posts the answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
from typing import Any

import jsonschema
import pytest
from anthropic.types import ToolResultBlockParam, ToolUseBlock
from anthropic.types.beta import BetaToolParam, BetaToolUnionParam
from mcp.types import Tool as McpTool
from openai.types.responses import FunctionToolParam, ResponseFunctionToolCall
from openai.types.responses import ToolParam as OpenAIToolParam
from openai.types.responses.response_input_item_param import FunctionCallOutput
from pydantic import TypeAdapter
from websockets.sync.client import connect

from daemon.client import AsyncClient, Client
from tests.e2e.live_daemon import Daemon, settled

pytestmark = pytest.mark.x11

QUESTION = {"question": "Which of the two Save buttons?", "goal": "save the form",
            "options": [{"text": "the top one", "point": [100, 100]},
                        {"text": "the bottom one", "box": [50, 600, 300, 650]}]}  # fmt: skip


def answer_when_pending(d: Daemon, body: dict[str, Any]) -> threading.Thread:
    """A person answering ``body`` to the next question that comes, through the API."""

    def go() -> None:
        q = settled(lambda: [x for x in d.http.get("/v1/questions").json() if x["status"] == "pending"],
                    20, "a pending question")[0]  # fmt: skip
        r = d.http.post(f"/v1/questions/{q['id']}/answer", json={"reviewer": "tester", **body})
        assert r.status_code == 200, r.text

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def tools(d: Daemon, dialect: str) -> list[dict[str, Any]]:
    r = d.http.get("/v1/tools", params={"dialect": dialect})
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()["tools"]
    return out


def test_anthropic_definitions_fit_the_sdk_types(served: Daemon) -> None:
    defs = tools(served, "anthropic")
    TypeAdapter(list[BetaToolUnionParam]).validate_python(defs)
    computer, ask = defs
    assert computer["type"] == "computer_20250124" and computer["display_width_px"] == 1366
    assert set(ask) <= set(BetaToolParam.__annotations__) and ask["name"] == "ask_human"
    jsonschema.Draft202012Validator.check_schema(ask["input_schema"])
    jsonschema.validate(QUESTION, ask["input_schema"])


def test_openai_and_mcp_definitions_fit_the_sdk_types(served: Daemon) -> None:
    defs = tools(served, "openai")
    TypeAdapter(list[OpenAIToolParam]).validate_python(defs)
    computer, ask = defs
    assert computer == {"type": "computer"}  # the GA computer tool
    assert set(ask) <= set(FunctionToolParam.__annotations__) and ask["type"] == "function"
    jsonschema.validate(QUESTION, ask["parameters"])
    (mcp_tool,) = tools(served, "mcp")
    assert McpTool.model_validate(mcp_tool).input_schema == ask["parameters"]
    r = served.http.get("/v1/tools", params={"dialect": "gemini"})
    assert r.status_code == 422 and "dialect" in r.json()["error"]


def test_an_anthropic_tool_use_gets_a_tool_result(served: Daemon) -> None:
    block = ToolUseBlock(type="tool_use", id="toolu_01", name="ask_human", input=QUESTION)
    person = answer_when_pending(served, {"kind": "point", "point": [700, 400]})
    with served.fresh() as http:
        r = http.post("/v1/anthropic/ask", json=block.model_dump(mode="json"))
    person.join(10)
    assert r.status_code == 200, r.text
    result = r.json()
    TypeAdapter(ToolResultBlockParam).validate_python(result)
    assert result["tool_use_id"] == "toolu_01" and result["is_error"] is False
    text, image = result["content"]
    assert text["type"] == "text" and "pointed at" in text["text"]
    answer = json.loads(text["text"].splitlines()[1])
    assert answer["kind"] == "point" and answer["point"] == [498, 284]  # agent pixels
    assert image["type"] == "image" and base64.b64decode(image["source"]["data"]).startswith(b"\x89PNG")


def test_a_bad_tool_use_gets_an_error_tool_result(served: Daemon) -> None:
    r = served.http.post("/v1/anthropic/ask", json={"type": "tool_use", "id": "toolu_02", "name": "ask_human",
                                                    "input": {"options": [{"text": "x"}] * 10}})  # fmt: skip
    assert r.status_code == 422
    body = r.json()
    assert body["is_error"] is True and body["tool_use_id"] == "toolu_02"
    assert "question" in body["content"][0]["text"]


def test_an_openai_function_call_gets_its_output(served: Daemon) -> None:
    call = ResponseFunctionToolCall(type="function_call", call_id="call_7", name="ask_human",
                                    arguments=json.dumps(QUESTION))  # fmt: skip
    person = answer_when_pending(served, {"kind": "option", "option": 2})
    with served.fresh() as http:
        r = http.post("/v1/openai/ask", json=call.model_dump(mode="json", exclude_none=True))
    person.join(10)
    assert r.status_code == 200, r.text
    out = r.json()
    TypeAdapter(FunctionCallOutput).validate_python(out)
    assert out["call_id"] == "call_7" and isinstance(out["output"], str)
    assert "option 2" in out["output"] and "the bottom one" in out["output"]
    bad = served.http.post("/v1/openai/ask", json={**call.model_dump(mode="json"), "arguments": "{not json"})
    assert bad.status_code == 422 and "not JSON" in bad.json()["error"]


def test_the_client_asks_sync_and_async(served: Daemon) -> None:
    person = answer_when_pending(served, {"kind": "text", "text": "the top one, the other is disabled"})
    with Client(served.url, served.token) as c:
        q = c.ask({"question": "Which?", "options": [{"text": "top"}, {"text": "bottom"}]})
    person.join(10)
    assert q.status == "answered" and q.answer is not None and q.answer.text == "the top one, the other is disabled"

    async def go() -> Any:
        async with AsyncClient(served.url, served.token) as c:
            return await c.ask({"question": "Still there?", "timeout": 1})

    expired = asyncio.run(go())
    assert expired.status == "expired" and expired.answer is None


def test_driverseat_ask_prints_the_answer(served: Daemon) -> None:
    cli = [sys.executable, "-m", "daemon.cli", "ask", "--url", served.url, "--data-dir", str(served.data)]
    person = answer_when_pending(served, {"kind": "option", "option": 2})
    done = subprocess.run([*cli, "Which flight?", "--option", "economy", "--option", "business"], check=False,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    person.join(10)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2: business"
    many = [a for i in range(10) for a in ("--option", f"o{i}")]
    bad = subprocess.run([*cli, "Which?", *many], check=False, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "at most 9" in bad.stderr


def test_events_announce_questions_and_never_carry_a_secret(served: Daemon) -> None:
    secret = "pw-8c1f2e"
    seen: list[dict[str, Any]] = []
    with connect(served.ws_url, proxy=None) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "state"
        person = answer_when_pending(served, {"kind": "secret", "text": secret})
        got = served.http.post("/v1/questions", params={"wait": 30},
                               json={"question": "Password?", "secret": True}).json()  # fmt: skip
        person.join(10)
        assert got["answer"]["text"] == secret  # handed to the agent, once
        while not any(m.get("type") == "question_resolved" for m in seen):
            raw = ws.recv(timeout=10)
            assert secret not in str(raw)
            seen.append(json.loads(raw))
    kinds = [m["type"] for m in seen if m["type"].startswith("question")]
    assert kinds == ["question", "question_resolved"]
    assert seen[0]["question"]["id"] == got["id"] == seen[-1]["id"]


def test_an_interrupted_ask_withdraws_its_question(served: Daemon) -> None:
    """Ctrl-C on `driverseat ask` (the sync client's ask()): the question leaves the
    person's screen, ``withdrawn``; a late answer is refused, and withdrawing twice too."""
    import signal

    cli = [sys.executable, "-m", "daemon.cli", "ask", "--url", served.url, "--data-dir", str(served.data)]
    asking = subprocess.Popen([*cli, "Which one, please?"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        q = settled(lambda: [x for x in served.http.get("/v1/questions").json()
                             if x["question"] == "Which one, please?"], 30, "the question")[0]  # fmt: skip
        asking.send_signal(signal.SIGINT)
        assert asking.wait(timeout=30) == 130
    finally:
        if asking.poll() is None:
            asking.kill()
    gone = served.http.get(f"/v1/questions/{q['id']}").json()
    assert gone["status"] == "withdrawn" and gone.get("answer") is None, gone
    assert all(x["id"] != q["id"] for x in served.http.get("/v1/questions").json())
    late = served.http.post(f"/v1/questions/{q['id']}/answer", json={"reviewer": "tester", "kind": "option", "option": 1})
    assert late.status_code == 409 and "already withdrawn" in late.json()["error"]
    again = served.http.post(f"/v1/questions/{q['id']}/withdraw")
    assert again.status_code == 409 and "already withdrawn" in again.json()["error"]
    assert served.http.post("/v1/questions/nope/withdraw").status_code == 404
