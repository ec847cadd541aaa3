"""Print the mutation score of the last `mutmut run`: killed / total per module, survivors.

Reads mutmut's own result files (``mutants/<module path>.meta``) for every module listed in
``[tool.mutmut] only_mutate`` of pyproject.toml, and names each mutant that no test killed
(``mutmut show NAME`` prints its diff). Run from the repository root, after ``mutmut run``;
``make mutate`` does both. Exit status 0: the score is a report, not a gate.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py, status_by_exit_code): 1 and 3 are a failing test
KILLED = {1, 3}
STATUS = {
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "caught by type check",
    -9: "segfault",
    -11: "segfault",
    None: "not checked",
}


def _status(code: int | None) -> str:
    return "killed" if code in KILLED else STATUS.get(code, "suspicious")


def main(root: Path) -> int:
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mutmut"]
    modules: list[str] = config["only_mutate"]
    total_killed = total = 0
    rows: list[str] = []
    survivors: list[tuple[str, str]] = []
    for module in modules:
        meta = root / "mutants" / f"{module}.meta"
        if not meta.exists():
            rows.append(f"  {module}: not run")
            continue
        every: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        # a run limited by name (MUTANTS=...) leaves the other mutants unchecked
        codes = {k: c for k, c in every.items() if c is not None}
        if not codes:
            rows.append(f"  {module}: not run")
            continue
        counts = Counter(_status(c) for c in codes.values())
        killed, n = counts.pop("killed", 0), len(codes)
        total_killed, total = total_killed + killed, total + n
        others = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        pct = f"{100 * killed / n:.1f}%" if n else "-"
        rows.append(f"  {module}: killed {killed} / {n} ({pct}){'; ' + others if others else ''}")
        survivors += [(name, _status(c)) for name, c in sorted(codes.items()) if c not in KILLED]
    print("mutation score (killed / total):")
    print("\n".join(rows))
    if total:
        print(f"  all: killed {total_killed} / {total} ({100 * total_killed / total:.1f}%)")
    if survivors:
        print(f"not killed ({len(survivors)}; `.venv/bin/mutmut show NAME` prints the diff):")
        for name, status in survivors:
            print(f"  {status:12} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path.cwd()))
