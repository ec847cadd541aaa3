"""The shadow tables (migration, rows, frames once) and the trajectory export, without X."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from capture.coords import Rect
from capture.recorder.xsettings import parse_xsettings
from capture.screen import Frame
from daemon.cli import main
from daemon.shadow.export import ExportError, export_trajectory
from daemon.shadow.frames import FrameFiles
from daemon.shadow_store import ShadowStore
from daemon.store import _MIGRATIONS, SCHEMA_VERSION, Store


def _frame(value: int) -> Frame:
    return Frame(np.full((90, 160, 4), value, np.uint8), Rect(0, 0, 160, 90))


def _session(data: Path, name: str = "s1") -> int:
    """A session of two actions over two frames; returns how many frame files it wrote."""
    with Store(data / "driverseat.db") as store:
        shadow = ShadowStore(store)
        files = FrameFiles(shadow, data / "shadow-frames")
        info = shadow.open_session(name, ":9", (160, 90))
        a, b = files.put(_frame(10)), files.put(_frame(200))
        assert files.put(_frame(10)) == a  # same pixels, same file, not written again
        first = shadow.add_action(info.id, 0, (1.0, 1.1), {"action": "click", "x": 80, "y": 45,
                                  "button": "left", "count": 1, "modifiers": []},
                                  origin="human", window="Editor", frame_before=a)  # fmt: skip
        shadow.add_action(info.id, 1, (2.0, 2.5), {"action": "type", "text": "hi"},
                          origin="foreign", window=None, frame_before=a)  # fmt: skip
        shadow.set_frame_after(first, b)
        return files.files_written


def test_a_v2_database_gains_the_shadow_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    for migrate in _MIGRATIONS[:2]:
        migrate(db)
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO actions VALUES ('old', 1.0, 'click', 'canonical', '{}', 'executed', NULL, 1.0)")
    db.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 7
        assert store.get_action("old") is not None
        assert ShadowStore(store).sessions() == []


def test_rows_frames_and_a_session_appended_to(tmp_path: Path) -> None:
    assert _session(tmp_path) == 2
    assert _session(tmp_path, "other") == 0  # the same frames: no file written again
    with Store(tmp_path / "driverseat.db") as store:
        shadow = ShadowStore(store)
        assert len(list((tmp_path / "shadow-frames").iterdir())) == 2
        info = shadow.open_session("s1", ":9", (160, 90))  # the same session again
        assert info.actions == 2 and shadow.next_seq(info.id) == 2
        rows = shadow.actions(info.id)
        assert rows[0]["frame_after"] and rows[1]["frame_after"] is None
        assert all((tmp_path / r["frame_before"]).is_file() for r in rows)
        assert shadow.frame_bytes() == sum(p.stat().st_size for p in (tmp_path / "shadow-frames").iterdir())


def test_export_writes_an_imagefolder_that_datasets_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _session(tmp_path / "data")
    _session(tmp_path / "data", "s2")
    out = tmp_path / "ds"
    assert main(["export", "--all", "--format", "trajectory", "--out", str(out),
                 "--data-dir", str(tmp_path / "data")]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("exported 4 action(s) from 2 session(s) and 2 frame(s)")
    rows = [json.loads(x) for x in (out / "train" / "metadata.jsonl").read_text().splitlines()]
    assert rows[0]["x_norm"] == 0.5 and rows[0]["y_norm"] == 0.5 and rows[0]["window"] == "Editor"
    assert rows[0]["frame_after"] and (out / "train" / rows[0]["frame_after"]).is_file()
    assert rows[1]["x"] is None and rows[1]["pyautogui"] == "pyautogui.write('hi')"
    import datasets

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train")
    assert ds.num_rows == 4 and ds[0]["image"].size == (160, 90)
    assert ds[0]["image"].getpixel((0, 0)) == (10, 10, 10)
    assert [json.loads(a)["action"] for a in ds["action"]] == ["click", "type", "click", "type"]


def test_export_names_an_unknown_session(tmp_path: Path) -> None:
    _session(tmp_path)
    with Store(tmp_path / "driverseat.db") as store, pytest.raises(ExportError, match="known: s1"):
        export_trajectory(store, tmp_path, ["nope"], tmp_path / "out")
    assert main(["export", "--session", "nope", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)]) == 2


def test_xsettings_blob_gives_the_double_click_time_and_drag_threshold() -> None:
    def setting(kind: int, name: bytes, value: bytes) -> bytes:
        pad = b"\0" * (-len(name) % 4)
        return bytes([kind, 0]) + len(name).to_bytes(2, "little") + name + pad + b"\0" * 4 + value

    blob = (b"\0\0\0\0" + (7).to_bytes(4, "little") + (3).to_bytes(4, "little")
            + setting(0, b"Net/DoubleClickTime", (400).to_bytes(4, "little"))
            + setting(1, b"Net/ThemeName", (5).to_bytes(4, "little") + b"Adw\0\0\0\0\0")
            + setting(0, b"Net/DndDragThreshold", (8).to_bytes(4, "little")))  # fmt: skip
    assert parse_xsettings(blob) == {
        "Net/DoubleClickTime": 400, "Net/ThemeName": "Adw\0\0", "Net/DndDragThreshold": 8,
    }  # fmt: skip


def _session_of(data: Path, name: str, value: int) -> None:
    """A session of one click over a frame of its own (pixels ``value``)."""
    with Store(data / "driverseat.db") as store:
        shadow = ShadowStore(store)
        frame = FrameFiles(shadow, data / "shadow-frames").put(_frame(value))
        info = shadow.open_session(name, ":9", (160, 90))
        shadow.add_action(info.id, 0, (1.0, 1.1), {"action": "click", "x": 8, "y": 4, "button": "left",
                          "count": 1, "modifiers": []}, origin="human", window=None, frame_before=frame)  # fmt: skip


def test_an_export_into_an_earlier_ones_folder_leaves_only_its_own_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The earlier export's frames stayed beside the new metadata: a folder that was not
    the dataset it claimed to be, and that grew with every export."""
    data, out = tmp_path / "data", tmp_path / "ds"
    _session_of(data, "a", 30)
    _session_of(data, "b", 60)
    for name in ("a", "b"):
        assert main(["export", "--session", name, "--out", str(out), "--data-dir", str(data)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert "removed" not in said[0] and said[1].endswith("; removed 1 frame(s) of an earlier export there")
    rows = [json.loads(x) for x in (out / "train" / "metadata.jsonl").read_text().splitlines()]
    assert sorted(p.name for p in (out / "train" / "frames").iterdir()) == [Path(rows[0]["file_name"]).name]
    import datasets

    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train")
    assert ds.num_rows == 1 and ds[0]["image"].getpixel((0, 0)) == (60, 60, 60)
