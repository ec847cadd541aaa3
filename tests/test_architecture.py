"""The house plan's arrows (docs/architecture.md): capture is a leaf, Qt lives only in
overlay/, the rooms inside daemon/ point one way, and no module imports another in a circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The rooms of daemon/ and the rooms each may import (besides the wire modules, which
# every room may import, and capture). Top-level modules not listed here are the wire.
ROOMS: dict[str, set[str]] = {
    "adapters": set(),
    "control": set(),
    "review": set(),
    "ask": {"shadow"},  # a takeover's actions as canonical ones (shadow.convert)
    "service": {"control", "review", "ask"},
    "api": {"service", "adapters", "review", "ask"},
    "shadow": set(),
    "report": set(),
    "notify": set(),
    "cli": {"api", "service", "control", "review", "adapters", "shadow", "report", "notify", "ask"},
}
WIRE = {"actions", "errors", "validation", "store", "shadow_store", "commentary", "reviewers", "auth",
        "events", "client", "address", "arrivals", "outcomes", "timings", "honeypot_store",
        "attention", "question", "question_store", "candidates", "recording", "orphans",
        "http11", "exchanges", "jsonsplice", "jsontext"}  # fmt: skip


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(package: str) -> list[tuple[str, str]]:
    """(module, imported module) for every import under ``package``, lazy ones included,
    those under ``if TYPE_CHECKING`` excluded (they never run)."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        skip = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _type_checking_only(block)
                for n in ast.walk(block)}  # fmt: skip
        me = _module(path)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                found += [(me, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((me, node.module))
                # ``from daemon.api import routes_x`` imports the module daemon.api.routes_x
                found += [(me, f"{node.module}.{a.name}") for a in node.names
                          if (ROOT / Path(*node.module.split("."), f"{a.name}.py")).exists()]  # fmt: skip
    return found


def top(name: str) -> str:
    return name.split(".")[0]


def room(module: str) -> str | None:
    """The room of a ``daemon.*`` module: its sub-package, or ``service``; None for the wire."""
    parts = module.split(".")
    if parts[0] != "daemon" or len(parts) < 2:
        return None
    return None if parts[1] in WIRE else parts[1]


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


def test_every_daemon_module_is_in_a_room_or_the_wire() -> None:
    tops = {p.stem if p.suffix else p.name for p in (ROOT / "daemon").iterdir()
            if p.name != "__pycache__" and not p.name.endswith(".typed")}  # fmt: skip
    assert tops - {"__init__"} == set(ROOMS) | WIRE


def test_rooms_inside_the_daemon_point_one_way() -> None:
    bad = []
    for src, dst in imports("daemon"):
        a, b = room(src), room(dst)
        if top(dst) != "daemon" or b is None or a == b:
            continue
        if a is None:
            bad.append((src, dst, "the wire imports no room"))
        elif b not in ROOMS[a]:
            bad.append((src, dst, f"{a} may import {sorted(ROOMS[a]) or 'no other room'}"))
    assert bad == []


def test_only_the_api_imports_fastapi() -> None:
    bad = [(f, m) for f, m in imports("daemon")
           if top(m) in {"fastapi", "starlette", "uvicorn"} and room(f) not in ("api", "cli")]  # fmt: skip
    # the CLI only reaches uvicorn through daemon.api (serve); nothing else imports the web stack
    assert [(f, m) for f, m in bad] == []
    assert [(f, m) for f, m in imports("daemon/cli") if top(m) in {"fastapi", "starlette", "uvicorn"}] == []


def test_no_module_imports_another_in_a_circle() -> None:
    modules = {_module(p) for pkg in ("daemon", "capture", "overlay") for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for pkg in ("daemon", "capture", "overlay"):
        for src, dst in imports(pkg):
            if dst in modules and dst != src and not src.startswith(dst + "."):
                graph[src].add(dst)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append([*stack[stack.index(n):], n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == []


def test_overlay_uses_only_the_daemons_wire_surface() -> None:
    allowed = {"daemon.client", "daemon.address", "daemon.actions", "daemon.outcomes", "daemon.errors",
               "daemon.question", "daemon.candidates", "daemon"}  # fmt: skip
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
