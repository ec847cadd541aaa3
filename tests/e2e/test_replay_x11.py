"""The replay corpus (tests/replay): real Claude and OpenAI outputs, posted to a real
`driverseat serve` on Xvfb exactly as an agent built on the vendor's reference tool posts
them. Every block is accepted, executed (the target window sees its input) and answered
in the vendor's shape, as the vendors' own SDK types define it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import vendor_shapes
from tests.e2e.live_daemon import Daemon, agent_events, near, screen_xy
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

CORPUS = Path(__file__).resolve().parents[1] / "replay"


def _load(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(source directory, block without our ``_`` provenance fields) for every line."""
    found = []
    for path in sorted(CORPUS.glob(f"*/{name}")):
        for line in path.read_text().splitlines():
            if line.strip():
                block = {k: v for k, v in json.loads(line).items() if not k.startswith("_")}
                found.append((path.parent.name, block))
    return found


TOOL_USES = _load("tool_use.jsonl")
CALLS = _load("computer_call.jsonl")


def test_every_source_names_its_repository_commit_and_licence() -> None:
    sources = [d for d in CORPUS.iterdir() if d.is_dir()]
    assert sources, "the replay corpus is empty"
    for d in sources:
        text = (d / "SOURCE.md").read_text()
        for needed in ("Repository: https://github.com/", "Commit: `", "Path: `", "Licence"):
            assert needed in text, f"{d.name}/SOURCE.md says nothing of {needed!r}"
        assert any(d.glob("*.jsonl")), f"{d.name} holds no blocks"
    assert TOOL_USES and CALLS, "the corpus needs real outputs of both vendors"


@pytest.fixture(scope="module")
def replayer(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    # no policy: the corpus checks the dialects, not what a policy would hold for a person
    d = Daemon(xserver, tmp_path_factory.mktemp("replay"), Path("off"), extra=["--settle-ms", "50"])
    try:
        yield d
    finally:
        d.close()


def _reached(target: TargetWindow, x: int, y: int) -> bool:
    spot = screen_xy(x, y)
    return target.wait_for(
        lambda: any(e["type"] == "button_release" and near(e, spot) for e in agent_events(target)), 10
    )


@pytest.mark.parametrize(("source", "block"), TOOL_USES, ids=[f"{s}-{b['id']}" for s, b in TOOL_USES])
def test_real_claude_tool_use_runs_and_answers_a_tool_result(
    replayer: Daemon, target: TargetWindow, source: str, block: dict[str, Any]
) -> None:
    vendor_shapes.anthropic_tool_use(block)  # the corpus holds what the API returns
    with replayer.vendor() as http:
        r = http.post("/v1/anthropic/computer", json=block)
    assert r.status_code == 200, r.text
    assert r.headers["Driverseat-Status"] == "executed", r.headers
    content = vendor_shapes.anthropic_tool_result(r.json(), block["id"])
    assert r.json()["is_error"] is False
    inp = block["input"]
    images = [c for c in content if c["type"] == "image"]
    if inp["action"] == "cursor_position":
        assert content[0]["text"].startswith("X=")
    else:  # a screenshot, a zoom, or the reference tool's screenshot after any other action
        assert len(images) == 1, content
    if inp.get("coordinate") and "click" in inp["action"]:
        assert _reached(target, *inp["coordinate"])


@pytest.mark.parametrize(("source", "call"), CALLS, ids=[f"{s}-{c['call_id']}" for s, c in CALLS])
def test_real_openai_computer_call_runs_and_answers_a_computer_call_output(
    replayer: Daemon, target: TargetWindow, source: str, call: dict[str, Any]
) -> None:
    vendor_shapes.openai_call(call)
    with replayer.vendor() as http:
        r = http.post("/v1/openai/computer", json=call)
    assert r.status_code == 200, r.text
    assert r.headers["Driverseat-Status"] == "executed", r.headers
    vendor_shapes.openai_call_output(r.json(), call["call_id"])
    assert r.json()["acknowledged_safety_checks"] == []
    for act in call.get("actions") or [call["action"]]:
        if act["type"] in ("click", "double_click"):
            assert _reached(target, act["x"], act["y"])
