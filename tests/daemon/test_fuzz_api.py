"""Fuzz the live daemon over real HTTP with schemathesis, from its own /openapi.json.

Every operation (the review routes included: the daemon has a policy that holds some
actions for a person) in three phases: positive and negative generation one operation
at a time, then stateful sequences that follow the links schemathesis infers from the
document (an action's id into ``GET /v1/actions/{id}``, a review's id into its
decision). A bounded run here (CI, well under two minutes); `bench/fuzz_api.py` runs
the long one. Checks: no 5xx, no hang (every call has a timeout), responses conform to
the schema, the daemon stays up, and every rejected request leaves the desktop
untouched (no primitive sent, nothing reaches the target window).
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
from daemon.review.gate import Gate
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

TOKEN = "fuzz-token-0123456789"
# bench/fuzz_api.py runs this module with many more examples and reads the report.
# Random generation alone, even at 300 examples, never sent {"action": {}} (the old 500):
# schemathesis's coverage phase (every property given each wrong type, boundaries,
# missing and extra fields) does, and finds that bug when it is put back
# (docs/hardening.md). Stateful: sequences of up to STEPS calls.
EXAMPLES = int(os.environ.get("DRIVERSEAT_FUZZ_EXAMPLES", "50"))
SEQUENCES = int(os.environ.get("DRIVERSEAT_FUZZ_SEQUENCES", "60"))
STEPS = 6
CALL_TIMEOUT = 20.0  # seconds: a call that takes longer is a hang, and fails the test
REPORT = os.environ.get("DRIVERSEAT_FUZZ_REPORT")
# a policy that holds some actions for a person, briefly (no person here: they expire),
# so that reviews exist for the review routes and the stateful links to reach
POLICY = """
[defaults]
tier = "auto"
review_expiry_seconds = 0.05
grace_seconds = 0.05
rationale_required = []

[[rule]]
name = "fuzz-held"
tier = "approve"
kinds = ["type", "key"]
text = "[A-M]"

[[rule]]
name = "fuzz-grace"
tier = "grace"
kinds = ["scroll"]

