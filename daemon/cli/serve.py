"""``driverseat serve``: one desktop's daemon, from arguments to a running server.

Opens (or starts) the display, the store and the token; builds the agent's view, the
runtime, the policy gate and the API; starts the overlay child; serves until SIGINT or
SIGTERM, then halts the executor and releases every key and button it holds.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import os
import socket
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from capture import CaptureError
from capture.input import backend_name
from daemon.address import forget_url, publish_url
from daemon.auth import load_or_create_token, token_path
from daemon.cli.dialect_flags import dialect_options
from daemon.errors import ActionError, ServeExit

if TYPE_CHECKING:
    from daemon.api.routes_view import LiveView
    from daemon.ask.desk import QuestionDesk
    from daemon.control.runtime import Runtime
    from daemon.control.view import AgentView
    from daemon.review.gate import Gate
    from daemon.review.policy import Policy
    from daemon.store import Store

PROG = "driverseat"
_Exit = ServeExit


@contextmanager
def _opened_display(args: argparse.Namespace) -> Iterator[str]:
    """The display to drive: --display, $DISPLAY, or a virtual one started here."""
    if args.virtual_display is not None:
        if args.display:
            raise _Exit("give --display or --virtual-display, not both", 2)
        from capture.xvfb import VirtualDisplay

        w, h = args.virtual_display
        from capture.a11y.bus import SessionBuses

        with VirtualDisplay(w, h, own_session=True) as vd:  # Ctrl+C stops us, then it
            why = "" if os.environ.get("DISPLAY") else "no DISPLAY: "
            print(f"{why}started a virtual display {vd.name} ({w}x{h})", file=sys.stderr)
            # what a desktop session would start: applications on this display then
            # expose their elements (corrections name them) and notifications have a bus
            with SessionBuses(vd.name) as buses:
                if buses.address is not None:
                    os.environ.setdefault("DBUS_SESSION_BUS_ADDRESS", buses.address)
                    print(f"started a session bus and the accessibility bus on {vd.name}", file=sys.stderr)
                else:
                    print(f"no accessibility bus on {vd.name}: {buses.why}", file=sys.stderr)
                yield vd.name
        return
    name = args.display or os.environ.get("DISPLAY", "")
    if not name and backend_name() != "xorg":
        yield ""  # not X11: the backend chooser says what this platform needs
        return
    if not name:
        raise _Exit(
            "no X display: DISPLAY is not set; use --display :N, or --virtual-display 1920x1080 "
            "to start a virtual one"
        )
    yield name


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY on accepted sockets only when
    # their proto says TCP, and without it every response after the first on a kept
    # connection waits ~40 ms (Nagle's algorithm meets the client's delayed ACK: the
    # headers and the body go out in two writes)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _Exit(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(is another driverseat running?)"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _agent_view(display: str | None, monitor: int, spec: str | None) -> AgentView:
    """The agent's monitor and size, read from the screen once at start."""
    from capture.screen import Screen
    from daemon.control.view import AgentView

    with Screen(display) as scr:
        monitors = scr.monitors()
    if not 0 <= monitor < len(monitors):
        raise _Exit(
            f"there is no monitor {monitor}: this desktop has monitors 1 to {len(monitors) - 1} "
            "(0 is the whole desktop)",
            2,
        )
    try:
        return AgentView.for_monitor(monitors[monitor], monitor, spec)
    except ActionError as exc:
        raise _Exit(f"bad --agent-size: {exc}", 2) from None


def _policy(spec: str | None) -> Policy | None:
    """The policy ``--policy`` names (None for ``off``): read before anything is opened, so
    a bad file is reported at once, display or not."""
    from daemon.review.policy import PolicyError
    from daemon.review.policy_file import default_policy, load_policy

    if spec == "off":
        return None
    try:
        return load_policy(spec) if spec else default_policy()
    except PolicyError as exc:
        raise _Exit(f"bad policy: {exc}", 2) from None


