"""Commentary scoring (the offline GUI benchmarks' action matching), its storage in real
SQLite, ``driverseat agreement`` and the report's agreement section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from daemon.cli import main
from daemon.commentary import CLICK_DISTANCE, MASK, CommentaryStore, score, similarity
from daemon.shadow_store import ShadowStore
from daemon.store import Store

SCREEN = (1920, 1080)
BOX = {"box": [100, 200, 80, 30]}  # left, top, width, height


def _click(x: int, y: int, **extra: Any) -> dict[str, Any]:
    return {"action": "click", "x": x, "y": y, "button": "left", "count": 1, **extra}


def test_a_click_agrees_inside_the_element_the_person_clicked() -> None:
    person = _click(120, 210)
    assert score(_click(179, 229), person, BOX, SCREEN).agrees is True  # the box's last pixel
    assert score(_click(180, 210), person, BOX, SCREEN).agrees is False  # one past its right edge
    assert score(_click(99, 210), person, BOX, SCREEN).agrees is False


def test_without_a_box_a_click_agrees_within_the_screen_distance() -> None:
    person = _click(960, 540)
    within = round(CLICK_DISTANCE * 1920) - 2  # along x: normalised by the width
    assert score(_click(960 + within, 540), person, None, SCREEN).agrees is True
    assert score(_click(960 + within + 6, 540), person, None, SCREEN).agrees is False
    assert score(_click(960, 540, count=2), person, None, SCREEN).agrees is False  # a double is another action
    assert score(_click(960, 540, button="right"), person, None, SCREEN).agrees is False


def test_text_keys_scroll_and_kinds() -> None:
    typed = {"action": "type", "text": "invoice 2024"}
    assert score({"action": "type", "text": "invoice 2025"}, typed, None, SCREEN).agrees is True
    assert score({"action": "type", "text": "invoices"}, typed, None, SCREEN).agrees is False
    assert similarity("hello", "help") == pytest.approx(0.6) and similarity("", "") == 1.0
    keys = {"action": "key", "keys": "ctrl+shift+t"}
    assert score({"action": "key", "keys": "Shift_L+Control_R+t"}, keys, None, SCREEN).agrees is True
    assert score({"action": "key", "keys": "ctrl+t"}, keys, None, SCREEN).agrees is False
    down = {"action": "scroll", "x": 5, "y": 5, "dx": 0, "dy": 3}
    assert score({"action": "scroll", "x": 900, "y": 900, "dy": 10}, down, None, SCREEN).agrees is True
    assert score({"action": "scroll", "x": 5, "y": 5, "dy": -1}, down, None, SCREEN).agrees is False
    assert score(_click(5, 5), typed, None, SCREEN).agrees is False
    drag = {"action": "drag", "path": [[120, 210], [900, 500]]}
    assert score({"action": "drag", "path": [[110, 205], [910, 505]]}, drag, BOX, SCREEN).agrees is True
    assert score({"action": "drag", "path": [[300, 205], [910, 505]]}, drag, BOX, SCREEN).agrees is False
    masked = score({"action": "type", "text": "hunter2"}, {"action": "type", "text": MASK}, None, SCREEN)
    assert masked.agrees is None


def _session(data: Path) -> list[str]:
    with Store(data / "driverseat.db") as store:
        shadow = ShadowStore(store)
        info = shadow.open_session("desk", ":9", SCREEN)
        done = [(_click(120, 210), BOX), ({"action": "type", "text": "hi"}, None),
                ({"action": "key", "keys": "ctrl+s"}, None)]  # fmt: skip
        ids = [
            shadow.add_action(
                info.id, i, (1.0 + i, 1.5 + i), a, origin="human", window=None, frame_before=None, element=el
            )
            for i, (a, el) in enumerate(done)
        ]
        comments = CommentaryStore(store)
        comments.add(comments.action(ids[0]) or {}, _click(150, 220), "the Save button", "agent")
        comments.add(comments.action(ids[1]) or {}, {"action": "key", "keys": "Return"}, "", "agent")
        with pytest.raises(KeyError):
            comments.add(comments.action(ids[1]) or {}, None, "again", "agent")
    return ids


def test_agreement_from_the_cli_and_in_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _session(tmp_path)
    assert main(["agreement", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        "desk: 50.0 % agreement (1 of 2 scored; 2 of the person's 3 action(s) commented on)\n"
    )
    assert main(["agreement", "--json", "--session", "desk", "--data-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "session": "desk", "actions": 3, "commented": 2, "scored": 2, "agreed": 1, "rate": 0.5}  # fmt: skip
    assert main(["agreement", "--session", "nope", "--data-dir", str(tmp_path)]) == 2
    out = tmp_path / "r.html"
    assert main(["report", "--out", str(out), "--data-dir", str(tmp_path)]) == 0
    page = out.read_text()
    assert "No agreement data" not in page
    assert "<td>desk</td><td>3</td><td>2</td><td>2</td><td>1</td><td class='agreement'>50 %</td>" in page
    assert "<title>agreed: 50%</title>" in page
