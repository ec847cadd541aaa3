"""``driverseat locate`` (daemon/locate.py): one point, --json, --batch, and bad arguments."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.vision import Box
from daemon.cli import locate as cli

ROOT = Path(__file__).resolve().parents[2]
BUTTON = Box(120, 80, 280, 124)


@pytest.fixture
def shot(tmp_path: Path) -> Path:
    img = np.full((300, 400, 3), 245, np.uint8)
    cv2.rectangle(img, (BUTTON.x0, BUTTON.y0), (BUTTON.x1 - 1, BUTTON.y1 - 1), (200, 110, 30), -1)
    cv2.putText(img, "Save", (170, 110), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    path = tmp_path / "shot.png"
    assert cv2.imwrite(str(path), img)
    return path


def _run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="driverseat")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["locate", *argv])
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        old, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        code = cli.run(args, out, err)
    finally:
        if stdin is not None:
            sys.stdin = old
    return code, out.getvalue(), err.getvalue()


def _box(text: str) -> Box:
    return Box(*json.loads(text)["box"])


def test_single_point_human_readable(shot: Path) -> None:
    code, out, err = _run(str(shot), "200", "100")
    assert (code, err) == (0, "")
    box = _box(_run(str(shot), "200", "100", "--json")[1])
    assert out == f"box ({box.x0}, {box.y0})-({box.x1}, {box.y1}), {box.width}x{box.height}\n"
    assert box.iou(BUTTON) > 0.8


def test_single_point_json_as_a_module(shot: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli.locate", str(shot), "130", "85", "--json"],
        check=False, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == ["box"] and Box(*data["box"]).iou(BUTTON) > 0.8


def test_batch_keeps_going_past_bad_lines(shot: Path, tmp_path: Path) -> None:
    lines = [
        json.dumps({"image": str(shot), "x": 200, "y": 100}),
        "{not json",
        json.dumps({"image": "shot.png", "x": 130, "y": 120}),  # relative to the batch file
        json.dumps({"image": str(shot), "x": 999, "y": 5}),
        json.dumps({"image": str(tmp_path / "missing.png"), "x": 1, "y": 1}),
        json.dumps({"image": str(shot), "x": "1", "y": 1}),
        "",
        json.dumps({"image": str(shot), "x": 10, "y": 10}),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    code, out, err = _run("--batch", str(src))
    assert code == 0
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) == len(lines)
    assert Box(*answers[0]["box"]).iou(BUTTON) > 0.8
    assert Box(*answers[2]["box"]).iou(BUTTON) > 0.8
    assert "not JSON" in answers[1]["error"]
    assert answers[3]["error"] == f"point (999, 5) is outside {shot}, which is 400x300"
    assert "missing.png is not a file" in answers[4]["error"]
    assert answers[5]["error"] == '"x" and "y" must be integers'
    assert answers[6]["error"] == "empty line"
    assert "box" in answers[7]
    assert "8 lines, 5 errors" in err


def test_batch_from_stdin_with_progress(shot: Path) -> None:
    n = cli.PROGRESS_EVERY + 5
    line = json.dumps({"image": str(shot), "x": 200, "y": 100})
    code, out, err = _run("--batch", "-", stdin=(line + "\n") * n)
    assert code == 0
    assert len(out.splitlines()) == n
    assert f"{cli.PROGRESS_EVERY} lines, 0 errors" in err
    assert f"done, {n} lines, 0 errors" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give IMAGE X Y, or --batch IN.jsonl"),
        (["{shot}", "10"], "give IMAGE X Y"),
        (["{tmp}/nope.png", "1", "1"], "nope.png is not a file"),
        (["{tmp}/junk.png", "1", "1"], "junk.png is not an image OpenCV can read"),
        (["{shot}", "400", "10"], "point (400, 10) is outside"),
        (["{shot}", "-1", "10"], "point (-1, 10) is outside"),
        (["--batch", "{tmp}/nope.jsonl"], "cannot read"),
        (["--batch", "-", "{shot}"], "--batch takes no IMAGE X Y"),
    ],
)
def test_bad_arguments_exit_2_with_one_sentence(
    argv: list[str], message: str, shot: Path, tmp_path: Path
) -> None:
    (tmp_path / "junk.png").write_bytes(b"not a png at all")
    args = [a.format(shot=shot, tmp=tmp_path) for a in argv]
    code, out, err = _run(*args)
    assert code == 2 and out == ""
    assert err.startswith("driverseat locate: ") and message in err
    assert err.count("\n") == 1


def test_argparse_errors_exit_2(shot: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli.locate", str(shot), "ten", "5"],
        check=False, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "invalid int value: 'ten'" in proc.stderr