def _gate(
    policy: Policy, runtime: Runtime, store: Store, data_dir: Path, display: str | None, stack: ExitStack
) -> tuple[Gate, QuestionDesk]:
    """The policy gate and the question desk: reviews and questions beside the database,
    frozen frames of the agent's monitor at screen resolution, the active window's title
    for rules that name one, and the accessibility tree to name a correction's elements
    and a question's answered spot (never the overlay: our child)."""
    from capture.a11y import A11y
    from capture.windows import WindowTitles
    from daemon.control.screenshots import ScreenGrabber
    from daemon.review.gate import Gate
    from daemon.review.queue import ReviewQueue

    view = runtime.view
    frames = stack.enter_context(contextlib.closing(ScreenGrabber(display, view.monitor, None, "screen")))
    titles = stack.enter_context(contextlib.closing(WindowTitles(display)))
    a11y = stack.enter_context(A11y(ignore_children=True, display=display))
    queue = ReviewQueue(store, data_dir / "frames")
    gate = Gate(policy, queue, view.scaling, grab_frame=frames.png, window_title=titles.active,
                element_at=a11y.element_at)  # fmt: skip
    # questions freeze the same frames and name the same elements (daemon/ask)
    from daemon.ask.desk import QuestionDesk

    desk = QuestionDesk(store, data_dir / "frames", view.scaling, grab_frame=frames.png,
                        element_at=a11y.element_at, keysym_of=runtime.backend.keysym_of,
                        pointer_of=runtime.backend.pointer_of)  # fmt: skip
    return gate, desk


@contextmanager
def _overlay_watch(runtime: Runtime, display: str) -> Iterator[None]:
    """Watch the overlay's windows on ``display`` (any overlay: our child or one started
    apart): approved actions wait for them to go, and input on them is review input."""
    from daemon.control.clearance import NoOverlay, OverlayClearance

    try:
        watch = OverlayClearance(display, runtime.backend.window_of)
    except CaptureError as exc:
        raise _Exit(f"cannot watch the overlay's windows on {display}: {exc}") from None
    runtime.intervention.overlay = watch
    try:
        yield
    finally:
        runtime.intervention.overlay = NoOverlay()
        watch.close()


def _hold_guard(display: str, runtime: Runtime, stack: ExitStack) -> str:
    """Start the guard that lets go of what we hold if this process dies (even by
    SIGKILL); says how it went. Without it the daemon still runs (a kill -9 may then
    leave keys held, as it always did)."""
    from capture.input.guard import GuardLink

    if not display or runtime.backend.name != "xorg":
        return "none (not an X11 backend)"
    try:
        link = GuardLink.spawn(display)
        link.wait_ready()
    except (OSError, RuntimeError) as exc:
        return f"not started: {exc}"
    # entered before the runtime's own close: on the way out the runtime releases what it
    # holds (telling the guard), then the guard hears goodbye and exits doing nothing
    stack.enter_context(link)
    runtime.backend.watch = link
    return f"started (pid {link.pid})"


def _live_view(display: str, stack: ExitStack) -> LiveView:
    """``--view``: x11vnc on the display (a unix socket in a 0700 directory of its own),
    and noVNC's files for the page; the API proxies the one to the other behind the token."""
    from capture.vnc import VncServer
    from daemon.api.routes_view import ENV_NOVNC, LiveView, find_novnc

    if not display:
        raise _Exit("--view needs an X display: give --display :N or --virtual-display WxH", 2)
    novnc = find_novnc()
    if novnc is None:
        raise _Exit(
            "the live view needs noVNC: apt-get install novnc (scripts/install-deps.sh installs "
            f"it), or set ${ENV_NOVNC} to the folder of a noVNC release"
        )
    try:
        vnc = stack.enter_context(VncServer(display))
    except CaptureError as exc:
        raise _Exit(f"cannot start the live view: {exc}") from None
    return LiveView(vnc.socket_path, novnc)


