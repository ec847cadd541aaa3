"""``driverseat reviewer add|list|remove`` and ``driverseat audit``: who may decide, and who did.

These open the daemon's database directly (like ``export``), so they work whether or not
the daemon runs: SQLite in WAL mode lets both write, and the daemon looks a token up on
every request, so a reviewer added or removed takes effect at once.

``reviewer add`` prints the new token alone on stdout (``TOKEN=$(driverseat reviewer add
...)``) and says the rest on stderr; it is the only time the token exists in clear.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from daemon.auth import ensure_data_dir
from daemon.cli.guard import USAGE
from daemon.errors import ServeExit
from daemon.outcomes import Verdict

__all__ = ["add_parsers", "run_audit", "run_reviewer"]

DB_NAME = "driverseat.db"
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _since(text: str) -> float:
    """``2026-12-01``, ``2026-12-01T16:00`` (local time unless it names a zone, like ``Z``)
    or a span back from now: ``30m``, ``2h``, ``7d``."""
    ago = _AGO.match(text.strip())
    if ago:
        return time.time() - float(ago[1]) * _UNIT_S[ago[2]]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; expected one like 2026-12-01, 2026-12-01T16:00Z or 2h"
        ) from None
    return when.timestamp()


def add_parsers(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    r = sub.add_parser(
        "reviewer",
        help="add, list or remove reviewers (identities with roles and their own token)",
        description="Reviewers decide reviews over HTTP with their own token, which opens the "
        "review routes only; their decisions are attributed to them and their roles count "
        "for a rule's approve_by.",
    )
    rsub = r.add_subparsers(dest="reviewer_command", metavar="ACTION", required=True)
    add = rsub.add_parser(
        "add", help="create a reviewer and print its token (once)",
        description="Create a reviewer with a name and roles. Its token is printed alone on "
        "stdout, this once (TOKEN=$(driverseat reviewer add alice)); it opens the review "
        "routes only.",
    )
    add.add_argument("name", help="the reviewer's name, e.g. alice")
    add.add_argument("--role", action="append", default=[], metavar="ROLE",
                     help="a role the reviewer holds (repeat for several), e.g. finance")  # fmt: skip
    data_dir_arg(add)
    ls = rsub.add_parser(
        "list", help="list the reviewers and their roles (never a token)",
        description="List the reviewers: name, roles, when added, id. Tokens are never shown.",
    )
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    data_dir_arg(ls)
    sc = rsub.add_parser(
        "score", help="attention figures: test reviews caught, unread approvals, streak, score",
        description="Each reviewer's attention score and its signals (docs/reviewers.md).",
    )
    sc.add_argument("name", nargs="?", default=None, help="one reviewer (a name, or a local user@host)")
    sc.add_argument("--json", action="store_true", help="one JSON object per line")
    data_dir_arg(sc)
    rm = rsub.add_parser(
        "remove", help="remove a reviewer: its token stops working at once",
        description="Remove a reviewer; its token stops working at once, even while the "
        "daemon runs. Its past decisions stay in the audit, under its name.",
    )
    rm.add_argument("name", help="the reviewer's name, as `driverseat reviewer list` shows it")
    data_dir_arg(rm)

    a = sub.add_parser(
        "audit",
        help="list review decisions: who, with which role, when, how fast",
        description="List decisions oldest first, as a table or JSON lines (--json).",
    )
    a.add_argument("--since", type=_since, default=None, metavar="DATE",
                   help="only decisions from then on: 2026-12-01, 2026-12-01T16:00Z, or 2h, 7d")  # fmt: skip
    a.add_argument("--reviewer", default=None, metavar="NAME",
                   help="only this reviewer's decisions ('local': the desktop overlay's)")  # fmt: skip
    a.add_argument("--verdict", choices=get_args(Verdict), default=None)
    a.add_argument("--json", action="store_true", help="one JSON object per line")
    data_dir_arg(a)


def run_reviewer(args: argparse.Namespace, data_dir: Path) -> int:
    from daemon.reviewers import ReviewerError, Reviewers
    from daemon.store import Store

    if args.reviewer_command == "score":
        return _score(args, data_dir)
    if args.reviewer_command == "add":
        ensure_data_dir(data_dir)  # 0700: the database says who may approve what
    elif not (data_dir / DB_NAME).exists():
        if args.reviewer_command == "remove":
            raise ServeExit(f"no reviewer named {args.name!r}: {data_dir / DB_NAME} does not exist", USAGE)
        _list([], args.json)  # nobody yet
        return 0
    with Store(data_dir / DB_NAME) as store:
        reviewers = Reviewers(store)
        try:
            if args.reviewer_command == "add":
                who, token = reviewers.add(args.name, args.role)
                roles = ", ".join(who.roles) or "none"
                print(
                    f"reviewer {who.name!r} added (id {who.id}, roles: {roles}); its token is on "
                    "stdout, shown this once: give it to the reviewer, it cannot be shown again",
                    file=sys.stderr,
                )
                print(token, flush=True)
            elif args.reviewer_command == "remove":
                who = reviewers.remove(args.name)
                print(f"reviewer {who.name!r} removed; its token no longer works", file=sys.stderr)
            else:
                _list(reviewers.list(), args.json)
        except ReviewerError as exc:  # a bad or taken name, an unknown one
            raise ServeExit(str(exc), USAGE) from None
    return 0


def _score(args: argparse.Namespace, data_dir: Path) -> int:
    from daemon.attention import attention, decided, reviewers_seen
    from daemon.store import Store

    db = data_dir / DB_NAME
    if not db.exists():
        raise ServeExit(f"no decisions: {db} does not exist (start the daemon with `driverseat serve`)", USAGE)
    now = time.time()
    with Store(db) as store:
        seen = reviewers_seen(store)
        if args.name is not None:
            seen = [s for s in seen if args.name in (s[0], s[2])]
            if not seen:
                raise ServeExit(f"no decisions by {args.name!r} (`driverseat audit` lists who decided)", 2)
        found = [attention(label, decided(store, rid, name), now).as_json() for rid, name, label in seen]
    if args.json:
        for row in found:
            print(json.dumps(row))
        return 0
    rows = [
        (
            r["reviewer"], "-" if r["score"] is None else f"{r['score']:g}",
            f"{r['honeypots']['caught']}/{r['honeypots']['shown']}",
            f"{r['unread_approvals']}/{r['approvals_timed']}", str(r["streak"]),
            "-" if r["median_decision_ms"] is None else f"{r['median_decision_ms'] / 1000:.1f} s",
            f"{r['on_duty_s'] / 3600:.1f} h", str(r["decisions"]),
        )
        for r in found
    ]  # fmt: skip
    _table(("REVIEWER", "SCORE", "TESTS CAUGHT", "UNREAD APPROVALS", "STREAK", "MEDIAN DECISION",
            "ON DUTY", "DECISIONS"), rows)  # fmt: skip
    return 0


def _list(found: list[Any], as_json: bool) -> None:
    if as_json:
        for who in found:
            print(json.dumps(who.as_json()))
        return
    if not found:
        print("no reviewers yet: only the desktop overlay (and the daemon's token) can decide "
              "reviews; add one with `driverseat reviewer add NAME --role ROLE`")  # fmt: skip
        return
    rows = [(w.name, ", ".join(w.roles) or "-", _when(w.created), w.id) for w in found]
    _table(("NAME", "ROLES", "ADDED", "ID"), rows)


def run_audit(args: argparse.Namespace, data_dir: Path) -> int:
    from daemon.reviewers import audit
    from daemon.store import Store

    db = data_dir / DB_NAME
    if not db.exists():
        raise ServeExit(f"no decisions: {db} does not exist (start the daemon with `driverseat serve`)", USAGE)
    with Store(db) as store:
        found = audit(store, since=args.since, reviewer=args.reviewer, verdict=args.verdict)
    if args.json:
        for row in found:
            print(json.dumps(row))
        return 0
    rows = [
        (
            _when(r["at"]), r["reviewer"], ", ".join(r["roles"]) or "-", r["verdict"],
            "-" if r["latency_ms"] is None else f"{r['latency_ms'] / 1000:.1f} s",
            r["rule"], r["tier"], str(r["kind"]), r["review_id"][:8],
            _clip(r["rationale"] or ""),
        )
        for r in found
    ]  # fmt: skip
    headers = ("TIME (UTC)", "REVIEWER", "ROLES", "VERDICT", "LATENCY", "RULE", "TIER", "KIND",
               "REVIEW", "RATIONALE")  # fmt: skip
    _table(headers, rows)
    return 0


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _clip(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for line in (headers, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