[[rule]]
name = "fuzz-denied"
tier = "deny"
kinds = ["type"]
text = "rm -rf"
"""
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


class Live:
    def __init__(self, url: str, runtime: Runtime, target: TargetWindow) -> None:
        self.url, self.runtime, self.target = url, runtime, target
        # one kept client: a new one per check costs an SSL context (most of the run)
        self.http = httpx.Client(base_url=url, timeout=CALL_TIMEOUT)
        self.quiet = 0

    def alive(self) -> bool:
        return self.http.get("/healthz").status_code == 200


@pytest.fixture(scope="module")
def live(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    target = TargetWindow(xserver)
    grabber = ScreenGrabber(xserver)
    runtime = Runtime(display=xserver, step_interval=0.0, resume_after=0.05, screenshot=grabber)
    tmp = tmp_path_factory.mktemp("fuzz")
    store = Store(tmp / "d.db")
    frames = ScreenGrabber(xserver, 1, None, "screen")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp / "frames"), runtime.view.scaling,
                grab_frame=frames.png)  # fmt: skip
    try:
        with serving(create_app(Daemon(runtime, store, gate), TOKEN)) as url:
            lv = Live(url, runtime, target)
            yield lv
            lv.http.close()
    finally:
        runtime.close()
        grabber.close()
        frames.close()
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


def _schema(url: str) -> Any:
    # a stop would turn every later action into a quick "interrupted": less coverage
    return schemathesis.openapi.from_url(url + "/openapi.json").exclude(path="/v1/control/stop")


def _operations(url: str) -> list[Any]:
    return [result.ok() for result in _schema(url).get_all_operations()]


def _untouched(live: Live, sent: int, seen: int) -> None:
    """Nothing sent (the executor's count, after a barrier: authoritative) and, when no
    earlier action's events can still be on their way to it, nothing in the window."""
    live.runtime.backend.barrier()
    assert live.runtime.executor.primitives_sent == sent, "a rejected request sent input"
    if live.quiet >= 2:
        assert len(live.target.snapshot()) == seen, "a rejected request reached the window"


def _after(live: Live, sent: int) -> None:
    # calls in a row that sent nothing: the window has had a whole call to catch up
    live.quiet = live.quiet + 1 if live.runtime.executor.primitives_sent == sent else 0


def _count(counts: dict[str, int], status: int) -> None:
    counts[f"{status // 100}xx"] = counts.get(f"{status // 100}xx", 0) + 1


def _report(phase: str, operations: int, counts: dict[str, int]) -> None:
    if REPORT:
        with open(REPORT, "a") as f:
            f.write(json.dumps({"mode": phase, "operations": operations, "responses": counts}) + "\n")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_survives_fuzzing(live: Live, mode: GenerationMode) -> None:
    operations = _operations(live.url)
    paths = {op.path for op in operations}
    assert paths >= {"/v1/actions", "/v1/anthropic/computer", "/v1/openai/computer", "/v1/state",
                     "/v1/reviews", "/v1/reviews/{review_id}/decision"}  # fmt: skip
    assert "/v1/control/stop" not in paths
    counts: dict[str, int] = {}
    for op in operations:

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            _tame(case.body)
            live.runtime.intervention.resume(by="fuzz")
            sent = live.runtime.executor.primitives_sent
            seen = len(live.target.snapshot())
            response = case.call(
                base_url=live.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=CALL_TIMEOUT
            )
            _count(counts, response.status_code)
            assert response.status_code < 500, (op.label, case.body, response.text[:300])  # noqa: B023 - called in this iteration
            if mode is GenerationMode.POSITIVE or response.status_code < 400:
                case.validate_response(response, checks=CHECKS)
            if 400 <= response.status_code < 500:
                _untouched(live, sent, seen)
            _after(live, sent)
            assert live.alive(), "the daemon stopped answering"

        try:
            fuzz()
        except Unsatisfiable:
            # an operation with nothing to get wrong (no body, no parameters) has no
            # negative cases; the positive run covered it
            assert mode is GenerationMode.NEGATIVE
    _report(mode.value, len(operations), counts)


def test_api_survives_the_coverage_phase(live: Live) -> None:
    """schemathesis's deterministic cases for every operation: each property of each body
    with every wrong JSON type, boundary values, missing and unexpected fields."""
    schema = _schema(live.url)
    counts: dict[str, int] = {}
    operations = _operations(live.url)
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    for op in operations:
        config = schema.config.generation_for(operation=op)
        for case in schema.iter_coverage_cases(op, generation_modes=modes, generation_config=config):
            _tame(case.body)
            live.runtime.intervention.resume(by="fuzz")
            sent = live.runtime.executor.primitives_sent
            seen = len(live.target.snapshot())
            response = case.call(
                base_url=live.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=CALL_TIMEOUT
            )
            _count(counts, response.status_code)
            assert response.status_code < 500, (op.label, case.body, response.text[:300])
            if 400 <= response.status_code < 500:
                _untouched(live, sent, seen)
            _after(live, sent)
    assert live.alive(), "the daemon stopped answering"
    assert sum(counts.values()) > 1000, counts  # the phase did generate its cases
    _report("coverage", len(operations), counts)


def test_api_survives_stateful_fuzzing(live: Live) -> None:
    """Sequences of calls that feed each answer's ids into the next call."""
    schema = _schema(live.url)
    machine = schema.as_state_machine()
    links = [n for n in dir(machine) if "__GET_v1_actions_action_id_" in n or "decision" in n]
    assert links, "schemathesis found no links to follow: the stateful phase would test nothing"
    counts: dict[str, int] = {}

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            _tame(case.body)
            live.runtime.intervention.resume(by="fuzz")
            self._sent = live.runtime.executor.primitives_sent
            self._seen = len(live.target.snapshot())

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": live.url, "headers": {"Authorization": f"Bearer {TOKEN}"},
                    "timeout": CALL_TIMEOUT}  # fmt: skip

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            _count(counts, response.status_code)
            assert response.status_code < 500, (case.operation.label, case.body, response.text[:300])
            case.validate_response(response, checks=CHECKS)
            if 400 <= response.status_code < 500:
                _untouched(live, self._sent, self._seen)
            _after(live, self._sent)
            assert live.alive(), "the daemon stopped answering"

    Sequences.run(settings=settings(
        max_examples=SEQUENCES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck), database=None,
    ))  # fmt: skip
    _report("stateful", len(list(schema.get_all_operations())), counts)
