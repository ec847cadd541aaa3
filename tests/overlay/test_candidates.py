"""Candidates on the overlay (docs/candidates.md): drawn numbered, approved by a number
key, ranked with O then numbers and Enter; real Qt widgets, keys sent with pytest-qt."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from daemon.outcomes import DecisionRequest, Review
from overlay.presenter import ReviewPresenter
from overlay.shapes import Badge, Marker
from overlay.widgets import ReviewWindow
from overlay.widgets.canvas import BADGE_OFFSET, COLOURS
from tests.overlay.factories import SCREEN_RECT
from tests.overlay.test_widgets import qimage, synthetic_png

pytestmark = pytest.mark.qt
LEFT, TOP = SCREEN_RECT[:2]
# screen space; the factory's SCREEN_RECT starts at (100, 50)
PROPOSED = (LEFT + 300, TOP + 330)
SECOND = (LEFT + 760, TOP + 330)
THIRD = (LEFT + 530, TOP + 600)


def with_candidates(**fields: Any) -> Review:
    def click(at: tuple[int, int], space: str, **words: Any) -> dict[str, Any]:
        return {"action": "click", "x": at[0], "y": at[1], "button": "left", "space": space, **words}

    alts = [click(SECOND, "screen", confidence=0.3, reason="the other Send"),
            click(THIRD, "screen", confidence=0.1, reason="the footer link")]  # fmt: skip
    base: dict[str, Any] = {
        "id": "rc1", "action_id": "ac1", "tier": "approve", "rule": "test-rule", "created": 1000.0,
        "action": {**click(PROPOSED, "screen", confidence=0.6), "alternatives": alts},
        "screen_action": {**click(PROPOSED, "screen", confidence=0.6), "alternatives": alts},
        "confidence": 0.6, "screen_rect": SCREEN_RECT, "agent_size": (1280, 800),
    }  # fmt: skip
    return Review.model_validate({**base, **fields})


@pytest.fixture
def shown(qtbot) -> Callable[..., tuple[ReviewWindow, ReviewPresenter, Review]]:  # type: ignore[no-untyped-def]
    def make(**fields: Any) -> tuple[ReviewWindow, ReviewPresenter, Review]:
        presenter = ReviewPresenter("ann@desk", rationales=("verified", "expected"))
        window = ReviewWindow(presenter)
        qtbot.addWidget(window)
        r = with_candidates(**fields)
        window.set_screenshot(r.id, qimage(synthetic_png(*SCREEN_RECT[2:])))
        presenter.add(r)
        window.refresh()
        qtbot.waitExposed(window)
        return window, presenter, r

    return make


def decide(qtbot, window: ReviewWindow, *keys: Qt.Key) -> DecisionRequest:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.decided, timeout=5000) as blocker:
        for key in keys:
            qtbot.keyClick(window, key)
    request: DecisionRequest = blocker.args[0]
    return request


def test_every_candidate_is_drawn_numbered_the_proposal_first(shown, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    window, presenter, _ = shown()
    shapes = presenter.shapes()
    badges = [s for s in shapes if isinstance(s, Badge)]
    assert [(b.number, b.point) for b in badges] == [(1, PROPOSED), (2, SECOND), (3, THIRD)]
    marks = {s.point: s for s in shapes if isinstance(s, Marker)}
    assert marks[PROPOSED].role == "proposed" and marks[PROPOSED].label == "1 · click (60%)"
    assert marks[SECOND].role == "candidate" and marks[SECOND].label == "2 · click (30%)"
    assert marks[THIRD].label == "3 · click (10%)"
    assert "3 candidates: 1-3 approves that one, O ranks them" in window.summary.text()
    QApplication.processEvents()
    shot = window.grab().toImage()
    out = Path(os.environ.get("OVERLAY_GRAB_DIR") or tmp_path_factory.mktemp("overlay-grabs"))
    out.mkdir(parents=True, exist_ok=True)
    assert shot.save(str(out / "overlay-candidates.png"))
    for point, role in ((PROPOSED, "proposed"), (SECOND, "candidate"), (THIRD, "candidate")):
        # the badge's disc, in the candidate's colour, up and left of its mark (widget = screen - origin)
        c = (point[0] - LEFT + int(BADGE_OFFSET.x()) + 7, point[1] - TOP + int(BADGE_OFFSET.y()))
        assert shot.pixelColor(*c) == COLOURS[role], (point, shot.pixelColor(*c).name())
    assert shot.pixelColor(SECOND[0] - LEFT, SECOND[1] - TOP - 14) != QColor(235, 235, 235)


def test_a_number_key_approves_that_candidate(shown, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, _, _ = shown()
    request = decide(qtbot, window, Qt.Key.Key_2)
    assert request.verdict == "approve" and request.candidate == 2 and request.ranking is None
    assert not window.isVisible()


def test_enter_approves_the_proposal_and_a_missing_number_is_said(shown, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, presenter, _ = shown()
    qtbot.keyClick(window, Qt.Key.Key_7)
    assert "no candidate 7" in presenter.message and window.isVisible()
    request = decide(qtbot, window, Qt.Key.Key_Return)
    assert request.verdict == "approve" and request.candidate is None  # the daemon reads it as 1


def test_ranking_by_keys_best_first(shown, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, presenter, _ = shown()
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert presenter.mode == "rank" and "ranking, best first" in window.summary.text()
    for key in (Qt.Key.Key_3, Qt.Key.Key_2, Qt.Key.Key_Backspace, Qt.Key.Key_1):
        qtbot.keyClick(window, key)
    assert presenter.ranking == (3, 1)
    badges = {s.number: s.rank for s in presenter.shapes() if isinstance(s, Badge)}
    assert badges == {1: 2, 2: None, 3: 1}
    request = decide(qtbot, window, Qt.Key.Key_Return)
    # the one left unranked is ranked last
    assert request.verdict == "approve" and request.ranking == (3, 1, 2) and request.candidate is None


def test_escape_stops_ranking_then_rejects(shown, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, presenter, _ = shown()
    for key in (Qt.Key.Key_O, Qt.Key.Key_2, Qt.Key.Key_Escape):
        qtbot.keyClick(window, key)
    assert presenter.mode == "review" and presenter.ranking == () and window.isVisible()
    request = decide(qtbot, window, Qt.Key.Key_Escape)
    assert request.verdict == "reject" and request.ranking is None and request.candidate is None


def test_a_pick_waits_for_the_rationale_the_rule_wants(shown, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, presenter, _ = shown(rationales_required=True, rationales=("verified", "expected"))
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert presenter.picked == 2 and "needs a rationale" in presenter.message
    assert [s.selected for s in presenter.shapes() if isinstance(s, Badge)] == [False, True, False]
    qtbot.keyClick(window, Qt.Key.Key_1)  # now the numbers pick the rationale
    assert presenter.rationale == "verified" and presenter.picked == 2
    request = decide(qtbot, window, Qt.Key.Key_Return)
    assert request.candidate == 2 and request.rationale == "verified"


def test_text_and_key_candidates_sit_side_by_side() -> None:
    typing = {"action": "type", "text": "hello", "space": "screen"}
    r = with_candidates(screen_action={**typing, "alternatives": [
        {"action": "type", "text": "hullo", "space": "screen"}, {"action": "key", "keys": "ctrl+a", "space": "screen"}]})  # fmt: skip
    presenter = ReviewPresenter("ann@desk")
    presenter.add(r)
    badges = [s for s in presenter.shapes() if isinstance(s, Badge)]
    assert [b.number for b in badges] == [1, 2, 3]
    assert len({b.point for b in badges}) == 3  # none hides another
