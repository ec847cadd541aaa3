"""``serve``'s dialect options and the envelope switch (docs/dialects.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from starlette.requests import Request

from daemon.api import dialect_shapes
from daemon.api.dialect_shapes import DialectOptions, openai_error, wants_envelope
from daemon.cli import build_parser, dialect_flags
from daemon.cli.dialect_flags import dialect_options


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
