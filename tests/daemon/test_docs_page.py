"""``GET /docs`` over real HTTP: readable without a token, self-contained, secret-free,
and opening nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

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
from tests.daemon.live import serving
from tests.daemon.test_gate import PNG, POLICY, SCREEN

TOKEN = "docs-token-0123456789abcdef"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("docs")
    runtime = Runtime(FakeBackend((1366, 768)), step_interval=0.0)
    store = Store(tmp / "d.db")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp / "frames"), SCREEN, grab_frame=lambda: PNG)
    try:
        with serving(create_app(Daemon(runtime, store, gate), TOKEN)) as u:
            yield u
    finally:
        runtime.close()
        store.close()


def test_docs_need_no_token_and_list_every_operation(url: str) -> None:
    page = httpx.get(url + "/docs", timeout=30)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    doc = httpx.get(url + "/openapi.json", timeout=30).json()
    for path, item in doc["paths"].items():
        for method in item:
            assert f'<span class="m">{method}</span> <code>{path}</code>' in page.text
    assert 'href="#schema-DecisionRequest"' in page.text and 'id="schema-DecisionRequest"' in page.text
    assert "/v1/actions</code> <span class=\"lock\">(token)</span>" in page.text
    assert "/healthz</code> (public)" in page.text


def test_docs_are_self_contained_and_hold_no_secret(url: str) -> None:
    page = httpx.get(url + "/docs", timeout=30)
    assert TOKEN not in page.text
    assert "<script" not in page.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)  # nothing from a CDN
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_api_behind_the_docs_still_needs_the_token(url: str) -> None:
    assert httpx.get(url + "/v1/state", timeout=30).status_code == 401
    assert httpx.get(url + "/docs/../v1/state", timeout=30).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(url + "/v1/state", headers=auth, timeout=30).status_code == 200
    # FastAPI's own pages (which load from a CDN) are not served, even with the token
    for path in ("/redoc", "/docs/oauth2-redirect"):
        assert httpx.get(url + path, headers=auth, timeout=30).status_code == 404, path
