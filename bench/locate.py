"""Benchmark of :func:`capture.vision.locate` on real screenshots with true element boxes.

Two sets: ``web`` (the ``midscene/*/`` folders of ../shared/data: web pages with DOM boxes)
and ``desktop`` (bench/data/desktop/: real GTK and Qt applications under Xvfb with AT-SPI
boxes, made by bench/desktop_set.py). For every element the locator is asked for the box
around the element's center and a few jittered points inside it; each answer is scored by
intersection-over-union with the element's true box. A naive baseline (Canny edges + the
smallest enclosing contour's bounding box) is scored on the same points in the same run.
On the desktop set, whole applications are held out (``--held-out``): tune on the others,
and read the held-out figure as what the locator does on applications it has never seen.

Prints exactly one JSON line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
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
DESKTOP = REPO / "bench" / "data" / "desktop"
# applications never looked at while tuning capture/vision.py (chosen before tuning began)
HELD_OUT = ("galculator", "geany", "thunar", "featherpad")


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


def points_for(box: Box, rng: np.random.Generator, jitter: int, holes: tuple[Box, ...] = ()) -> list[tuple[int, int]]:
    """The center plus ``jitter`` points drawn uniformly from the box's central half.

    ``holes`` are elements nested inside this one (an entry inside a combo box, an icon
    inside an entry): a point there belongs to them, so none is taken there.
    """
    pts = [] if any(h.contains(*box.center) for h in holes) else [box.center]
    for _ in range(jitter * 8 if holes else jitter):
        fx, fy = rng.uniform(0.25, 0.75, size=2)
        x = int(box.x0 + fx * box.width)
        y = int(box.y0 + fy * box.height)
        p = (min(max(x, box.x0), box.x1 - 1), min(max(y, box.y0), box.y1 - 1))
        if not any(h.contains(*p) for h in holes):
            pts.append(p)
        if len(pts) > jitter:
            break
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


def load_desktop(folder: Path, image: np.ndarray) -> list[tuple[str, Box, tuple[Box, ...]]]:
    """The elements of one desktop shot as (AT-SPI role, box in screenshot px, the boxes
    of the elements nested in it)."""
    h, w = image.shape[:2]
    raw = json.loads((folder / "elements.json").read_text(encoding="utf-8"))
    out: list[tuple[str, Box]] = []
    for el in raw:
        x0, y0, x1, y1 = el["box"]
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 > x0 and y1 > y0:
            out.append((str(el["role"]), Box(x0, y0, x1, y1)))
    return [(kind, b, tuple(o for _, o in out if o != b and _inside(o, b))) for kind, b in out]


def _inside(a: Box, b: Box) -> bool:
    return a.x0 >= b.x0 and a.y0 >= b.y0 and a.x1 <= b.x1 and a.y1 <= b.y1


def _app_of(folder: Path) -> str:
    """``mousepad-dark`` -> ``mousepad`` (the theme is the last dash-separated word)."""
    return folder.name.rsplit("-", 1)[0]


class Scores:
    """IoUs of the locator and of the two baselines, by element kind and by group."""

    def __init__(self) -> None:
        self.ious: dict[str, list[float]] = defaultdict(list)
        self.base: dict[str, list[float]] = defaultdict(list)
        self.base5: dict[str, list[float]] = defaultdict(list)
        self.groups: dict[str, list[float]] = defaultdict(list)
        self.ms: list[float] = []
        self.images = 0
        self.elements = 0

    def run(self, folder: Path, elements: list[tuple[str, Box, tuple[Box, ...]]], img: np.ndarray,
            rng: np.random.Generator, jitter: int, groups: tuple[str, ...]) -> list[float]:  # fmt: skip
        baseline, baseline5 = CannyBaseline(img), CannyBaseline(img, dilate=5)
        self.images += 1
        self.elements += len(elements)
        mine: list[float] = []
        for kind, truth, holes in elements:
            for x, y in points_for(truth, rng, jitter, holes):
                t0 = time.perf_counter()
                got = locate(img, x, y)
                self.ms.append((time.perf_counter() - t0) * 1000)
                self.ious[kind].append(got.iou(truth))
                self.base[kind].append(baseline.locate(x, y).iou(truth))
                self.base5[kind].append(baseline5.locate(x, y).iou(truth))
                if kind != CONTAINER:
                    mine.append(self.ious[kind][-1])
        for g in groups:
            self.groups[g].extend(mine)
        return mine

    def summary(self) -> dict[str, Any]:
        def pooled(d: dict[str, list[float]]) -> list[float]:
            return [v for k, vs in d.items() if k != CONTAINER for v in vs]

        ours, theirs, theirs5 = pooled(self.ious), pooled(self.base), pooled(self.base5)
        out: dict[str, Any] = {
            "images": self.images,
            "elements": self.elements,
            "points": len(ours),
            "share_iou50": _share(ours),
            "median_iou": round(_pct(ours, 50), 4),
            "per_type": {
                k: {"n": len(v), "share_iou50": _share(v), "median_iou": round(_pct(v, 50), 4)}
                for k, v in sorted(self.ious.items())
                if k != CONTAINER
            },
            "baseline_canny": {"share_iou50": _share(theirs), "median_iou": round(_pct(theirs, 50), 4)},
            "baseline_canny_dilate5": {"share_iou50": _share(theirs5), "median_iou": round(_pct(theirs5, 50), 4)},
            "ms_median": round(_pct(self.ms, 50), 2),
            "ms_p95": round(_pct(self.ms, 95), 2),
        }
        if CONTAINER in self.ious:
            c = self.ious[CONTAINER]
            out["container"] = {"n": len(c), "share_iou50": _share(c), "median_iou": round(_pct(c, 50), 4)}
        for g, v in sorted(self.groups.items()):
            out.setdefault("groups", {})[g] = {"points": len(v), "share_iou50": _share(v),
                                               "median_iou": round(_pct(v, 50), 4)}  # fmt: skip
        return out


def _web(args: argparse.Namespace) -> tuple[dict[str, Any], list[Path]] | None:
    root = args.data / "midscene"
    folders = sorted(p for p in root.glob("*/") if (p / "input.png").is_file())
    if not folders:
        _log(f"web set: no midscene/*/input.png under {args.data}; skipped")
        return None
    halves = {"even": folders[0::2], "odd": folders[1::2]}
    half_of = {f: name for name, fs in halves.items() for f in fs}
    # one RNG per folder, so a folder gets the same points whichever folders are scored
    folder_rng = {f: np.random.default_rng([args.seed, i]) for i, f in enumerate(folders)}
    if args.half:
        folders = halves[args.half]
    scores = Scores()
    for folder in folders:
        img = cv2.imread(str(folder / "input.png"), cv2.IMREAD_COLOR)
        if img is None:
            _log(f"skip {folder.name}: unreadable PNG")
            continue
        groups = (half_of[folder],) if (args.split or args.half) else ()
        web = [(k, b, ()) for k, b in load_elements(folder, img)]
        mine = scores.run(folder, web, img, folder_rng[folder], args.jitter, groups)
        if args.verbose:
            _log(f"web {folder.name:24s} n={len(mine):4d} share={_share(mine):.3f}")
    return {"data": str(root), **scores.summary()}, folders


def _desktop(args: argparse.Namespace) -> tuple[dict[str, Any], list[Path]] | None:
    folders = sorted(p for p in args.desktop.glob("*/") if (p / "input.png").is_file())
    if not folders:
        _log(f"desktop set: nothing under {args.desktop} (make it: python bench/desktop_set.py); skipped")
        return None
    held = set(args.held_out)
    unknown = held - {_app_of(f) for f in folders}
    if unknown:
        _log(f"desktop set: held-out applications not in the set: {sorted(unknown)}")
    if args.only_tuned:
        folders = [f for f in folders if _app_of(f) not in held]
    scores = Scores()
    per_app: dict[str, list[float]] = defaultdict(list)
    for i, folder in enumerate(folders):
        img = cv2.imread(str(folder / "input.png"), cv2.IMREAD_COLOR)
        if img is None:
            continue
        app = _app_of(folder)
        group = "held_out" if app in held else "tuned"
        rng = np.random.default_rng([args.seed, 1000 + i])
        mine = scores.run(folder, load_desktop(folder, img), img, rng, args.jitter, (group,))
        per_app[app].extend(mine)
        if args.verbose:
            _log(f"desktop {folder.name:28s} n={len(mine):4d} share={_share(mine):.3f}")
    out = {"data": str(args.desktop), "held_out_apps": sorted(held), **scores.summary()}
    out["per_app"] = {a: {"points": len(v), "share_iou50": _share(v), "median_iou": round(_pct(v, 50), 4)}
                      for a, v in sorted(per_app.items())}  # fmt: skip
    return out, folders


def _a11y_latency() -> dict[str, Any] | None:
    """bench/a11y_lookup.py's figures for the jeepney binding (None when it cannot run)."""
    got = subprocess.run([sys.executable, str(REPO / "bench" / "a11y_lookup.py")],
                         capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    lines = [ln for ln in got.stdout.splitlines() if ln.startswith("{")]
    if got.returncode != 0 or not lines:
        _log(f"a11y lookup benchmark did not run: {got.stderr.strip().splitlines()[-1:]}")
        return None
    data: dict[str, Any] = json.loads(lines[-1])
    return {"app": data.get("app"), **data.get("jeepney", {})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--data",
        type=Path,
        default=REPO.parent / "shared" / "data",
        help="data directory holding midscene/*/ (default: ../shared/data from the repo root)",
    )
    ap.add_argument("--desktop", type=Path, default=DESKTOP,
                    help=f"the desktop set (default: {DESKTOP.relative_to(REPO)})")  # fmt: skip
    ap.add_argument("--set", choices=("web", "desktop", "both"), default="both", help="which sets to score")
    ap.add_argument("--held-out", nargs="*", default=list(HELD_OUT), metavar="APP",
                    help=f"desktop applications scored apart (default: {' '.join(HELD_OUT)})")  # fmt: skip
    ap.add_argument("--only-tuned", action="store_true",
                    help="desktop: score only the applications that are not held out (for tuning)")  # fmt: skip
    ap.add_argument("--jitter", type=int, default=3, help="jittered points per element (default 3)")
    ap.add_argument("--seed", type=int, default=SEED, help="RNG seed")
    ap.add_argument("--timing-points", type=int, default=40, help="random points per 1080p frame")
    ap.add_argument("--verbose", action="store_true", help="per-folder scores on stderr")
    ap.add_argument(
        "--split",
        action="store_true",
        help="web: also score the folders with even and odd index (sorted names) separately:\n"
        "tune on the even half, check on the odd half",
    )
    ap.add_argument(
        "--half",
        choices=("even", "odd"),
        help="web: score only that half of the folders (for tuning; implies --split)",
    )
    ap.add_argument("--no-timing", action="store_true", help="skip the 1080p timing pass")
    ap.add_argument("--a11y", action="store_true",
                    help="also run bench/a11y_lookup.py (AT-SPI lookup latency on a busy app)")  # fmt: skip
    args = ap.parse_args(argv)

    result: dict[str, Any] = {"bench": "locate"}
    frames: list[Path] = []
    if args.set in ("web", "both"):
        web = _web(args)
        if web is not None:
            result["web"], got = web
            frames += got
    if args.set in ("desktop", "both"):
        desk = _desktop(args)
        if desk is not None:
            result["desktop"], got = desk
            frames += got
    if not frames:
        ap.error("no data: neither the web set nor the desktop set was found")
    if not args.no_timing:
        result["ms_1080p"] = time_1080p(frames, np.random.default_rng(args.seed), args.timing_points)
    if args.a11y:
        result["a11y_lookup"] = _a11y_latency()
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
