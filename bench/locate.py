"""Benchmark of :func:`capture.vision.locate` on real web screenshots with DOM boxes.

For every element of every ``midscene/*/`` folder (``input.png`` + ``element-snapshot.json``)
the locator is asked for the box around the element's center and a few jittered points inside
it; each answer is scored by intersection-over-union with the element's true box. A naive
baseline (Canny edges + the smallest enclosing contour's bounding box) is scored on the same
points in the same run.

Prints exactly one JSON line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from capture.vision import Box, locate

CONTAINER = "CONTAINER Node"
SEED = 20240611


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_elements(folder: Path, image: np.ndarray) -> list[tuple[str, Box]]:
    """The elements of one snapshot as (nodeType, box in screenshot px), clipped to the image."""
    h, w = image.shape[:2]
    raw = json.loads((folder / "element-snapshot.json").read_text(encoding="utf-8"))
    out: list[tuple[str, Box]] = []
    for el in raw:
        r = el["rect"]
        zoom = float(r.get("zoom", 1) or 1)
        sw = el.get("screenWidth")
        if sw is not None and abs(sw * zoom - w) > 2 and abs(sw - w) <= 2:
            zoom = 1.0  # the PNG is in CSS px after all
        x0 = round(r["left"] * zoom)
        y0 = round(r["top"] * zoom)
        x1 = round((r["left"] + r["width"]) * zoom)
        y1 = round((r["top"] + r["height"]) * zoom)
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if cx1 <= cx0 or cy1 <= cy0:
            continue  # off screen
        full = (x1 - x0) * (y1 - y0)
        if full <= 0 or (cx1 - cx0) * (cy1 - cy0) < 0.5 * full:
            continue  # mostly off screen: not clickable where the DOM says
        out.append((str(el.get("nodeType", "?")), Box(cx0, cy0, cx1, cy1)))
    return out


def points_for(box: Box, rng: np.random.Generator, jitter: int) -> list[tuple[int, int]]:
    """The center plus ``jitter`` points drawn uniformly from the box's central half."""
    pts = [box.center]
    for _ in range(jitter):
        fx, fy = rng.uniform(0.25, 0.75, size=2)
        x = int(box.x0 + fx * box.width)
        y = int(box.y0 + fy * box.height)
        pts.append((min(max(x, box.x0), box.x1 - 1), min(max(y, box.y0), box.y1 - 1)))
    return pts


class CannyBaseline:
    """Canny on the whole frame; the smallest contour bounding box that encloses the point."""

    def __init__(self, image: np.ndarray, dilate: int = 0) -> None:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        edges = cv2.Canny(gray, 50, 150)
        if dilate:
            edges = cv2.dilate(edges, np.ones((dilate, dilate), np.uint8))
        contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        rects = np.array([cv2.boundingRect(c) for c in contours], dtype=np.int64).reshape(-1, 4)
        self.rects = rects
        self.area = rects[:, 2] * rects[:, 3]

    def locate(self, x: int, y: int) -> Box:
        r = self.rects
        inside = (r[:, 0] <= x) & (x < r[:, 0] + r[:, 2]) & (r[:, 1] <= y) & (y < r[:, 1] + r[:, 3])
        if not inside.any():
            return Box(x, y, x + 1, y + 1)
        idx = np.flatnonzero(inside)
        i = idx[np.argmin(self.area[idx])]
        rx, ry, rw, rh = (int(v) for v in r[i])
        return Box(rx, ry, rx + rw, ry + rh)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _share(ious: list[float]) -> float:
    return round(sum(v >= 0.5 for v in ious) / len(ious), 4) if ious else float("nan")


