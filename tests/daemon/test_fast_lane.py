"""The fast lane answers exactly what the full app would, and takes the plain calls only.

Two daemons on the fake backend, each behind real HTTP: one app with the lane, one
without. The same requests go to both; their answers (status, body, the headers that
say what happened) and what each would have sent to the desktop must be the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.control.runtime import Runtime
from daemon.review.gate import Gate
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.reviewers import Reviewers
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving
from tests.daemon.test_gate import PNG, POLICY, SCREEN
from tests.daemon.test_hostile_http import BODIES

TOKEN = "lane-token-0123456789"
ANTHROPIC, OPENAI = "/v1/anthropic/computer", "/v1/openai/computer"


@dataclass
class Side:
    url: str
    fake: FakeBackend
    app: Any
    reviewer_token: str

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=30) as h:
            return h.request(method, path, content=body, headers=headers)


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side]]:
    made: list[tuple[Runtime, Store]] = []
    stack: list[Any] = []
    out = []
    try:
        for lane in (True, False):
            tmp = tmp_path_factory.mktemp(f"lane-{lane}")
            fake = FakeBackend((1366, 768))
            runtime, store = Runtime(fake, step_interval=0.0), Store(tmp / "d.db")
            made.append((runtime, store))
            gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp / "frames"), SCREEN, grab_frame=lambda: PNG)
            _, reviewer = Reviewers(store).add("rita")
            app = create_app(Daemon(runtime, store, gate), TOKEN, fast_lane=lane)
            cm = serving(app)
            url = cm.__enter__()
            stack.append(cm)
            out.append(Side(url, fake, app, reviewer))
        yield out[0], out[1]
    finally:
        for cm in reversed(stack):
            cm.__exit__(None, None, None)
        for runtime, store in made:
            runtime.close()
            store.close()


_HEX_ID = re.compile(r"[0-9a-f]{32}")
_VOLATILE = {"elapsed_ms", "since_s", "idle_s", "at", "created", "started", "ended", "shown_at"}


def _same(value: Any) -> Any:
    """A body without what differs between any two runs (ids, times)."""
    if isinstance(value, dict):
        return {k: _same(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_same(v) for v in value]
    if isinstance(value, str):
        return _HEX_ID.sub("<id>", value)
    return value


def _answer(r: httpx.Response) -> tuple[int, Any, str | None, str | None]:
    try:
        body = _same(r.json())
    except ValueError:
        body = r.text
    return r.status_code, body, r.headers.get("content-type"), r.headers.get("driverseat-status")


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


# fmt: off
PLAIN: list[tuple[str, str, bytes | None]] = [
    ("GET", "/v1/state", None),
    ("POST", "/v1/actions", _json({"action": "move", "x": 10, "y": 20})),
    ("POST", "/v1/actions", _json({"action": "click", "x": 5, "y": 6, "reason": "open it"})),
    ("POST", "/v1/actions", _json({"action": "key", "keys": "ctrl+s"})),  # notify tier
    ("POST", "/v1/actions", _json({"action": "type", "text": ":(){ :|:& };:"})),  # denied
    ("POST", "/v1/actions", _json({"action": "cursor_position"})),
    ("POST", "/v1/actions", _json({"action": "move", "x": 5000, "y": 1})),  # off-screen: raised inside
    ("POST", "/v1/actions", _json({"action": "move", "x": 1, "y": 2, "space": "screen"})),
    ("POST", ANTHROPIC, _json({"action": "mouse_move", "coordinate": [30, 40]})),
    ("POST", ANTHROPIC, _json({"type": "tool_use", "id": "toolu_1", "name": "computer",
                               "input": {"action": "left_click", "coordinate": [3, 4]}})),
    ("POST", ANTHROPIC, _json({"type": "tool_use", "id": "toolu_2", "name": "bash",
                               "input": {"action": "mouse_move", "coordinate": [3, 4]}})),
    ("POST", ANTHROPIC, _json({"action": "left_click", "coordinate": [9000, 4]})),
    ("POST", OPENAI, _json({"call_id": "c1", "action": {"type": "move", "x": 7, "y": 8}})),
    ("POST", OPENAI, _json({"call_id": "c2", "actions": [{"type": "move", "x": 7, "y": 8},
                                                          {"type": "wait", "ms": 0}]})),
    ("POST", OPENAI, _json({"call_id": "c3", "actions": [{"type": "move", "x": 7, "y": 8},
                                                          {"type": "move", "x": 9000, "y": 8}]})),
]
# fmt: on
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def _both(sides: tuple[Side, Side], method: str, path: str, body: bytes | None,
          headers: dict[str, str]) -> tuple[Any, Any]:  # fmt: skip
    fast, full = sides
    for s in sides:
        s.fake.sent.clear()
    a, b = fast.send(method, path, body, headers), full.send(method, path, body, headers)
    assert fast.fake.sent == full.fake.sent
    return _answer(a), _answer(b)


@pytest.mark.parametrize(("method", "path", "body"), PLAIN, ids=[f"{p[1]} {(p[2] or b'')[:40]!r}" for p in PLAIN])
def test_a_plain_call_is_answered_as_the_full_app_answers_it(
    sides: tuple[Side, Side], method: str, path: str, body: bytes | None
) -> None:
    fast, _ = sides
    before = fast.app.lane.taken
    a, b = _both(sides, method, path, body, HEADERS)
    assert a == b
    assert fast.app.lane.taken == before + 1  # and the lane answered it


@pytest.mark.parametrize(("name", "body"), BODIES, ids=[b[0] for b in BODIES])
@pytest.mark.parametrize("path", ["/v1/actions", ANTHROPIC, OPENAI])
def test_a_hostile_body_gets_the_full_apps_refusal(
    sides: tuple[Side, Side], path: str, name: str, body: bytes
) -> None:
    a, b = _both(sides, "POST", path, body, HEADERS)
    assert a == b and 400 <= a[0] < 500


def _unusual(side: Side) -> list[tuple[str, str, str, bytes | None, dict[str, str]]]:
    move = _json({"action": "move", "x": 1, "y": 2})
    return [
        ("no token", "POST", "/v1/actions", move, {"Content-Type": "application/json"}),
        ("wrong token", "POST", "/v1/actions", move, {"Authorization": "Bearer nope-nope-nope"}),
        ("reviewer token", "POST", "/v1/actions", move, {"Authorization": f"Bearer {side.reviewer_token}"}),
        ("reviewer state", "GET", "/v1/state", None, {"Authorization": f"Bearer {side.reviewer_token}"}),
        ("foreign host", "POST", "/v1/actions", move, {**HEADERS, "Host": "evil.example"}),
        ("bad envelope", "POST", ANTHROPIC + "?envelope=banana", _json({"action": "mouse_move", "coordinate": [3, 4]}),
         HEADERS),
        ("bad envelope header", "POST", OPENAI, _json({"call_id": "c", "action": {"type": "move", "x": 1, "y": 1}}),
         {**HEADERS, "Driverseat-Envelope": "perhaps"}),
        ("other query", "POST", ANTHROPIC + "?envelope=1&x=2", _json({"action": "mouse_move", "coordinate": [3, 4]}),
         HEADERS),
        ("query on actions", "POST", "/v1/actions?envelope=1", move, HEADERS),
        ("form encoded", "POST", "/v1/actions", move,
         {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-www-form-urlencoded"}),
        ("wrong method", "PUT", "/v1/actions", move, HEADERS),
        ("not ascii", "POST", "/v1/actions", _json({"action": "type", "text": "héllo wörld"}), HEADERS),
    ]  # fmt: skip


ENVELOPED = [
    (ANTHROPIC + "?envelope=1", {}),
    (ANTHROPIC + "?envelope=false", {}),
    (ANTHROPIC, {"Driverseat-Envelope": "yes"}),
    (OPENAI + "?envelope=true", {}),
    (OPENAI, {"Driverseat-Envelope": "1"}),
]


@pytest.mark.parametrize(("path", "extra"), ENVELOPED, ids=[f"{p} {e}" for p, e in ENVELOPED])
def test_a_dialect_call_with_the_envelope_takes_the_lane_too(
    sides: tuple[Side, Side], path: str, extra: dict[str, str]
) -> None:
    # the MCP proxy and daemon.client ask for the envelope on every call
    fast, _ = sides
    before = fast.app.lane.taken
    body = (_json({"action": "mouse_move", "coordinate": [3, 4]}) if path.startswith(ANTHROPIC)
            else _json({"call_id": "c", "action": {"type": "move", "x": 1, "y": 1}}))  # fmt: skip
    a, b = _both(sides, "POST", path, body, {**HEADERS, **extra})
    assert a == b
    if path.startswith(ANTHROPIC):  # (the fake desktop has no screenshot for OpenAI's answer: 503)
        assert a[0] == 200 and ("driverseat" in a[1]) == ("false" not in path)
    assert fast.app.lane.taken == before + 1


def test_what_the_lane_does_not_take_is_answered_by_the_full_app(sides: tuple[Side, Side]) -> None:
    fast, full = sides
    for (name, method, path, body, headers), (_, _, _, _, headers_full) in zip(
        _unusual(fast), _unusual(full), strict=True
    ):
        for s in sides:
            s.fake.sent.clear()
        a = _answer(fast.send(method, path, body, headers))
        b = _answer(full.send(method, path, body, headers_full))
        assert a == b, name
        assert fast.fake.sent == full.fake.sent, name


def test_the_lane_takes_only_the_plain_calls(sides: tuple[Side, Side]) -> None:
    fast, _ = sides
    for name, method, path, body, headers in _unusual(fast):
        if name in ("form encoded", "not ascii"):
            continue  # plain enough: any Content-Type is read as JSON; UTF-8 goes the long way
        before = fast.app.lane.taken
        fast.send(method, path, body, headers)
        assert fast.app.lane.taken == before, name


# -- generated bodies: whatever a model may send, both ways -------------------------------

_KINDS = ["click", "move", "drag", "mouse_down", "mouse_up", "scroll", "type", "key", "screenshot",
          "cursor_position", "zoom", "fly", ""]  # fmt: skip  (no wait or hold_key: they take time)
_FIELDS = ["x", "y", "button", "count", "modifiers", "path", "dx", "dy", "text", "keys", "region",
           "space", "confidence", "reason", "steps", "alternatives", "action"]  # fmt: skip


def _bodies() -> Any:
    from hypothesis import strategies as st

    scalar = st.one_of(
        st.none(), st.booleans(), st.integers(-5, 2000), st.integers(), st.floats(allow_nan=False),
        st.text(max_size=12), st.sampled_from(["left", "screen", "agent", "ctrl+s", "a"]),
    )  # fmt: skip
    value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(_FIELDS), inner, max_size=3), max_leaves=8)  # fmt: skip
    fields = st.dictionaries(st.sampled_from(_FIELDS), value, max_size=5)
    return st.builds(lambda kind, rest: {**rest, "action": kind}, st.sampled_from(_KINDS), fields)


def test_generated_bodies_get_the_same_answer_both_ways(sides: tuple[Side, Side]) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_bodies())
    def check(body: dict[str, Any]) -> None:
        a, b = _both(sides, "POST", "/v1/actions", _json(body), HEADERS)
        assert a == b, body
        assert a[0] < 500, (body, a)

    check()
