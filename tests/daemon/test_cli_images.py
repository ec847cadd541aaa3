"""``driverseat act``'s image handling, on outcome bodies as the daemon sends them."""

from __future__ import annotations

import base64
from pathlib import Path

from daemon.cli.images import first_image, save_image, summarise_images

RAW = b"\x89PNG\r\n\x1a\n" + bytes(400 * 1024)
IMAGE = {"media_type": "image/png", "data": base64.b64encode(RAW).decode(), "width": 1366,
         "height": 768, "space": "agent"}  # fmt: skip


def test_every_image_becomes_one_line() -> None:
    body = {"status": "corrected", "screenshot": IMAGE,
            "feedback": {"text": "t", "image": IMAGE, "crops": [IMAGE, IMAGE]}}  # fmt: skip
    out = summarise_images(body)
    assert out["screenshot"] == "1366x768 PNG, 400 KB"
    assert out["feedback"]["image"] == "1366x768 PNG, 400 KB"
    assert out["feedback"]["crops"] == ["1366x768 PNG, 400 KB"] * 2
    assert out["status"] == "corrected" and out["feedback"]["text"] == "t"
    assert body["screenshot"] is IMAGE  # the body itself is left alone (for --json)


def test_save_writes_the_decoded_image(tmp_path: Path) -> None:
    path = tmp_path / "s.png"
    said = save_image({"screenshot": IMAGE}, path)
    assert path.read_bytes() == RAW
    assert said == f"saved 1366x768 PNG, 400 KB to {path}"


def test_save_without_an_image_says_so(tmp_path: Path) -> None:
    path = tmp_path / "s.png"
    assert "has no image" in save_image({"status": "executed"}, path)
    assert not path.exists()
    assert first_image({"feedback": {"image": IMAGE}}) == IMAGE
