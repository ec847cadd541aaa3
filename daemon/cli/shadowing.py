"""``serve --shadow`` and ``serve --demonstrations``: a recording inside the daemon.

The recording (daemon.shadow.session) takes the person's input from the daemon's own
observer (daemon.shadow.inside), publishes each stored action on ``WS /v1/events`` as a
``shadow_action`` message (the frame as a path to GET with the token), and turns every
takeover into a demonstration on the outcome after the resume (daemon.shadow.demos).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.control.runtime import Runtime
    from daemon.service import Daemon

__all__ = ["add_arguments", "shadowing"]

FRAMES_DIR = "shadow-frames"  # as `driverseat record` (daemon/cli/record.py)


def _pattern(text: str) -> str:
    from daemon.shadow.privacy import title_pattern

    try:
        return title_pattern(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--shadow", nargs="?", const="", default=None, metavar="SESSION",
        help="record what the person does (shadowing) into SESSION (default: shadow-<date>-<time>): "
        "each action goes to WS /v1/events for an agent to comment on (POST /v1/shadow/commentary), "
        "and each takeover is a demonstration on the outcome after the resume",
    )  # fmt: skip
    s.add_argument(
        "--no-demonstrations", dest="demonstrations", action="store_false",
        help="do not record takeovers: by default the person's actions during each takeover "
        "are stored (session 'takeovers') and come back as a demonstration on the outcome "
        "after the resume",
    )  # fmt: skip
    s.add_argument("--demonstrations", action="store_true", help=argparse.SUPPRESS)  # the default
    s.set_defaults(demonstrations=True)
    s.add_argument(
        "--private-title", action="append", default=[], metavar="REGEX", type=_pattern,
        help="a window title that pauses the recording while active (repeatable; added to the "
        "default list of password managers and private browsing windows)",
    )  # fmt: skip


@contextlib.contextmanager
def _recording(rec: Any) -> Iterator[None]:
    rec.start()
    try:
        yield
    finally:
        rec.stop()


def shadowing(
    args: argparse.Namespace, runtime: Runtime, daemon: Daemon, data_dir: Path, display: str, stack: ExitStack
) -> str | None:
    """Start recording if asked; returns the line serve prints about it (None: not asked)."""
    if args.shadow is None and not args.demonstrations:
        return None
    from capture.recorder import Settings
    from capture.recorder.xsettings import desktop_settings
    from daemon.shadow.demos import FRAME_PATH, Demonstrations
    from daemon.shadow.inside import DaemonDesktop
    from daemon.shadow.privacy import DEFAULT_PRIVATE_TITLES, PrivateTitles
    from daemon.shadow.session import Recording

    if not display or runtime.backend.name != "xorg":
        return "not recording: shadowing needs an X11 display"
    only_takeovers = args.shadow is None
    name = "takeovers" if only_takeovers else (args.shadow or time.strftime("shadow-%Y%m%d-%H%M%S"))
    intervention = runtime.intervention

    def keep() -> bool:
        return not only_takeovers or intervention.state != "agent"

    def desktop(on_event: Any) -> DaemonDesktop:
        return DaemonDesktop(runtime.backend, display, intervention.taps, on_event, keep=keep)

    rec = Recording(
        daemon.store, data_dir / FRAMES_DIR, display=display, session=name, desktop=desktop,
        settings=Settings(**desktop_settings(display)),
        private_titles=PrivateTitles((*DEFAULT_PRIVATE_TITLES, *args.private_title)),
    )  # fmt: skip
    scaling = runtime.view.scaling

    def to_agent(x: int, y: int) -> tuple[int, int]:
        p = scaling.to_agent(x, y)
        return p.x, p.y

    demos = Demonstrations(daemon.store, rec.info.id, name, rec.flush_now, to_agent)

    def on_action(row: dict[str, Any]) -> None:
        demos.on_action(row)
        daemon.hub.publish({
            "type": "shadow_action", "session": row["session"], "action_id": row["id"],
            "seq": row["seq"], "at": row["started"], "ended": row["ended"], "action": row["action"],
            "origin": row["origin"], "window": row["window"], "element": row["element"],
            "screen": row["screen"], "frame": None if row["frame"] is None else FRAME_PATH + row["frame"],
        })  # fmt: skip

    rec.on_action = on_action
    intervention.listeners.append(demos.on_control)
    daemon.decorate = demos.decorate
    stack.enter_context(_recording(rec))
    what = "takeovers only" if only_takeovers else "everything the person does"
    return f"recording {what} into session {name!r} (frames in {data_dir / FRAMES_DIR})"
