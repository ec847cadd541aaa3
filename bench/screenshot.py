"""How long one agent screenshot takes: driverseat's path against the usual one.

Starts its own Xvfb (1920x1080 by default) showing a real web-page screenshot as the
root window's background (PNG encode time depends on the content), then measures,
over ``--runs`` runs each:

- driverseat: ``Screen.grab`` (mss, XShm) -> numpy view -> one resize to the agent
  size -> PNG bytes (``capture.screen.encode``);
- reference: what computer-use demos do: ``scrot`` (or ``import -window root``) to a
  file, ImageMagick ``convert -resize WxH!`` to another file, read the bytes back.

Prints exactly one JSON line (medians and p95 in ms, and the speed-up); progress goes
to stderr. Not a test: no assertions; the goal (<= 15 ms median, >= 10x faster) is
reported, not enforced.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2
import numpy as np

from capture.coords import Scaling, agent_size_for
from capture.errors import CaptureError
from capture.screen import Screen, encode
from capture.xvfb import VirtualDisplay

DATA = Path("/work/shared/data/midscene")
DEFAULT_IMAGE = DATA / "githubstatus" / "input.png"
GOAL_MEDIAN_MS = 15.0
GOAL_SPEEDUP = 10.0


def log(msg: str) -> None:
    print(f"[screenshot bench] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 2),
        "p95_ms": round(pct(values, 95), 2),
    }


def default_image() -> Path | None:
    if DEFAULT_IMAGE.is_file():
        return DEFAULT_IMAGE
    found = sorted(glob.glob(str(DATA / "*" / "input.png")))
    return Path(found[0]) if found else None


def screen_content(path: Path | None, width: int, height: int) -> np.ndarray:
    """A BGRX picture of the whole screen: the image top-left on a grey desktop, or,
    without an image, a synthetic page (bands, text, noise) so PNG has work to do."""
    canvas = np.empty((height, width, 4), np.uint8)
    canvas[:] = (235, 235, 235, 0)
    if path is not None:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"cannot read the image {path}")
        h, w = min(height, image.shape[0]), min(width, image.shape[1])
        canvas[:h, :w, :3] = image[:h, :w]
        return canvas
    rng = np.random.default_rng(7)
    for y in range(0, height, 120):
        canvas[y : y + 50, :, :3] = rng.integers(0, 255, 3)
        for x in range(20, width - 300, 340):
            cv2.putText(
                canvas,
                "driverseat bench 0123",
                (x, y + 90),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.8,
                (20, 20, 20, 0),
                2,
                cv2.LINE_AA,
            )
    canvas[height // 2 :, width // 2 :, :3] = rng.integers(
        0, 255, (height - height // 2, width - width // 2, 3)
    )
    return canvas


def show_on_root(display: str, canvas: np.ndarray) -> None:
    """Make ``canvas`` the root window's background (it outlives this connection)."""
    from Xlib import X
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        screen = d.screen()
        root = screen.root
        height, width = canvas.shape[:2]
        pixmap = root.create_pixmap(width, height, screen.root_depth)
        gc = pixmap.create_gc()
        # python-xlib sends no BIG-REQUESTS: keep each PutImage under the request limit
        rows = max(1, (d.display.info.max_request_length * 4 - 64) // (width * 4))
        for y in range(0, height, rows):
            strip = canvas[y : y + rows]
            pixmap.put_image(
                gc, 0, y, width, strip.shape[0], X.ZPixmap, screen.root_depth, 0, strip.tobytes()
            )
        root.change_attributes(background_pixmap=pixmap)
        root.clear_area()
        pixmap.free()
        d.sync()
    finally:
        d.close()


def wait_until_shown(screen: Screen, canvas: np.ndarray, timeout: float = 10.0) -> None:
    """Poll until the grab shows the canvas (the server may still be painting)."""
    want = canvas[:, :, :3]
    deadline = time.monotonic() + timeout
    while not np.array_equal(screen.grab().pixels[:, :, :3], want):
        if time.monotonic() > deadline:
            raise SystemExit("the screen never showed the bench picture")
        time.sleep(0.05)


def real_convert() -> str:
    """ImageMagick's ``convert`` binary, skipping wrapper scripts earlier on PATH (a
    Python stand-in would add its own start-up to the reference's time)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / "convert"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            with candidate.open("rb") as f:
                if f.read(2) != b"#!":
                    return str(candidate)
    found = shutil.which("convert")
    if found is None:
        raise SystemExit("ImageMagick is not installed (apt-get install imagemagick)")
    return found


def time_runs(label: str, runs: int, warmup: int, once: Callable[[], object]) -> list[float]:
    for _ in range(warmup):
        once()
    times: list[float] = []
    for i in range(runs):
        t0 = time.perf_counter()
        once()
        times.append((time.perf_counter() - t0) * 1000)
        if (i + 1) % max(1, runs // 5) == 0:
            log(f"{label}: {i + 1}/{runs}, median so far {statistics.median(times):.1f} ms")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark one agent screenshot (grab, resize, PNG): driverseat's "
        "path against scrot + ImageMagick. Prints one JSON line on stdout."
    )
    parser.add_argument("--runs", type=int, default=50, help="timed runs per path (default 50)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument("--screen", default="1920x1080", help="Xvfb size, WxH (default 1920x1080)")
    parser.add_argument(
        "--agent-size", default=None, help='agent size "WxH" or "native" (default: chosen)'
    )
    parser.add_argument(
        "--image",
        type=Path,
        default=None,
        help=f"picture shown on the screen (default {DEFAULT_IMAGE})",
    )
    parser.add_argument(
        "--synthetic", action="store_true", help="show a synthetic page instead of an image"
    )
    parser.add_argument("--skip-reference", action="store_true", help="time only driverseat's path")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        sw, sh = (int(v) for v in args.screen.lower().split("x"))
    except ValueError:
        parser.error(f"--screen {args.screen!r} is not WxH")
    image = None if args.synthetic else (args.image or default_image())

    grabber, convert = "", ""
    if not args.skip_reference:
        grabber = shutil.which("scrot") or shutil.which("import") or ""
        if not grabber:
            raise SystemExit("neither scrot nor ImageMagick's import is installed")
        convert = real_convert()

    log(f"starting Xvfb {sw}x{sh}")
    with VirtualDisplay(sw, sh) as vd, tempfile.TemporaryDirectory() as tmp:
        canvas = screen_content(image, sw, sh)
        show_on_root(vd.name, canvas)
        try:
            with Screen(vd.name) as screen:
                wait_until_shown(screen, canvas)
                monitor = screen.monitors()[1]
                size = agent_size_for(monitor.width, monitor.height, args.agent_size)
                scaling = Scaling.fit(monitor, size)
                log(f"content: {image or 'synthetic'}; agent size {size[0]}x{size[1]}")

                grab_ms: list[float] = []
                encode_ms: list[float] = []
                png_bytes = 0

                def driverseat() -> None:
                    nonlocal png_bytes
                    t0 = time.perf_counter()
                    frame = screen.grab(monitor)
                    t1 = time.perf_counter()
                    png_bytes = len(encode(frame, scaling.agent_size))
                    t2 = time.perf_counter()
                    grab_ms.append((t1 - t0) * 1000)
                    encode_ms.append((t2 - t1) * 1000)

                ours = time_runs("driverseat", args.runs, args.warmup, driverseat)
                grab_ms, encode_ms = grab_ms[args.warmup :], encode_ms[args.warmup :]
        except CaptureError as exc:
            raise SystemExit(f"capture failed: {exc}") from exc

        result: dict[str, object] = {
            "bench": "screenshot",
            "runs": args.runs,
            "screen": f"{sw}x{sh}",
            "agent": f"{size[0]}x{size[1]}",
            "content": str(image.relative_to(DATA))
            if image and image.is_relative_to(DATA)
            else str(image or "synthetic"),
            "driverseat": {
                **summary(ours),
                "grab_median_ms": round(statistics.median(grab_ms), 2),
                "resize_encode_median_ms": round(statistics.median(encode_ms), 2),
                "png_bytes": png_bytes,
            },
        }

        if not args.skip_reference:
            env = {**os.environ, "DISPLAY": vd.name}
            shot, out = os.path.join(tmp, "shot.png"), os.path.join(tmp, "out.png")
            if os.path.basename(grabber) == "scrot":
                grab_cmd = [grabber, "--overwrite", shot]
            else:
                grab_cmd = [grabber, "-window", "root", shot]
            resize_cmd = [convert, shot, "-resize", f"{size[0]}x{size[1]}!", out]
            ref_bytes = 0

            def reference() -> None:
                nonlocal ref_bytes
                subprocess.run(grab_cmd, env=env, check=True, stdout=subprocess.DEVNULL)
                subprocess.run(resize_cmd, env=env, check=True, stdout=subprocess.DEVNULL)
                ref_bytes = len(Path(out).read_bytes())

            theirs = time_runs("reference", args.runs, min(args.warmup, 1), reference)
            med_ours = statistics.median(ours)
            med_theirs = statistics.median(theirs)
            result["reference"] = {
                **summary(theirs),
                "tool": f"{os.path.basename(grabber)} + {os.path.basename(convert)} -resize",
                "png_bytes": ref_bytes,
            }
            result["speedup_median"] = round(med_theirs / med_ours, 1)
            result["goal_met"] = (
                med_ours <= GOAL_MEDIAN_MS and med_theirs / med_ours >= GOAL_SPEEDUP
            )
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
