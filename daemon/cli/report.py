"""``driverseat report``: the readiness report (one self-contained HTML page)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.cli.guard import USAGE, count, nonnegative, output_problem
from daemon.errors import ServeExit

DB_NAME = "driverseat.db"


def _date(text: str) -> float:
    """An ISO date or date-time (UTC unless it names its zone) as epoch seconds."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-30 or 2026-11-30T14:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    from daemon.report.figures import Thresholds

    t = Thresholds()
    r = sub.add_parser(
        "report",
        help="write the readiness report: one self-contained HTML page",
        description="Interventions and corrections per 1,000 agent actions over time, review "
        "latency (waiting and deciding), outcomes by tier and rule, shadowing agreement, cost "
        "per correction, and the autonomy stage the figures support.",
    )
    r.add_argument("--out", type=Path, default=Path("report.html"), help="the page to write (default: report.html)")
    r.add_argument("--since", type=_date, metavar="DATE", help="only what happened from DATE on (UTC)")
    r.add_argument("--hourly-cost", type=nonnegative, metavar="MONEY", help="a reviewer's cost an hour")
    r.add_argument("--supervisor-at", type=nonnegative, default=t.supervisor_per_1000, metavar="N",
                   help=f"fixes per 1,000 actions at or below which the agent is a supervisor's "
                   f"(default {t.supervisor_per_1000:g})")  # fmt: skip
    r.add_argument("--auditor-at", type=nonnegative, default=t.auditor_per_1000, metavar="N",
                   help=f"... at or below which an auditor's (default {t.auditor_per_1000:g})")  # fmt: skip
    r.add_argument("--min-actions", type=count, default=t.min_actions, metavar="N",
                   help=f"agent actions needed to leave the learner stage (default {t.min_actions})")  # fmt: skip
    data_dir_arg(r)


def run(args: argparse.Namespace, data_dir: Path) -> int:
    from daemon.report.figures import Thresholds, gather, stage
    from daemon.report.page import render
    from daemon.store import Store

    db = data_dir / DB_NAME
    if not db.exists():
        raise ServeExit(f"no data: {db} does not exist (run `driverseat serve` first)", USAGE)
    if args.auditor_at > args.supervisor_at:
        raise ServeExit("--auditor-at must be at or below --supervisor-at", USAGE)
    if (problem := output_problem(args.out, folder=False)) is not None:
        raise ServeExit(f"cannot write the report to {args.out}: {problem}", USAGE)
    t = Thresholds(args.supervisor_at, args.auditor_at, args.min_actions)
    with Store(db) as store:
        figures = gather(store, args.since)
    page = render(figures, t, data_dir, args.hourly_cost)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(page, encoding="utf-8")
    except OSError as exc:  # a full disk, a read-only one: found only when writing
        raise ServeExit(f"could not write the report to {args.out}: {exc.strerror or exc}") from None
    name, _ = stage(figures, t)
    print(f"wrote {args.out}: {figures.actions} agent action(s), {figures.reviews} review(s), stage {name}")
    return 0