def serve(args: argparse.Namespace, data_dir: Path) -> int:
    # imported here: `driverseat state` should not pay for FastAPI and uvicorn
    from daemon.api.app import VERSION, create_app, make_server
    from daemon.api.dialect_shapes import DialectOptions
    from daemon.cli import notifications
    from daemon.cli.memory import tune_malloc
    from daemon.control.runtime import Runtime
    from daemon.control.screenshots import ScreenGrabber
    from daemon.service import Daemon
    from daemon.store import Store

    tune_malloc()  # frames' buffers go back to the system once freed (daemon/cli/memory.py)
    policy = _policy(args.policy)
    secret = notifications.webhook_secret(args)  # a missing secret fails before anything opens
    with ExitStack() as stack:
        display = stack.enter_context(_opened_display(args))
        if display:
            os.environ["DISPLAY"] = display  # the backend chooser and later child processes read it
        token = load_or_create_token(data_dir)
        try:
            store = stack.enter_context(Store(data_dir / "driverseat.db"))
        except (sqlite3.Error, RuntimeError) as exc:
            raise _Exit(f"cannot open the database in {data_dir}: {exc}") from None
        sock = _bind(args.host, args.port)
        stack.callback(sock.close)
        try:
            view = _agent_view(display or None, args.monitor, args.agent_size)
            grabber = ScreenGrabber(display or None, view.monitor, view.agent_size, "agent")
            runtime = Runtime(
                display=display or None,
                resume_after=args.resume_after,
                kill_switch=args.kill_switch,
                screenshot=grabber,
                view=view,
                zoom=grabber.region,
            )
        except CaptureError as exc:
            hint = "" if args.display else "; --virtual-display 1920x1080 starts a virtual one"
            raise _Exit(
                f"cannot drive display {display or '(none)'}: {exc}{hint}", 2 if args.display else 1
            ) from None
        guard = _hold_guard(display, runtime, stack)
        closed = False

        def close_runtime() -> None:
            nonlocal closed
            if not closed:
                closed = True
                runtime.close()  # halts the action in flight and releases held keys and buttons
                grabber.close()

        atexit.register(close_runtime)  # the crash path; the normal path closes below
        stack.callback(atexit.unregister, close_runtime)
        stack.callback(close_runtime)
        gate = desk = None
        if policy is not None:
            gate, desk = _gate(policy, runtime, store, data_dir, display or None, stack)
            if display and runtime.backend.name == "xorg":
                stack.enter_context(_overlay_watch(runtime, display))
        daemon = Daemon(runtime, store, gate, questions=desk)
        from daemon.cli.shadowing import shadowing

        recording = shadowing(args, runtime, daemon, data_dir, display, stack)
        after, settle = dialect_options(args)
        # after the runtime: input x11vnc sent at its start would show as a takeover
        live = _live_view(display, stack) if args.view else None
        app = create_app(daemon, token, DialectOptions(screenshot_after=after, settle_ms=settle), view=live)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        w, h = runtime.executor.screen
        say = functools.partial(print, file=sys.stderr, flush=True)
        say(f"driverseat {VERSION} on display {display or '(default)'} ({w}x{h})")
        r = view.screen_rect
        aw, ah = view.agent_size
        say(f"agent view: monitor {view.monitor} ({r.width}x{r.height}+{r.left}+{r.top}) "
            f"seen at {aw}x{ah}")  # fmt: skip
        say(f"API:        http://{shown}:{port}")
        if live is not None:
            # the page's address without the token: this line may end up in a log
            say(f"view:       http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/view  "
                f"(`{PROG} view` prints it with the token)")  # fmt: skip
        say(f"data dir:   {data_dir}")
        say(f"token file: {token_path(data_dir)}  (`{PROG} token` prints it)")
        if host not in ("127.0.0.1", "::1", "localhost"):
            say(f"warning: listening on {host}: anyone who can reach this port and has the token "
                "can drive this desktop")  # fmt: skip
        say(f"guard:      {guard}")
        say(f"policy:     {'off' if gate is None else gate.policy.source}")
        if recording is not None:
            say(f"shadowing:  {recording}")
        local = "127.0.0.1" if host in ("0.0.0.0", "::") else shown
        local_url = f"http://{local}:{port}"
        try:
            say(f"URL file:   {publish_url(data_dir, local_url)}  (clients read it: no --url)")
            stack.callback(forget_url, data_dir, local_url)
        except OSError as exc:
            say(f"URL file:   not written ({exc.strerror or exc}): clients need --url {local_url}")
        if gate is not None:  # the notifications call the person to a review: none without
            notify, how = notifications.dispatcher(args, secret, daemon, gate.policy, local_url)
            daemon.companions.append(notify)
            say(f"notify:     {how}")
        if gate is not None and not args.no_overlay:
            from daemon.cli.overlay_process import start_overlay, stop_overlay

            overlay = start_overlay(local_url, data_dir, display or None)
            if isinstance(overlay, str):
                say(f"overlay:    not started: {overlay}")
            else:
                say(f"overlay:    started (pid {overlay.pid})")
                stack.callback(stop_overlay, overlay)

        def halt() -> None:
            # stopped first, so the action in flight reports a shutdown, not a person
            runtime.intervention.stop(by="shutdown")
            runtime.executor.shutdown()

        make_server(app, before_shutdown=halt).run(sockets=[sock])
    print("driverseat stopped; released every key and button it held", file=sys.stderr)
    return 0


