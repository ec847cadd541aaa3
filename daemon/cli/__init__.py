"""``driverseat ...``: serve the daemon, print its token, talk to a running one.

Errors become one sentence on stderr and an exit code (daemon/cli/guard.py): 2 for bad
arguments or input (argparse's convention), 1 when the daemon cannot start or be reached.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from capture import CaptureError
from capture.input.keys import parse_combo
from daemon import jsontext
from daemon.address import ENV_URL, url_source
from daemon.auth import ENV_DATA_DIR, default_data_dir, load_or_create_token, read_token
from daemon.cli import guard, notifications
from daemon.cli.dialect_flags import add_dialect_flags
from daemon.cli.images import save_image, summarise_images
from daemon.client import DEFAULT_URL, Client
from daemon.control.intervention import DEFAULT_KILL_SWITCH
from daemon.errors import ActionError, AuthError
from daemon.errors import ServeExit as _Exit
from daemon.exchanges import json_kind

PROG = "driverseat"
_DISPLAY = re.compile(r"^[A-Za-z0-9_.\-/]*:\d+(\.\d+)?$")
_EXAMPLE = """'{"action": "click", "x": 10, "y": 20}'"""




# -- argument types: each raises ArgumentTypeError with the sentence argparse prints --------


def _display(text: str) -> str:
    if not _DISPLAY.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an X display name; expected one like :0 or :1"
        )
    return text


def _kill_switch(text: str) -> str:
    try:
        combo = parse_combo(text)
    except CaptureError as exc:
        raise argparse.ArgumentTypeError(
            f"{exc}; expected a key combo like {DEFAULT_KILL_SWITCH}"
        ) from None
    if len(combo.keysyms) < 2:
        raise argparse.ArgumentTypeError(
            f"{text!r} is a single key; a kill switch needs modifiers, like {DEFAULT_KILL_SWITCH}"
        )
    return text


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{2,5})x(\d{2,5})", text.strip())
    if not m or not all(64 <= int(v) <= 16384 for v in m.groups()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a screen size; expected WIDTHxHEIGHT like 1920x1080"
        )
    return int(m.group(1)), int(m.group(2))


def _agent_size(text: str) -> str:
    from capture.coords import parse_agent_size

    try:
        parse_agent_size(text)
    except CaptureError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or v < 0 or v > 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds between 0 and 3600")
    return v


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a TCP port (0-65535; 0 picks a free one)"
        )
    return int(text)


def _data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the token and the database live "
        f"(default: ${ENV_DATA_DIR} or {default_data_dir()})",
    )


def _url_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        default=None,
        help=f"the daemon's address (default: ${ENV_URL}, else the one `{PROG} serve` wrote "
        f"in the data dir, else {DEFAULT_URL})",
    )
    _data_dir_arg(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Keeps a person in the driver's seat of a computer-use AI agent: executes the "
        "agent's mouse and keyboard actions and yields at once when the person touches the real "
        "mouse or keyboard.",
        epilog=f"Start with `{PROG} serve`, then `{PROG} state` in another terminal.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser(
        "serve",
        help="run the daemon (HTTP API for agents)",
        description="Run the daemon on an X display: an HTTP/WebSocket API that executes agent "
        "actions and yields to the person. Stop it with Ctrl-C or SIGTERM; held keys are released.",
    )
    s.add_argument("--display", type=_display, help="X display to drive (default: $DISPLAY)")
    s.add_argument(
        "--virtual-display",
        type=_size,
        metavar="WxH",
        help="start a virtual X display (Xvfb) of this size and drive it, e.g. 1920x1080",
    )
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    s.add_argument("--port", type=_port, default=8765, help="port to listen on (default: 8765)")
    _data_dir_arg(s)
    s.add_argument(
        "--resume-after",
        type=_seconds,
        default=2.0,
        metavar="S",
        help="give control back to the agent after the person has been idle this many "
        "seconds (default: 2)",
    )
    s.add_argument(
        "--kill-switch",
        type=_kill_switch,
        default=DEFAULT_KILL_SWITCH,
        metavar="COMBO",
        help="hotkey that stops the agent until an explicit resume "
        f"(default: {DEFAULT_KILL_SWITCH})",
    )
    s.add_argument(
        "--agent-size",
        type=_agent_size,
        default=None,
        metavar="WxH|native",
        help="size of the screenshots the agent sees and of the coordinates it answers in "
        "(default: the largest of 1024x768, 1280x800, 1366x768 that keeps the monitor's "
        "aspect, never upscaled; 'native' = the monitor's own pixels)",
    )
    s.add_argument(
        "--monitor",
        type=guard.count,
        default=1,
        metavar="N",
        help="the monitor the agent works on: 1 = the primary, 2... the others left to right, "
        "0 = the whole desktop (default: 1)",
    )
    s.add_argument(
        "--policy",
        default=None,
        metavar="PATH|off",
        help="the policy that holds risky or low-confidence actions for a person (default: "
        "the shipped assets/policy.toml; 'off' lets every action through)",
    )
    s.add_argument(
        "--no-overlay",
        action="store_true",
        help="do not start the review overlay (reviews then wait for another reviewer client)",
    )
    add_dialect_flags(s)
    notifications.add_arguments(s)
    s.add_argument(
        "--view",
        action="store_true",
        help="serve the desktop to a browser at /view: a VNC server on the display (x11vnc, "
        f"unix socket only) behind noVNC and the token; `{PROG} view` prints the page's address "
        "(default with `make run` on a machine without a display; docs/liveview.md)",
    )

    from daemon.cli import shadowing

    shadowing.add_arguments(s)

    t = sub.add_parser(
        "token",
        help="print the API token (creating it if missing)",
        description="Print the bearer token clients send as 'Authorization: Bearer <token>'.",
    )
    _data_dir_arg(t)

    for name, what in (("state", "show who has control (agent, human or stopped)"),
                       ("stop", "stop the agent until `resume` (like the kill switch)"),
                       ("resume", "give control back to the agent")):  # fmt: skip
        _url_arg(sub.add_parser(name, help=what, description=what[0].upper() + what[1:] + "."))

    a = sub.add_parser(
        "act",
        help="execute one action and print its outcome",
        description="Send one canonical action (JSON) to the running daemon and print the outcome. "
        "Exits 0 if it was executed, 1 otherwise.",
        epilog=f"""example: {PROG} act '{{"action": "click", "x": 10, "y": 20}}'""",
    )
    a.add_argument(
        "action", help="""the action as JSON, e.g. '{"action": "type", "text": "hello"}'"""
    )
    a.add_argument(
        "--save",
        type=Path,
        metavar="FILE",
        help="write the outcome's image (its screenshot) to FILE; the output names it in one line",
    )
    a.add_argument(
        "--json",
        action="store_true",
        help="print the outcome exactly as the daemon sent it, images as base64 "
        "(default: each image is summarised, like '1366x768 PNG, 400 KB')",
    )
    _url_arg(a)
    v = sub.add_parser(
        "view",
        help="print the live view's address, token included (for `serve --view`)",
        description="Print the address of the running daemon's live view (/view) with the token "
        "in it: open it in a browser to watch the desktop, take over and answer reviews. "
        "The address is a secret: whoever opens it can drive this desktop.",
    )
    _url_arg(v)
    m = sub.add_parser(
        "mcp",
        help="serve the running daemon to an MCP client over stdin/stdout",
        description="Run a stdio MCP server with the tools `computer` (the input of "
        "Anthropic's computer tool), `state` and `ask_human` (a question to the person "
        "on the overlay), proxying to the running daemon; "
        "see docs/mcp.md for the client configuration.",
    )
    _url_arg(m)
    from daemon.cli import agreement, ask, locate, record, report, reviewers

    ask.add_parser(sub, _url_arg)
    locate.add_parser(sub)
    record.add_parsers(sub, _display, _data_dir_arg)
    report.add_parser(sub, _data_dir_arg)
    agreement.add_parser(sub, _data_dir_arg)
    reviewers.add_parsers(sub, _data_dir_arg)
    return parser


# -- commands ------------------------------------------------------------------------------


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir).expanduser() if args.data_dir is not None else default_data_dir()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _url(args: argparse.Namespace) -> str:
    return guard.check_url(*url_source(args.url, _data_dir(args)))


def _client(args: argparse.Namespace) -> Client:
    try:
        return Client(_url(args), read_token(_data_dir(args)))
    except AuthError as exc:
        raise _Exit(str(exc)) from None


def cmd_token(args: argparse.Namespace) -> int:
    print(load_or_create_token(_data_dir(args)))
    return 0


def cmd_control(args: argparse.Namespace) -> int:
    with _client(args) as c:
        call: Callable[[], dict[str, Any]] = {"state": c.state, "stop": c.stop, "resume": c.resume}[
            args.command
        ]
        _print_json(call())
    return 0


def cmd_act(args: argparse.Namespace) -> int:
    try:
        action = jsontext.parse(args.action)  # too deep or NaN: a ValueError too
    except ValueError as exc:
        raise _Exit(
            f"the action is not valid JSON ({exc}); quote it like {_EXAMPLE}",
            2,
        ) from None
    if not isinstance(action, dict):
        raise _Exit(f"the action must be a JSON object like {_EXAMPLE}, not {json_kind(action)}", 2)
    with _client(args) as c:
        try:
            outcome = c.act(action)
        except ActionError as exc:
            raise _Exit(f"the daemon refused the action, nothing was done: {exc}", 2) from None
    body = outcome.model_dump(mode="json", exclude_none=True)
    if args.save is not None:
        print(f"{PROG}: {save_image(body, args.save)}", file=sys.stderr)
    _print_json(body if args.json else summarise_images(body))
    return 0 if outcome.ok else 1


def cmd_ask(args: argparse.Namespace) -> int:
    from daemon.cli import ask

    return ask.run(args, _client(args))


def cmd_view(args: argparse.Namespace) -> int:
    import httpx

    url, token = _url(args), read_token(_data_dir(args))
    try:
        found = httpx.get(f"{url}/view", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    except httpx.HTTPError as exc:
        raise _Exit(f"no daemon answers at {url} ({exc}); start it with `{PROG} serve --view`") from None
    if found.status_code != 200:
        raise _Exit(
            f"the daemon at {url} serves no live view (HTTP {found.status_code}); "
            f"start it with `{PROG} serve --view`"
        )
    print(f"{url}/view?token={token}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from daemon.cli.serve import (
        serve,  # imported here: `driverseat state` should not pay for uvicorn
    )

    return serve(args, _data_dir(args))


def cmd_locate(args: argparse.Namespace) -> int:
    from daemon.cli import locate

    return locate.run(args)


def cmd_mcp(args: argparse.Namespace) -> int:
    from daemon.cli.mcp import run_mcp  # imported here: only this command needs it

    return run_mcp(_url(args), _data_dir(args))


def cmd_record(args: argparse.Namespace) -> int:
    from daemon.cli import record

    if args.command == "record":
        return record.run_record(args, _data_dir(args))
    return record.run_export(args, _data_dir(args))


def cmd_reviewers(args: argparse.Namespace) -> int:
    from daemon.cli import reviewers

    if args.command == "audit":
        return reviewers.run_audit(args, _data_dir(args))
    return reviewers.run_reviewer(args, _data_dir(args))


def cmd_agreement(args: argparse.Namespace) -> int:
    from daemon.cli import agreement

    return agreement.run(args, _data_dir(args))


def cmd_report(args: argparse.Namespace) -> int:
    from daemon.cli import report

    return report.run(args, _data_dir(args))


def main(argv: Sequence[str] | None = None) -> int:
    """The ``driverseat`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": cmd_serve, "token": cmd_token, "state": cmd_control, "stop": cmd_control,
        "resume": cmd_control, "act": cmd_act, "mcp": cmd_mcp, "locate": cmd_locate,
        "record": cmd_record, "export": cmd_record, "report": cmd_report, "agreement": cmd_agreement,
        "reviewer": cmd_reviewers, "audit": cmd_reviewers, "view": cmd_view, "ask": cmd_ask,
    }  # fmt: skip
    return guard.run(lambda: commands[args.command](args), lambda: _data_dir(args))


if __name__ == "__main__":
    sys.exit(main())
