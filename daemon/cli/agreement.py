"""``driverseat agreement``: how often the agent, commenting while it watched, would have
done what the person did (per recorded session; ``GET /v1/shadow/agreement`` serves the same)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.errors import ServeExit

DB_NAME = "driverseat.db"


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    a = sub.add_parser(
        "agreement",
        help="the agent's agreement with the person during shadowing, per session",
        description="Per recorded session: the person's actions, how many the agent commented "
        "on, how many of its predictions were scored, and the share that agreed with what the "
        "person did (clicks inside the element clicked or within 14 % of the screen, typed text "
        "at 0.8 similarity, the same keys, the same scroll direction).",
    )
    a.add_argument("--session", metavar="NAME", help="one session (default: every session)")
    a.add_argument("--json", action="store_true", help="one JSON object per session")
    data_dir_arg(a)


def run(args: argparse.Namespace, data_dir: Path) -> int:
    from daemon.commentary import CommentaryStore
    from daemon.store import Store

    db = data_dir / DB_NAME
    if not db.exists():
        raise ServeExit(f"nothing recorded: {db} does not exist (record with `driverseat serve --shadow`)", 2)
    with Store(db) as store:
        found = CommentaryStore(store).agreement(args.session)
    if args.session is not None and not found:
        raise ServeExit(f"no recorded session {args.session!r}", 2)
    for a in found:
        if args.json:
            print(json.dumps(a.as_json()))
            continue
        rate = "no scored prediction" if a.rate is None else f"{100 * a.rate:.1f} % agreement"
        print(f"{a.session}: {rate} ({a.agreed} of {a.scored} scored; {a.commented} of the "
              f"person's {a.actions} action(s) commented on)")  # fmt: skip
    if not found:
        print("no recorded session")
    return 0