def time_1080p(folders: list[Path], rng: np.random.Generator, n: int) -> dict[str, float]:
    """Milliseconds per locate on 1920x1080 frames (smaller shots resized up)."""
    times: list[float] = []
    for folder in folders:
        img = cv2.imread(str(folder / "input.png"), cv2.IMREAD_COLOR)
        if img is None:
            continue
        if img.shape[:2] != (1080, 1920):
            img = cv2.resize(img, (1920, 1080), interpolation=cv2.INTER_LINEAR)
        for _ in range(n):
            x, y = int(rng.integers(0, 1920)), int(rng.integers(0, 1080))
            t0 = time.perf_counter()
            locate(img, x, y)
            times.append((time.perf_counter() - t0) * 1000)
    return {
        "median_ms": round(_pct(times, 50), 2),
        "p95_ms": round(_pct(times, 95), 2),
        "max_ms": round(max(times), 2) if times else float("nan"),
        "calls": len(times),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--data",
        type=Path,
        default=REPO.parent / "shared" / "data",
        help="data directory holding midscene/*/ (default: ../shared/data from the repo root)",
    )
    ap.add_argument("--jitter", type=int, default=3, help="jittered points per element (default 3)")
    ap.add_argument("--seed", type=int, default=SEED, help="RNG seed")
    ap.add_argument("--timing-points", type=int, default=40, help="random points per 1080p frame")
    ap.add_argument("--verbose", action="store_true", help="per-folder scores on stderr")
    ap.add_argument(
        "--split",
        action="store_true",
        help="also score the folders with even and odd index (sorted names) separately:\n"
        "tune on the even half, check on the odd half",
    )
    ap.add_argument(
        "--half",
        choices=("even", "odd"),
        help="score only that half of the folders (for tuning; implies --split)",
    )
    ap.add_argument("--no-timing", action="store_true", help="skip the 1080p timing pass")
    args = ap.parse_args(argv)

    root = args.data / "midscene"
    folders = sorted(p for p in root.glob("*/") if (p / "input.png").is_file())
    if not folders:
        ap.error(f"no midscene/*/input.png under {args.data}")
    halves = {"even": folders[0::2], "odd": folders[1::2]}
    half_of = {f: name for name, fs in halves.items() for f in fs}
    # one RNG per folder, so a folder gets the same points whichever folders are scored
    folder_rng = {f: np.random.default_rng([args.seed, i]) for i, f in enumerate(folders)}
    if args.half:
        folders = halves[args.half]
    rng = np.random.default_rng(args.seed)

    ious: dict[str, list[float]] = defaultdict(list)
    base: dict[str, list[float]] = defaultdict(list)
    base5: dict[str, list[float]] = defaultdict(list)
    ms: list[float] = []
    by_half: dict[str, list[float]] = defaultdict(list)
    n_elements = 0
    for folder in folders:
        img = cv2.imread(str(folder / "input.png"), cv2.IMREAD_COLOR)
        if img is None:
            _log(f"skip {folder.name}: unreadable PNG")
            continue
        baseline = CannyBaseline(img)
        baseline5 = CannyBaseline(img, dilate=5)
        elements = load_elements(folder, img)
        n_elements += len(elements)
        mine: list[float] = []
        for kind, truth in elements:
            for x, y in points_for(truth, folder_rng[folder], args.jitter):
                t0 = time.perf_counter()
                got = locate(img, x, y)
                ms.append((time.perf_counter() - t0) * 1000)
                ious[kind].append(got.iou(truth))
                base[kind].append(baseline.locate(x, y).iou(truth))
                base5[kind].append(baseline5.locate(x, y).iou(truth))
                if kind != CONTAINER:
                    mine.append(ious[kind][-1])
        by_half[half_of[folder]].extend(mine)
        if args.verbose:
            _log(f"{folder.name:24s} n={len(mine):4d} share={_share(mine):.3f}")

    def pooled(d: dict[str, list[float]]) -> list[float]:
        return [v for k, vs in d.items() if k != CONTAINER for v in vs]

    ours, theirs, theirs5 = pooled(ious), pooled(base), pooled(base5)
    result: dict[str, Any] = {
        "bench": "locate",
        "data": str(root),
        "images": len(folders),
        "elements": n_elements,
        "points": sum(len(v) for v in ious.values()),
        "share_iou50": _share(ours),
        "median_iou": round(_pct(ours, 50), 4),
        "per_type": {
            k: {"n": len(v), "share_iou50": _share(v), "median_iou": round(_pct(v, 50), 4)}
            for k, v in sorted(ious.items())
            if k != CONTAINER
        },
        "container": {
            "n": len(ious.get(CONTAINER, [])),
            "share_iou50": _share(ious.get(CONTAINER, [])),
            "median_iou": round(_pct(ious.get(CONTAINER, []), 50), 4),
        },
        "baseline_canny": {
            "share_iou50": _share(theirs),
            "median_iou": round(_pct(theirs, 50), 4),
            "container_share_iou50": _share(base.get(CONTAINER, [])),
        },
        "baseline_canny_dilate5": {
            "share_iou50": _share(theirs5),
            "median_iou": round(_pct(theirs5, 50), 4),
            "per_type": {k: _share(v) for k, v in sorted(base5.items()) if k != CONTAINER},
        },
        "ms_median": round(_pct(ms, 50), 2),
        "ms_p95": round(_pct(ms, 95), 2),
    }
    if args.split or args.half:
        result["split"] = {
            name: {
                "folders": [f.name for f in halves[name]],
                "points": len(by_half[name]),
                "share_iou50": _share(by_half[name]),
            }
            for name in ("even", "odd")
            if by_half[name]
        }
    if not args.no_timing:
        result["ms_1080p"] = time_1080p(folders, rng, args.timing_points)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
