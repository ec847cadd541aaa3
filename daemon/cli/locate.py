"""``driverseat locate``: the element locator from the command line, for debugging and evaluation.

    driverseat locate IMAGE X Y [--json]   one point: "box (88, 190)-(132, 210), 44x20"
    driverseat locate --batch IN.jsonl     lines {"image": path, "x": int, "y": int}
                                           -> lines {"box": [x0, y0, x1, y1]}

Boxes are in the image's pixels, ``x1``/``y1`` exclusive. A batch answers every input
line with one output line, in order (``{"error": "..."}`` for a bad one), so outputs
line up with inputs; relative image paths are taken from the batch file's folder first.
Bad arguments exit 2 with one sentence on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from capture.errors import CaptureError
from capture.vision import Box, locate
from daemon.jsontext import parse

__all__ = ["add_parser", "main", "run"]

PROG = "driverseat locate"
PROGRESS_EVERY = 100  # lines between progress reports on stderr
_CACHED_IMAGES = 8  # evaluation sets ask several points of one screenshot in a row


class _BadInput(Exception):
    """One sentence about an input that cannot be located."""


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", nargs="?", type=Path, help="a screenshot (PNG, JPEG...)")
    p.add_argument("x", nargs="?", type=int, help="the point's column, in image pixels")
    p.add_argument("y", nargs="?", type=int, help="the point's row, in image pixels")
    p.add_argument("--json", action="store_true", help='print {"box": [x0, y0, x1, y1]}')
    p.add_argument(
        "--batch",
        metavar="IN.jsonl",
        help='JSON lines {"image": path, "x": int, "y": int} ("-" for stdin); '
        'writes one {"box": [...]} or {"error": "..."} line per input line',
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``locate`` to a ``driverseat`` subparsers object; returns its parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "locate",
        help="find the UI element under a point of a screenshot",
        description="Find the UI element under a point of a screenshot (the box the "
        "correction feedback uses), for one point or a batch of JSON lines.",
    )
    _configure(p)
    return p


def _read(path: Path) -> np.ndarray:
    if not path.is_file():
        raise _BadInput(f"{path} is not a file")
    # imdecode of the bytes, not imread: imread cannot tell "missing" from "not an image"
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise _BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise _BadInput(f"{path} is not an image OpenCV can read")
    return image


def _locate(image: np.ndarray, x: int, y: int, path: Path) -> Box:
    h, w = image.shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise _BadInput(f"point ({x}, {y}) is outside {path}, which is {w}x{h}")
    try:
        return locate(image, x, y)
    except CaptureError as exc:
        raise _BadInput(f"cannot locate in {path}: {exc}") from None


def _as_dict(box: Box) -> dict[str, Any]:
    return {"box": [box.x0, box.y0, box.x1, box.y1]}


def _single(args: argparse.Namespace, out: IO[str]) -> int:
    if args.image is None or args.x is None or args.y is None:
        raise _BadInput("give IMAGE X Y, or --batch IN.jsonl")
    box = _locate(_read(args.image), args.x, args.y, args.image)
    if args.json:
        print(json.dumps(_as_dict(box)), file=out)
    else:
        print(f"box ({box.x0}, {box.y0})-({box.x1}, {box.y1}), {box.width}x{box.height}", file=out)
    return 0


def _point(line: str, base: Path) -> tuple[Path, int, int]:
    try:
        item = parse(line)  # nested too deeply to parse, or NaN: said, and the batch goes on
    except ValueError as exc:
        raise _BadInput(f"not JSON: {exc}") from None
    if not isinstance(item, dict):
        raise _BadInput('expected an object {"image": path, "x": int, "y": int}')
    image, x, y = item.get("image"), item.get("x"), item.get("y")
    if not isinstance(image, str) or not image:
        raise _BadInput('"image" must be a path')
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (x, y)):
        raise _BadInput('"x" and "y" must be integers')
    path = Path(image)
    if not path.is_absolute() and (base / path).exists():
        path = base / path
    return path, int(x), int(y)  # type: ignore[arg-type]


def batch(lines: Iterable[str], base: Path, out: IO[str], err: IO[str]) -> tuple[int, int]:
    """Locate every line; returns (lines, errors). Each answer is flushed as it comes,
    so a long run can be followed (or piped) line by line."""
    images: OrderedDict[Path, np.ndarray] = OrderedDict()
    done = failed = 0
    for line in lines:
        line = line.strip()
        try:
            if not line:
                raise _BadInput("empty line")
            path, x, y = _point(line, base)
            if path not in images:
                images[path] = _read(path)
                if len(images) > _CACHED_IMAGES:
                    images.popitem(last=False)
            answer = _as_dict(_locate(images[path], x, y, path))
        except _BadInput as exc:
            answer = {"error": str(exc)}
            failed += 1
        out.write(json.dumps(answer) + "\n")
        out.flush()
        done += 1
        if done % PROGRESS_EVERY == 0:
            print(f"{PROG}: {done} lines, {failed} errors", file=err, flush=True)
    return done, failed


def _batch(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    if args.image is not None or args.json:
        raise _BadInput("--batch takes no IMAGE X Y nor --json: its output is always JSON lines")
    if args.batch == "-":
        done, failed = batch(sys.stdin, Path.cwd(), out, err)
    else:
        source = Path(args.batch)
        try:
            with source.open(encoding="utf-8") as f:
                done, failed = batch(f, source.parent, out, err)
        except (OSError, UnicodeDecodeError) as exc:
            raise _BadInput(
                f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
    if done >= PROGRESS_EVERY or failed:
        print(f"{PROG}: done, {done} lines, {failed} errors", file=err)
    return 0


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run ``driverseat locate`` with parsed ``args``; returns the exit code."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        return _batch(args, out, err) if args.batch is not None else _single(args, out)
    except _BadInput as exc:
        print(f"{PROG}: {exc}", file=err)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m daemon.cli.locate ...``: the same command without the ``driverseat`` front."""
    parser = argparse.ArgumentParser(prog=PROG, description="Find the UI element under a point.")
    _configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
