"""``driverseat record`` and ``driverseat export``: shadow the person, export what was recorded.

``record`` runs until Ctrl-C or SIGTERM (both graceful: the pending actions are flushed,
the last frame stored), then prints one summary line and exits 0. Its first line on
stderr, ``recording session ...``, says it is observing (tests wait for it).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from capture import CaptureError
from capture.input.keys import parse_combo
from daemon.cli.guard import USAGE, output_problem
from daemon.errors import ServeExit

DB_NAME = "driverseat.db"
FRAMES_DIR = "shadow-frames"
DEFAULT_PAUSE = "ctrl+alt+p"


def _combo(text: str) -> str:
    try:
        combo = parse_combo(text)
    except CaptureError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; expected a key combo like {DEFAULT_PAUSE}") from None
    if len(combo.keysyms) < 2:
        raise argparse.ArgumentTypeError(f"{text!r} is a single key; the pause hotkey needs modifiers")
    return text


def _pattern(text: str) -> str:
    from daemon.shadow.privacy import title_pattern

    try:
        return title_pattern(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub: Any, display: Callable[[str], str], data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    r = sub.add_parser(
        "record",
        help="record the person's actions and frames (shadowing) until Ctrl-C",
        description="Record what the person does on an X display as the actions an agent would "
        "issue (clicks, drags, scrolls, typed text, key combos), with the frame before each "
        "action and the window title. Only the person's input: the agent's own events never "
        "appear. Stop with Ctrl-C or SIGTERM; prints one summary line.",
    )
    r.add_argument("--session", default=None, metavar="NAME",
                   help="the session to record into (default: record-<date>-<time>); "
                   "recording into an existing session appends to it")  # fmt: skip
    r.add_argument("--display", type=display, help="X display to record (default: $DISPLAY)")
    r.add_argument("--pause-hotkey", type=_combo, default=DEFAULT_PAUSE, metavar="COMBO",
                   help=f"hotkey that pauses and resumes recording (default: {DEFAULT_PAUSE})")  # fmt: skip
    r.add_argument("--private-title", action="append", default=[], metavar="REGEX", type=_pattern,
                   help="a window title that pauses recording while its window is active "
                   "(repeatable; added to the default list of password managers and private "
                   "browsing windows, docs/shadowing.md)")  # fmt: skip
    data_dir_arg(r)

    e = sub.add_parser(
        "export",
        help="export recorded sessions as a training dataset",
        description="Export training data as a Hugging Face imagefolder dataset "
        "(train/metadata.jsonl and the frames). trajectory: one row per recorded action; "
        "sft: one instruction example (goal, history, frame -> action) per action of the "
        "person's, in TRL's conversational vision layout; preference: one DPO pair per "
        "corrected or edited review and per pair a pick or ranking of candidates prefers "
        "(prompt, chosen, rejected, images), not per session.",
    )
    which = e.add_mutually_exclusive_group()
    which.add_argument("--session", action="append", metavar="NAME", help="a session to export (repeatable)")
    which.add_argument("--all", action="store_true", help="every recorded session")
    e.add_argument("--format", choices=["trajectory", "sft", "preference"], default="trajectory",
                   help="the dataset's layout, as above (default: trajectory)")  # fmt: skip
    e.add_argument("--goal", metavar="TEXT", help="sft: the goal in every prompt (default: the session's name)")
    e.add_argument("--approvals", action="store_true",
                   help="sft: also one row per approved review (the agent's action a person "
                   "confirmed); then --session/--all are optional")  # fmt: skip
    e.add_argument("--questions", action="store_true",
                   help="sft: also one row per question of the agent's whose answer was an action "
                   "(an option's, a point clicked, a takeover's first); then --session/--all are "
                   "optional")  # fmt: skip
    e.add_argument("--out", type=Path, required=True, metavar="DIR", help="the dataset folder to write")
    data_dir_arg(e)


def run_record(args: argparse.Namespace, data_dir: Path) -> int:
    from capture.recorder import Settings
    from capture.recorder.xsettings import desktop_settings
    from daemon.cli.memory import tune_malloc
    from daemon.shadow.privacy import DEFAULT_PRIVATE_TITLES, PrivateTitles
    from daemon.shadow.session import Recording
    from daemon.store import Store

    display = args.display or os.environ.get("DISPLAY", "")
    if not display:
        raise ServeExit("no X display: DISPLAY is not set; use --display :N")
    name = args.session or time.strftime("record-%Y%m%d-%H%M%S")
    tune_malloc()  # a recording frees a frame's buffers all day: give them back (daemon/cli/memory.py)
    stop = threading.Event()
    handlers: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        handlers[sig] = signal.signal(sig, on_signal)
    try:
        with Store(data_dir / DB_NAME) as store:
            settings = Settings(pause_hotkey=args.pause_hotkey, **desktop_settings(display))
            titles = PrivateTitles((*DEFAULT_PRIVATE_TITLES, *args.private_title))
            rec = Recording(store, data_dir / FRAMES_DIR, display=display, session=name,
                            settings=settings, private_titles=titles)  # fmt: skip
            rec.start()
            print(
                f"recording session {name!r} on {display}: Ctrl-C stops, "
                f"{args.pause_hotkey} pauses (double click {settings.double_click_s:g} s, "
                f"drag threshold {settings.drag_threshold} px)",
                file=sys.stderr,
                flush=True,
            )
            try:
                while not stop.wait(0.5):
                    if rec.failure is not None or rec.input_failure is not None:
                        break
            finally:
                summary = rec.stop()
            failure = rec.failure or rec.input_failure
            print(summary.line(), flush=True)
            if failure is not None:
                print(f"driverseat: the recorder stopped: {failure!r}", file=sys.stderr)
                return 1
            return 0
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)


def run_export(args: argparse.Namespace, data_dir: Path) -> int:
    from daemon.shadow.export import ExportError, export_trajectory
    from daemon.shadow.preference import export_preference
    from daemon.shadow.sft import export_sft
    from daemon.store import Store

    db = data_dir / DB_NAME
    if not db.exists():
        raise ServeExit(f"nothing recorded: {db} does not exist (record with `driverseat record`)", USAGE)
    if args.format == "preference" and (args.session or args.all):
        raise ServeExit("--format preference exports every corrected or edited review; it takes no --session/--all", USAGE)
    approvals = args.format == "sft" and args.approvals
    questions = args.format == "sft" and args.questions
    if args.questions and args.format != "sft":
        raise ServeExit("--questions goes with --format sft", USAGE)
    if args.format != "preference" and not (args.session or args.all or approvals or questions):
        raise ServeExit(f"--format {args.format} needs --session NAME or --all", USAGE)
    if (problem := output_problem(args.out, folder=True)) is not None:
        raise ServeExit(f"cannot write the dataset to {args.out}: {problem}", USAGE)
    bar = sys.stderr.isatty()
    sessions = None if args.all else (args.session or [])
    with Store(db) as store:
        try:
            if args.format == "trajectory":
                print(export_trajectory(store, data_dir, sessions, args.out, progress=bar).line())
                return 0
            if args.format == "sft":
                done = export_sft(store, data_dir, sessions, args.out, goal=args.goal,
                                  approvals=approvals, questions=questions, progress=bar)  # fmt: skip
                what = "instruction example(s)"
            else:
                done = export_preference(store, data_dir, args.out, progress=bar)
                what = "preference pair(s)"
        except (ExportError, LookupError) as exc:  # nothing to export, an unknown session
            raise ServeExit(str(exc), USAGE) from None
        except OSError as exc:  # a full disk, a read-only one: found only when writing
            raise ServeExit(f"could not write the dataset to {args.out}: {exc.strerror or exc}") from None
    lost = f"; {done.skipped} left out, their frames gone" if done.skipped else ""
    lost += f"; {done.foreign} action(s) of another injector (origin foreign) left out" if done.foreign else ""
    lost += f"; removed {done.pruned} frame(s) of an earlier export there" if done.pruned else ""
    print(f"exported {done.rows} {what} and {done.frames} frame(s) ({done.bytes / 1e6:.2f} MB) to {args.out}{lost}")
    return 0
