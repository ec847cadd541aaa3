"""Images in ``driverseat act`` output: one line each on a terminal, the bytes only on request.

An outcome can carry a base64 screenshot of hundreds of kilobytes (and a correction's
feedback an annotated image and crops); printed raw it buries the outcome's one useful
line. By default each image becomes ``"1366x768 PNG, 400 KB"``; ``--save FILE`` writes
the outcome's image, ``--json`` prints the body exactly as the daemon sent it.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from daemon.errors import ServeExit

__all__ = ["first_image", "save_image", "summarise_images"]

_IMAGE_KEYS = frozenset({"media_type", "data", "width", "height"})


def _is_image(value: object) -> bool:
    return isinstance(value, dict) and _IMAGE_KEYS <= value.keys()


def _describe(image: dict[str, Any]) -> str:
    kind = str(image["media_type"]).rpartition("/")[2].upper() or "image"
    # the decoded size, which is what --save writes (base64 is 4/3 of it)
    size = len(str(image["data"])) * 3 // 4
    shown = f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} B"
    return f"{image['width']}x{image['height']} {kind}, {shown}"


def summarise_images(body: Any) -> Any:
    """``body`` with every image (a dict with media_type, data, width, height) replaced by a
    one-line description; everything else unchanged."""
    if _is_image(body):
        return _describe(body)
    if isinstance(body, dict):
        return {k: summarise_images(v) for k, v in body.items()}
    if isinstance(body, list):
        return [summarise_images(v) for v in body]
    return body


def first_image(body: dict[str, Any]) -> dict[str, Any] | None:
    """The outcome's screenshot, else its feedback's annotated image."""
    for image in (body.get("screenshot"), (body.get("feedback") or {}).get("image")):
        if isinstance(image, dict) and _is_image(image):
            return dict(image)
    return None


def save_image(body: dict[str, Any], path: Path) -> str:
    """Write the outcome's image to ``path``; returns the sentence to print on stderr."""
    image = first_image(body)
    if image is None:
        return f"the outcome has no image; {path} was not written"
    try:
        raw = base64.b64decode(str(image["data"]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServeExit(f"the daemon sent an image that is not base64 ({exc})") from None
    try:
        path.write_bytes(raw)
    except OSError as exc:
        raise ServeExit(f"cannot write {path}: {exc.strerror or exc}") from None
    return f"saved {_describe(image)} to {path}"
