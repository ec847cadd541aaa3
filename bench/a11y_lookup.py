"""How long an AT-SPI lookup takes on a busy real application, both bindings.

Starts its own Xvfb, a session D-Bus and the accessibility bus (as the test fixture
does), then a busy GTK application: ``gtk3-widget-factory`` (Debian gtk-3-examples; a
few hundred accessibles on its first page) if installed, else a zenity list of 300 rows
x 3 columns. For points at the centres of its leaf widgets it measures:

- ``jeepney``: :class:`capture.a11y.A11y.element_at` (the binding driverseat uses), the
  whole answer (role, name, description, states, box, parents, application), called from
  another thread as the daemon calls it;
- ``gi``: the same answer through libatspi with PyGObject, in the system Python (Debian
  python3-gi + gir1.2-atspi-2.0), if that is installed; libatspi's cache is cleared
  before each lookup so that both read the current screen.

Prints one JSON line: milliseconds per lookup (median, p95) for each. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from capture.a11y import A11y
from capture.xvfb import VirtualDisplay
from tests.daemon.live import poll
from tests.x11.a11y import AccessibilityBus

GI_LOOKUP = r"""
import gi, json, sys, time
gi.require_version("Atspi", "2.0")
from gi.repository import Atspi
S = Atspi.CoordType.SCREEN
def lookup(x, y):
    d = Atspi.get_desktop(0)
    d.clear_cache_single() if hasattr(d, "clear_cache_single") else d.clear_cache()
    best = None
    for i in range(d.get_child_count()):
        app = d.get_child_at_index(i)
        for j in range(app.get_child_count()):
            w = app.get_child_at_index(j)
            if not w.get_state_set().contains(Atspi.StateType.SHOWING):
                continue
            e = w.get_extents(S)
            if e.x <= x < e.x + e.width and e.y <= y < e.y + e.height:
                best = w
    here = best
    if here is None:
        return None
    for _ in range(64):
        c = here.get_accessible_at_point(x, y, S)
        if c is None or c == here:
            break
        here = c
    out = [here.get_role_name(), here.get_name(), here.get_description(),
           here.get_state_set().get_states(), here.get_extents(S)]
    p = here.get_parent()
    while p is not None and p.get_role() != Atspi.Role.APPLICATION:
        out.append((p.get_role_name(), p.get_name()))
        p = p.get_parent()
    out.append(p.get_name() if p is not None else "")
    return out
pts = json.loads(sys.argv[1]); n = int(sys.argv[2])
lookup(*pts[0])
ts, missed = [], 0
for i in range(n):
    t = time.perf_counter(); got = lookup(*pts[i % len(pts)]); ts.append((time.perf_counter() - t) * 1000)
    missed += got is None
print(json.dumps([ts, missed]))
"""


def _stats(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"median_ms": round(statistics.median(ms), 2), "p95_ms": round(ms[int(0.95 * len(ms))], 2)}


def _gi(stdout: str) -> dict[str, float]:
    ms, missed = json.loads(stdout)
    return {**_stats(ms), "missed": missed}


@contextmanager
def _app(bus: AccessibilityBus) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    if shutil.which("gtk3-widget-factory"):
        name, cmd = "gtk3-widget-factory", ["gtk3-widget-factory"]
    else:
        rows = [f"{c}{i}" for i in range(300) for c in ("id-", "name ", "state ")]
        name = "zenity --list (300 rows x 3 columns)"
        cmd = ["zenity", "--list", "--width", "900", "--height", "900",
               "--column", "Id", "--column", "Name", "--column", "State", *rows]  # fmt: skip
    proc = subprocess.Popen(cmd, env=bus.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield name, proc
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _leaves(a11y: A11y, pid: int) -> list[tuple[int, int]]:
    """Centres of distinct leaf elements, found by probing a grid over the screen."""
    seen, points = set(), []
    for y in range(10, 1070, 24):
        for x in range(10, 1910, 24):
            el = a11y.element_at(x, y)
            if el is None or el.pid != pid or el.box is None:
                continue
            key = (el.role, el.name, el.box.left, el.box.top)
            if key not in seen:
                seen.add(key)
                points.append((el.box.left + el.box.width // 2, el.box.top + el.box.height // 2))
    return points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lookups", type=int, default=300)
    args = ap.parse_args()
    with VirtualDisplay(1920, 1080) as vd:
        bus = AccessibilityBus(vd.name)
        try:
            with _app(bus) as (name, proc), A11y(timeout=1.0, connect=bus.connect) as a11y:
                assert poll(lambda: bool(_leaves(a11y, proc.pid)), timeout=20), f"{name} not up"
                points = _leaves(a11y, proc.pid)
                ours, missed = [], 0
                for i in range(args.lookups):
                    t = time.perf_counter()
                    missed += a11y.element_at(*points[i % len(points)]) is None
                    ours.append((time.perf_counter() - t) * 1000)
                out: dict[str, object] = {"app": name, "points": len(points),
                                          "jeepney": {**_stats(ours), "missed": missed}}  # fmt: skip
                gi = subprocess.run(
                    ["/usr/bin/python3", "-c", GI_LOOKUP, json.dumps(points), str(args.lookups)],
                    env=bus.env, capture_output=True, text=True, check=False,
                )
                out["gi"] = _gi(gi.stdout) if gi.returncode == 0 else (
                    "unavailable: " + (gi.stderr.strip().splitlines() or ["?"])[-1])  # fmt: skip
        finally:
            bus.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
