"""An OpenAI call with pending safety checks, over real HTTP: the review carries the checks
in ``safety_checks`` (not as text the agent read from the screen), under the rule
``openai-safety-checks``. The daemon runs on the fake backend (no X needed)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.control.runtime import Runtime
from daemon.review.gate import Gate
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import poll, serving
from tests.daemon.test_gate import PNG, POLICY, SCREEN
from tests.daemon.test_openai_adapter import GUIDE_SAFETY

TOKEN = "safety-token-0123456789abcdef"


@pytest.fixture
def http(tmp_path: Path) -> Iterator[httpx.Client]:
    runtime = Runtime(FakeBackend((1366, 768)), step_interval=0.0)
    store = Store(tmp_path / "d.db")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp_path / "frames"), SCREEN, grab_frame=lambda: PNG)
    try:
        with (
            serving(create_app(Daemon(runtime, store, gate), TOKEN)) as url,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c,
        ):
            yield c
    finally:
        runtime.close()
        store.close()


def test_safety_checks_get_a_field_of_their_own(http: httpx.Client) -> None:
    pending: list[dict[str, Any]] = []

    def listed() -> bool:
        pending[:] = http.get("/v1/reviews").json()
        return bool(pending)

    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(http.post, "/v1/openai/computer", json=GUIDE_SAFETY)
        assert poll(listed, timeout=10)
        review = pending[0]
        try:
            check = GUIDE_SAFETY["pending_safety_checks"][0]
            assert review["safety_checks"] == [f"malicious_instructions: {check['message']}"]
            assert review["screen_text"] is None  # not passed off as text read from the screen
            assert review["rule"] == "openai-safety-checks" and review["tier"] == "approve"
        finally:  # the held call returns whatever happened above
            decided = http.post(f"/v1/reviews/{review['id']}/decision",
                                json={"verdict": "reject", "reviewer": "ann"})  # fmt: skip
        assert decided.status_code == 200, decided.text
        out = call.result(timeout=30)
    assert out.status_code in (200, 503), out.text  # 503: the fake backend has no screenshot
