"""Candidates on the real overlay (docs/candidates.md): `driverseat serve` with its overlay
child on xcb, an agent over HTTP, the simulated person pressing keys, the target
window's XI2 log saying what reached the desktop, and the preference export read back
with ``datasets`` and TRL's own dataset functions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from Xlib import X, display

from tests.e2e.live_daemon import Daemon, barrier, near, policy_with, settled
from tests.e2e.test_candidates_x11 import MAIN, SECOND, THIRD, presses, proposal
from tests.e2e.test_review_loop_x11 import overlay_ready
from tests.x11.human import SimulatedHuman
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

HOLD = """
[[rule]]
name = "test-hold-middle"
tier = "approve"
kinds = ["click"]
region = [900, 500, 1020, 580]
"""
# the canvas's colours (overlay/widgets/canvas.py) and where a badge sits by its mark
RED, BLUE = (255, 59, 48), (10, 132, 255)
BADGE = (-30, -30)


@pytest.fixture(scope="module")
def shown(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data = tmp_path_factory.mktemp("candidates")
    policy = data / "policy.toml"
    policy.write_text(policy_with(HOLD))
    d = Daemon(xserver, data, policy, overlay=True)
    try:
        d.out.wait_line(r"overlay: +started", 30)
        yield d
    finally:
        d.close()


def grab(name: str, rect: tuple[int, int, int, int]) -> np.ndarray:
    """The screen's pixels in ``rect`` (x, y, width, height) as an RGB array."""
    d = display.Display(name)
    try:
        x, y, w, h = rect
        image = d.screen().root.get_image(x, y, w, h, X.ZPixmap, 0xFFFFFFFF)
        bgrx = np.frombuffer(image.data, np.uint8).reshape(h, w, 4)
        return bgrx[:, :, 2::-1].copy()
    finally:
        d.close()


def badge_at(point: tuple[int, int]) -> tuple[int, int]:
    return point[0] + BADGE[0], point[1] + BADGE[1]


def held_on_overlay(d: Daemon, xserver: str) -> tuple[Any, dict[str, Any]]:
    fut = d.post_later("/v1/actions", proposal())
    review = settled(lambda: next(iter(d.pending()), None), 20, "the review")
    settled(lambda: overlay_ready(xserver), 20, "the overlay window, with the keyboard focus")
    return fut, review


def screen_points(review: dict[str, Any]) -> list[tuple[int, int]]:
    sa = review["screen_action"]
    return [(sa["x"], sa["y"]), *((a["x"], a["y"]) for a in sa["alternatives"])]


def test_candidates_drawn_numbered_and_key_2_runs_candidate_2(
    shown: Daemon, human: SimulatedHuman, xserver: str, target: TargetWindow
) -> None:
    fut, review = held_on_overlay(shown, xserver)
    points = screen_points(review)

    def painted() -> list[np.ndarray]:
        shot = grab(xserver, (0, 0, 1920, 1080))
        # each badge's disc: the proposal's in red, the alternatives' in blue (right of the digit)
        discs = [tuple(int(c) for c in shot[y, x + 8]) for x, y in map(badge_at, points)]
        return [shot] if discs == [RED, BLUE, BLUE] else []

    [shot] = settled(painted, 20, "the three numbered candidates on the overlay")
    for x, y in map(badge_at, points):  # a white digit inside each disc
        disc = shot[y - 8 : y + 8, x - 6 : x + 6]
        assert int((disc.min(axis=2) > 220).sum()) > 5, (x, y)
    out = Path(os.environ.get("OVERLAY_GRAB_DIR") or shown.data)
    cv2.imwrite(str(out / "overlay-candidates-xcb.png"), shot[:, :, ::-1])
    human.tap("2")
    answer = fut.result(timeout=30).json()
    assert answer["status"] == "executed" and answer["candidate"] == 2, answer
    assert (answer["candidate_action"]["x"], answer["candidate_action"]["y"]) == SECOND
    [press] = presses(barrier(shown, target))  # at candidate 2, and nowhere else
    assert near({"x": press[0], "y": press[1]}, points[1]), (press, points)
    decision = shown.http.get(f"/v1/reviews/{review['id']}").json()["decisions"][-1]
    assert decision["candidate"] == 2 and decision["preferred"] == [[2, 1], [2, 3]]


def test_a_ranking_by_keys_is_stored_and_exported_as_preference_pairs(
    shown: Daemon, human: SimulatedHuman, xserver: str, target: TargetWindow, tmp_path: Path
) -> None:
    fut, review = held_on_overlay(shown, xserver)
    for key in ("o", "3", "1", "Return"):  # rank: 3 best, then 1 (2 is left: last)
        human.tap(key)
    answer = fut.result(timeout=30).json()
    assert answer["status"] == "executed" and answer["candidate"] == 3, answer
    [press] = presses(barrier(shown, target))
    assert near({"x": press[0], "y": press[1]}, screen_points(review)[2])
    decision = shown.http.get(f"/v1/reviews/{review['id']}").json()["decisions"][-1]
    assert decision["ranking"] == [3, 1, 2] and decision["preferred"] == [[3, 1], [3, 2], [1, 2]]

    out = tmp_path / "pref"
    done = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "export", "--format", "preference", "--out", str(out),
         "--data-dir", str(shown.data)], check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    import datasets

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train")
    ours = [r for r in ds if r["review_id"] == review["id"]]
    assert [(r["source"], r["chosen_candidate"], r["rejected_candidate"]) for r in ours] == [
        ("ranking", 3, 1), ("ranking", 3, 2), ("ranking", 1, 2)]  # fmt: skip
    at = {1: MAIN, 2: SECOND, 3: THIRD}  # agent space: the image is at the agent's size
    for row in ours:
        chosen = json.loads(row["chosen"][0]["content"][0]["text"])
        rejected = json.loads(row["rejected"][0]["content"][0]["text"])
        assert (chosen["x"], chosen["y"]) == at[row["chosen_candidate"]]
        assert (rejected["x"], rejected["y"]) == at[row["rejected_candidate"]]
        assert "reason" not in chosen and "alternatives" not in chosen  # the action alone
        assert row["images"][0].size == (1366, 768)
        assert "Your reasoning: the Send button" in row["prompt"][0]["content"][1]["text"]

    from trl.data_utils import (
        is_conversational,
        maybe_apply_chat_template,
        prepare_multimodal_messages,
    )

    from tests.shadow.test_preference_sft import _tokenizer

    for example in ours:
        assert is_conversational(example)
        filled = prepare_multimodal_messages(example["prompt"], images=example["images"])
        assert filled[0]["content"][0]["image"] is example["images"][0]
        templated = maybe_apply_chat_template(
            {k: example[k] for k in ("prompt", "chosen", "rejected")}, _tokenizer()
        )
        assert templated["prompt"].endswith("<assistant>") and templated["chosen"] != templated["rejected"]


def test_escape_on_the_overlay_runs_no_candidate(
    shown: Daemon, human: SimulatedHuman, xserver: str, target: TargetWindow
) -> None:
    fut, review = held_on_overlay(shown, xserver)
    human.tap("Escape")
    answer = fut.result(timeout=30).json()
    assert answer["status"] == "rejected" and answer.get("candidate") is None, answer
    assert barrier(shown, target) == []
    assert shown.http.get(f"/v1/reviews/{review['id']}").json()["decisions"][-1]["preferred"] == []
