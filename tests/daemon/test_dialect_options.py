"""``serve``'s dialect options and the envelope switch (docs/dialects.md)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from capture.input._fake import FakeBackend
from daemon.api import dialect_shapes
from daemon.api.app import create_app
from daemon.api.dialect_shapes import DialectOptions, openai_error, wants_envelope
from daemon.cli import build_parser, dialect_flags
from daemon.cli.dialect_flags import dialect_options
from daemon.control.runtime import Runtime
from daemon.outcomes import Outcome
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving

TOKEN = "dialect-options-token-0123456789"


def _request(query: str = "", headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "POST", "path": "/v1/openai/computer",
                    "query_string": query.encode(), "headers": raw})  # fmt: skip


def test_the_cli_and_the_api_agree_on_the_default_settle() -> None:
    assert dialect_flags.DEFAULT_SETTLE_MS == dialect_shapes.DEFAULT_SETTLE_MS
    assert dialect_flags.MAX_SETTLE_MS == dialect_shapes.MAX_SETTLE_MS
    assert DialectOptions() == DialectOptions(screenshot_after=True, settle_ms=dialect_shapes.DEFAULT_SETTLE_MS)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (True, dialect_shapes.DEFAULT_SETTLE_MS)),
        (["--no-screenshot-after"], (False, dialect_shapes.DEFAULT_SETTLE_MS)),
        (["--screenshot-after", "--settle-ms", "2000"], (True, 2000)),  # the reference tool's 2 s
        (["--settle-ms", "0"], (True, 0)),
    ],
)
def test_serve_flags(argv: list[str], expected: tuple[bool, int]) -> None:
    assert dialect_options(build_parser().parse_args(["serve", *argv])) == expected


@pytest.mark.parametrize(("value", "said"), [("-1", "must be 0 to 10000"), ("20000", "must be 0 to 10000"),
                                             ("soon", "expected whole milliseconds")])  # fmt: skip
def test_a_bad_settle_is_exit_2_with_a_sentence(value: str, said: str) -> None:
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "serve", "--settle-ms", value],
                          check=False, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and said in done.stderr, done.stderr


def test_options_refuse_a_settle_out_of_range() -> None:
    with pytest.raises(ValueError, match="settle_ms must be 0 to 10000"):
        DialectOptions(settle_ms=-5)


@pytest.mark.parametrize(
    ("query", "headers", "wanted"),
    [("", {}, False), ("envelope=1", {}, True), ("envelope=true", {}, True), ("envelope=0", {}, False),
     ("", {"Driverseat-Envelope": "1"}, True), ("", {"Driverseat-Envelope": "no"}, False)],
)  # fmt: skip
def test_the_envelope_is_asked_for_by_query_or_header(query: str, headers: dict[str, str], wanted: bool) -> None:
    assert wants_envelope(_request(query, headers)) is wanted


def test_openai_errors_are_openais_error_object_unless_the_envelope_is_asked() -> None:
    body = openai_error(_request(), 403, "held for a person", None, None)
    assert body == {"error": {"message": "held for a person", "type": "permission_error", "param": None, "code": None}}
    assert openai_error(_request(), 422, "bad", None, None)["error"]["type"] == "invalid_request_error"
    assert openai_error(_request("envelope=1"), 422, "bad", [{"loc": "x"}], None) == {
        "error": "bad", "details": [{"loc": "x"}]}  # fmt: skip


# -- the settle, in a served app on a fake desktop ---------------------------------------------


class _Timed(Daemon):
    """A daemon that notes when each action ended and each look began (a lower bound on
    the gap between them is what a settle guarantees, however loaded the machine)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acted: list[float] = []
        self.looked: list[tuple[str, float]] = []

    async def act(self, *args: Any, **kwargs: Any) -> Outcome:
        try:
            return await super().act(*args, **kwargs)
        finally:
            self.acted.append(time.monotonic())

    async def look(self, action: Any) -> Outcome:
        self.looked.append((action.action, time.monotonic()))
        return await super().look(action)


@contextmanager
def _served(tmp_path: Path, options: DialectOptions) -> Iterator[tuple[httpx.Client, _Timed]]:
    runtime = Runtime(FakeBackend((1366, 768)), step_interval=0.0)
    store = Store(tmp_path / "d.db")
    daemon = _Timed(runtime, store)
    try:
        with serving(create_app(daemon, TOKEN, options)) as url, httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as http:
            yield http, daemon
    finally:
        runtime.close()
        store.close()


SETTLE_LOWER = 0.295  # s: the 300 ms settle, less what a loop timer may fire early


def test_the_screenshot_after_waits_the_settle_first(tmp_path: Path) -> None:
    with _served(tmp_path, DialectOptions(settle_ms=300)) as (http, daemon):
        r = http.post("/v1/anthropic/computer", json={"action": "left_click", "coordinate": [5, 5]})
        assert r.status_code == 200, r.text
        shots = [t for kind, t in daemon.looked if kind == "screenshot"]
        # the loop's timers (uvloop) may fire a millisecond early: a 5 ms tolerance, no more
        assert len(shots) == 1 and shots[0] - daemon.acted[-1] >= SETTLE_LOWER
        # a wait was its own settling: its screenshot follows at once (no lower bound kept)
        r = http.post("/v1/anthropic/computer", json={"action": "wait", "duration": 0})
        assert r.status_code == 200 and len([k for k, _ in daemon.looked if k == "screenshot"]) == 2
        # OpenAI's output screenshot settles too
        call = {"type": "computer_call", "call_id": "c1", "action": {"type": "move", "x": 9, "y": 9}}
        before = len(daemon.looked)
        assert http.post("/v1/openai/computer", json=call).status_code in (200, 503)
        assert daemon.looked[before][1] - daemon.acted[-1] >= SETTLE_LOWER


def test_no_screenshot_after_takes_no_look(tmp_path: Path) -> None:
    with _served(tmp_path, DialectOptions(screenshot_after=False)) as (http, daemon):
        r = http.post("/v1/anthropic/computer", json={"action": "left_click", "coordinate": [5, 5]})
        assert r.status_code == 200, r.text
        assert daemon.acted and not [k for k, _ in daemon.looked if k == "screenshot"]
