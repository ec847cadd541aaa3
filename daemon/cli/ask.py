"""``driverseat ask "question" --option A --option B [--secret] [--timeout S]``: ask the
person at the desktop, wait for the answer, print it.

The question goes to the running daemon's overlay (``POST /v1/questions``); the answer is
printed on stdout (an option as ``N: text``, a typed answer or secret as it is, a spot
as ``x,y`` in the agent's pixels with the element under it, a takeover as its actions in
JSON); ``--json`` prints the whole question. Exit 0 when answered, 1 when it expired,
2 for a question the daemon refuses (with its sentence).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable

from pydantic import ValidationError

from daemon.cli.guard import nonnegative
from daemon.client import Client
from daemon.errors import ActionError
from daemon.errors import ServeExit as _Exit
from daemon.question import MAX_OPTIONS, Question, QuestionRequest
from daemon.validation import describe_validation_error

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
               url_arg: Callable[[argparse.ArgumentParser], None]) -> None:  # fmt: skip
    p = sub.add_parser(
        "ask",
        help="ask the person at the desktop a question and print the answer",
        description=textwrap.fill(
            "Put a question on the overlay (the screen freezes; options are numbered) and "
            "print the person's answer. Exits 0 when answered, 1 when nobody answered in time."
        ),
        # raw: the example on one line, as it is typed; single quotes, or the shell reads
        # "$500" as $5 then 00
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  driverseat ask 'Which flight?' --option 'economy $500' --option 'business $1,500'",
    )
    p.add_argument("question", help="what to ask")
    p.add_argument("--option", action="append", default=[], metavar="TEXT",
                   help=f"an answer to choose from (repeatable, at most {MAX_OPTIONS})")  # fmt: skip
    p.add_argument("--goal", help="the task this is for")
    p.add_argument("--stuck", help="where you are stuck, and why")
    p.add_argument("--secret", action="store_true",
                   help="the answer is a secret (a one-time code, a password): typed masked, never stored")  # fmt: skip
    p.add_argument("--timeout", type=nonnegative, default=300.0, metavar="S", help="seconds to wait (default 300)")
    p.add_argument("--json", action="store_true", help="print the whole question as JSON")
    url_arg(p)


def _shown(q: Question) -> str:
    a = q.answer
    assert a is not None
    if a.kind == "option":
        return f"{a.option}: {a.option_text}"
    if a.kind in ("text", "secret"):
        return a.text or ""
    if a.kind == "point" and a.point is not None:
        el = a.element
        named = f" ({el.role} {el.name!r})" if el is not None and el.role else ""
        return f"{a.point[0]},{a.point[1]}{named}"
    return json.dumps(list(a.actions))


def run(args: argparse.Namespace, client: Client) -> int:
    try:
        req = QuestionRequest(question=args.question, goal=args.goal, stuck=args.stuck,
                              options=[{"text": t} for t in args.option],
                              secret=args.secret, timeout=args.timeout)  # fmt: skip
    except ValidationError as exc:
        raise _Exit(f"not a question the daemon takes: {describe_validation_error(exc)[0]}", 2) from None
    with client as c:
        try:
            q = c.ask(req)
        except ActionError as exc:
            raise _Exit(f"the daemon refused the question: {exc}", 2) from None
    if args.json:
        print(json.dumps(q.model_dump(mode="json", exclude_none=True), indent=2))
    elif q.answer is not None:
        print(_shown(q))
    if q.status != "answered":
        print(f"driverseat: no answer: {q.detail or q.status}", file=sys.stderr)
        return 1
    return 0
