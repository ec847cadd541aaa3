"""Fuzz the live daemon over real HTTP with schemathesis, from its own /openapi.json.

A bounded smoke run here (CI); `bench/fuzz_api.py` runs the long one. Checks: no 5xx,
responses conform to the schema, the daemon stays up, and every rejected request
leaves the desktop untouched (no primitive sent, nothing reaches the target window).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from daemon.api.app import create_app
from daemon.control.runtime import Runtime
from daemon.control.screenshots import ScreenGrabber
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

TOKEN = "fuzz-token-0123456789"
# bench/fuzz_api.py runs this module with many more examples and reads the report
EXAMPLES = int(os.environ.get("DRIVERSEAT_FUZZ_EXAMPLES", "30"))
REPORT = os.environ.get("DRIVERSEAT_FUZZ_REPORT")


class Live:
    def __init__(self, url: str, runtime: Runtime, target: TargetWindow) -> None:
        self.url, self.runtime, self.target = url, runtime, target


@pytest.fixture(scope="module")
def live(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    target = TargetWindow(xserver)
    grabber = ScreenGrabber(xserver)
    runtime = Runtime(display=xserver, step_interval=0.0, resume_after=0.05, screenshot=grabber)
    store = Store(tmp_path_factory.mktemp("fuzz") / "d.db")
    try:
        with serving(create_app(Daemon(runtime, store), TOKEN)) as url:
            yield Live(url, runtime, target)
    finally:
        runtime.close()
        grabber.close()
        store.close()
        target.close()


def _tame(body: Any) -> None:
    """Keep generated actions short: a 60 s wait or 10,000 characters prove nothing more."""
    if isinstance(body, dict):
        for key in ("duration",):
            if isinstance(body.get(key), (int, float)) and not isinstance(body[key], bool) and body[key] > 0.02:
                body[key] = 0.02
        if isinstance(body.get("text"), str) and len(body["text"]) > 40:
            body["text"] = body["text"][:40]
        if isinstance(body.get("path"), list) and len(body["path"]) > 20:
            body["path"] = body["path"][:20]
        if isinstance(body.get("input"), dict):
            _tame(body["input"])


def _operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_survives_fuzzing(live: Live, mode: GenerationMode) -> None:
    operations = [op for op in _operations(live.url) if op.path != "/v1/control/stop"]
    assert {op.path for op in operations} >= {"/v1/actions", "/v1/anthropic/computer", "/v1/state"}
    # (a stop would turn every later action into a quick "interrupted": less coverage)
    counts: dict[str, int] = {}
    for op in operations:

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            _tame(case.body)
            live.runtime.intervention.resume(by="fuzz")
            sent = live.runtime.executor.primitives_sent
            seen = len(live.target.snapshot())
            response = case.call(base_url=live.url, headers={"Authorization": f"Bearer {TOKEN}"})
            counts[f"{response.status_code // 100}xx"] = counts.get(f"{response.status_code // 100}xx", 0) + 1
            assert response.status_code < 500, (op.label, case.body, response.text[:300])
            if mode is GenerationMode.POSITIVE or response.status_code < 400:
                case.validate_response(
                    response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
                )
            if 400 <= response.status_code < 500:
                live.runtime.backend.barrier()
                assert live.runtime.executor.primitives_sent == sent, "a rejected request sent input"
                assert len(live.target.snapshot()) == seen, "a rejected request reached the window"
            assert httpx.get(live.url + "/healthz").status_code == 200

        try:
            fuzz()
        except Unsatisfiable:
            # an operation with nothing to get wrong (no body, no parameters) has no
            # negative cases; the positive run covered it
            assert mode is GenerationMode.NEGATIVE
    if REPORT:
        with open(REPORT, "a") as f:
            f.write(json.dumps({"mode": mode.value, "operations": len(operations), "responses": counts}) + "\n")
