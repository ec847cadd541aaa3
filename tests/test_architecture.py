"""The house plan's arrows: capture is a leaf, Qt lives only in overlay/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("capture", {"daemon", "overlay", "PySide6"}),
        ("daemon", {"overlay", "PySide6"}),
    ],
)
def test_dependencies_point_one_way(package: str, forbidden: set[str]) -> None:
    bad = [(f, m) for f, m in imports(package) if top(m) in forbidden]
    assert bad == []


def test_overlay_uses_only_the_daemons_wire_surface() -> None:
    allowed = {"daemon.client", "daemon.actions", "daemon.errors", "daemon"}
    bad = [(f, m) for f, m in imports("overlay") if top(m) == "daemon" and m not in allowed]
    assert bad == []
    # the overlay converts widget <-> screen points with capture.coords, and nothing else
    bad = [(f, m) for f, m in imports("overlay") if top(m) == "capture" and m != "capture.coords"]
    assert bad == []


def test_daemon_imports_without_qt() -> None:
    code = (
        "import sys; sys.modules['PySide6'] = None\n"
        "import importlib, pkgutil, daemon, capture\n"
        "for pkg in (daemon, capture):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if not m.name.endswith('__main__'):\n"
        "            importlib.import_module(m.name)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
