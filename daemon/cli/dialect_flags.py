"""``serve``'s options for the vendor dialects: the screenshot after an action and its
settle delay (docs/dialects.md). Apart from the parser so that ``driverseat state``
imports nothing of the API to read them."""

from __future__ import annotations

import argparse

__all__ = ["add_dialect_flags", "dialect_options"]

DEFAULT_SETTLE_MS = 500  # daemon.api.dialect_shapes.DEFAULT_SETTLE_MS, which a test compares
MAX_SETTLE_MS = 10_000


def _settle_ms(text: str) -> int:
    try:
        ms = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole milliseconds, got {text!r}") from None
    if not 0 <= ms <= MAX_SETTLE_MS:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_SETTLE_MS} ms, got {ms}")
    return ms


def add_dialect_flags(parser: argparse.ArgumentParser) -> None:
    """``--screenshot-after/--no-screenshot-after`` and ``--settle-ms``."""
    parser.add_argument(
        "--screenshot-after",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="answer every Anthropic action with a fresh screenshot, as Anthropic's reference "
        "computer tool does (default: on)",
    )
    parser.add_argument(
        "--settle-ms",
        type=_settle_ms,
        default=DEFAULT_SETTLE_MS,
        metavar="MS",
        help="wait this long for the screen to settle before that screenshot and before an "
        f"OpenAI computer_call_output's (default: {DEFAULT_SETTLE_MS}; the reference tool waits 2000)",
    )


def dialect_options(args: argparse.Namespace) -> tuple[bool, int]:
    """(screenshot_after, settle_ms) as parsed."""
    return bool(getattr(args, "screenshot_after", True)), int(getattr(args, "settle_ms", DEFAULT_SETTLE_MS))
