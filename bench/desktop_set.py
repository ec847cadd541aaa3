"""Make the desktop development set: real applications under Xvfb, element boxes from AT-SPI.

For each application in ``APPS`` (and each theme), on a fresh Xvfb with a session bus and
an accessibility bus: start the application, wait until its window is on the bus and has
stopped changing, take a screenshot, walk its accessible tree and keep every element a
person could point at (showing, visible, a sensible size, on the screen, a leaf-ish role).
Writes ``<out>/<app>-<theme>/input.png`` and ``elements.json`` (a list of
``{"role", "name", "box": [x0, y0, x1, y1], "app"}`` in screenshot pixels).

The set is committed (bench/data/desktop/) so the benchmark runs anywhere; regenerating it
needs the applications (``--install`` apt-gets them) and is not part of any test. There is
no window manager: each window opens at (0, 0) and only one application runs at a time.

    python bench/desktop_set.py --out bench/data/desktop [--only mousepad] [--install]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import cv2
import numpy as np

from capture.a11y._atspi import (
    ACCESSIBLE,
    COMPONENT,
    PROPERTIES,
    SCREEN_COORDS,
    Atspi,
    _role,
    _states,
    _variant,
)
from capture.screen import Screen
from capture.xvfb import VirtualDisplay

SIZE = (1366, 768)
# roles a person clicks on, or reads; containers (panel, filler, scroll pane, ...) are left
# out: their box is a region, not an element
KEEP = frozenset({
    "push button", "toggle button", "check box", "radio button", "combo box", "menu item",
    "check menu item", "radio menu item", "menu", "page tab", "label", "text", "entry",
    "password text", "spin button", "slider", "icon", "image", "list item", "table cell",
    "tree item", "link", "heading", "static", "push button menu", "scroll bar",
    "progress bar", "level bar", "table column header", "column header", "desktop icon",
    "paragraph",
})  # fmt: skip
DARK = {"GTK_THEME": "Adwaita:dark"}
LIGHT = {"GTK_THEME": "Adwaita"}
QT = {"QT_ACCESSIBILITY": "1", "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1", "QT_QPA_PLATFORM": "xcb"}


@dataclass(frozen=True)
class App:
    name: str
    argv: list[str]
    package: str
    themes: dict[str, dict[str, str]] = field(default_factory=lambda: {"light": LIGHT, "dark": DARK})
    settle: float = 2.0  # s the window must stay unchanged
    # roles whose boxes this application reports wrongly, left out (with the reason)
    drop: dict[str, str] = field(default_factory=dict)


def _apps(tmp: Path) -> list[App]:
    doc = tmp / "notes.txt"
    doc.write_text("Quarterly figures\nRevenue 4,410\nCosts 3,120\n" * 8, encoding="utf-8")
    home = tmp / "home"
    for d in ("Documents", "Pictures", "Music", "Downloads", "Projects"):
        (home / d).mkdir(parents=True, exist_ok=True)
    for f in ("report.pdf", "budget.ods", "photo.png", "notes.txt", "todo.md"):
        (home / f).write_text("x", encoding="utf-8")
    return [
        App("widget-factory", ["gtk3-widget-factory"], "gtk-3-examples"),
        App("zenity-forms", ["zenity", "--forms", "--title", "New ticket", "--text", "Ticket details",
                             "--add-entry", "Customer", "--add-password", "PIN", "--add-calendar",
                             "Due date", "--add-combo", "Priority", "--combo-values", "Low|Normal|High"],
            "zenity"),
        App("zenity-list", ["zenity", "--list", "--title", "Flights", "--width", "700", "--height", "420",
                            "--column", "Flight", "--column", "Time", "--column", "Fare",
                            "LH 401", "17:00", "$500", "BA 117", "17:00", "$1,500", "AF 23", "18:30", "$640",
                            "UA 960", "19:10", "$720"], "zenity"),
        App("mousepad", ["mousepad", str(doc)], "mousepad"),
        App("galculator", ["galculator"], "galculator"),
        App("geany", ["geany", "-i", "-c", str(tmp / "geany"), str(doc)], "geany"),
        # pcmanfm (GTK 2 in Debian) never reaches the bus without GTK_MODULES=gail: thunar instead
        App("thunar", ["thunar", str(home)], "thunar"),
        App("gucharmap", ["gucharmap"], "gucharmap"),
        App("featherpad", ["featherpad", str(doc)], "featherpad",
            themes={"fusion": {**QT, "QT_STYLE_OVERRIDE": "Fusion"}}),
        App("gtk3-demo", ["gtk3-demo"], "gtk-3-examples",
            drop={"table cell": "its tree view (with expanders) reports every cell at x 46-224 while "
                  "the rows' text starts at x 28 and the selection spans x 6-222: GTK 3's cell "
                  "extents are shifted right by the expander column"}),
    ]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def walk(bus: Atspi, root: tuple[str, str], limit: int = 4000) -> Iterator[dict[str, Any]]:
    """Every accessible below ``root``, level by level, each level asked in batches."""
    level = [root]
    seen: set[tuple[str, str]] = set()
    while level and len(seen) < limit:
        level = [r for r in level if r not in seen]
        seen.update(level)
        calls: list[Any] = []
        for r in level:
            calls += [(r, ACCESSIBLE, "GetRole", "", ()), (r, ACCESSIBLE, "GetState", "", ()),
                      (r, COMPONENT, "GetExtents", "u", (SCREEN_COORDS,)),
                      (r, PROPERTIES, "Get", "ss", (ACCESSIBLE, "Name")),
                      (r, ACCESSIBLE, "GetChildren", "", ())]  # fmt: skip
        got = bus._batch(calls)
        nxt: list[tuple[str, str]] = []
        for i, r in enumerate(level):
            role, state, ext, name, kids = got[5 * i : 5 * i + 5]
            states = _states(list(state[0])) if state else frozenset()
            box = tuple(ext[0]) if ext else None
            yield {"ref": r, "role": _role(role), "states": states, "box": box, "name": _variant(name)}
            if kids and "showing" in states:
                nxt += [(str(n), str(p)) for n, p in kids[0]]
        level = nxt


def elements(bus: Atspi, pid: int, size: tuple[int, int]) -> list[dict[str, Any]]:
    w, h = size
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, int, int, int]] = set()
    for win, _states_, _box in bus.windows():
        if bus.pid(win[0]) != pid:
            continue
        for node in walk(bus, win):
            if node["role"] not in KEEP or node["box"] is None:
                continue
            if not {"showing", "visible"} <= node["states"]:
                continue
            x, y, bw, bh = node["box"]
            x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
            if x1 - x0 < 4 or y1 - y0 < 4 or (x1 - x0) * (y1 - y0) < 0.8 * bw * bh:
                continue  # tiny, or mostly off the screen
            if (x1 - x0) * (y1 - y0) > 0.2 * w * h:
                continue  # a region (a text view, a list), not an element
            key = (x0, y0, x1, y1)
            if key in seen:
                continue  # a label inside a button with the same box: one element
            seen.add(key)
            out.append({"role": node["role"], "name": node["name"][:80], "box": [x0, y0, x1, y1]})
    return out


def _settled(screen: Screen, settle: float, timeout: float = 20) -> np.ndarray:
    """The screen once it has not changed for ``settle`` seconds (or after ``timeout``)."""
    last = None
    since = time.monotonic()
    end = since + timeout
    while time.monotonic() < end:
        img = np.ascontiguousarray(screen.grab().pixels[:, :, :3])
        if last is None or not np.array_equal(img, last):
            last, since = img, time.monotonic()
        elif time.monotonic() - since >= settle:
            break
        time.sleep(0.2)
    assert last is not None
    return last


def shoot(app: App, theme: str, env: dict[str, str], out: Path) -> int:
    from tests.x11.a11y import AccessibilityBus

    with VirtualDisplay(SIZE[0], SIZE[1]) as vd:
        bus = AccessibilityBus(vd.name)
        proc = None
        try:
            proc = subprocess.Popen(app.argv, env={**bus.env, **env, "HOME": str(out.parent / ".home")},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            atspi = Atspi(bus.address, call_timeout=2.0)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if any(atspi.pid(w[0]) == proc.pid for w, _s, _b in atspi.windows()):
                    break
                time.sleep(0.3)
            else:
                _log(f"{app.name}: no window on the bus")
                return 0
            with Screen(vd.name) as screen:
                img = _settled(screen, app.settle)
            found = [el for el in elements(atspi, proc.pid, SIZE) if el["role"] not in app.drop]
            atspi.close()
            folder = out / f"{app.name}-{theme}"
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / "input.png"), img)  # BGR already
            for el in found:
                el["app"] = app.name
            (folder / "elements.json").write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")  # fmt: skip
            return len(found)
        finally:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
            bus.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "data" / "desktop")
    ap.add_argument("--only", action="append", help="only this application (repeatable)")
    ap.add_argument("--install", action="store_true", help="apt-get the applications first")
    args = ap.parse_args(argv)
    tmp = args.out.parent / ".desktop-set-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    apps = [a for a in _apps(tmp) if not args.only or a.name in args.only]
    if not apps:
        ap.error(f"no application named {args.only}")
    if args.install:
        subprocess.run(["apt-get", "install", "-y", "-q", *sorted({a.package for a in apps})], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    total = 0
    for app in apps:
        if shutil.which(app.argv[0]) is None:
            _log(f"{app.name}: {app.argv[0]} not installed (Debian package {app.package}); skipped")
            continue
        for theme, env in app.themes.items():
            n = shoot(app, theme, env, args.out)
            _log(f"{app.name}-{theme}: {n} elements")
            total += n
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"bench": "desktop_set", "out": str(args.out), "elements": total}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
