"""The AT-SPI protocol spoken directly over D-Bus (jeepney): blocking, every call bounded.

Why not libatspi through PyGObject: see docs/a11y.md (measured). This module is what
runs on the lookup worker thread (:mod:`capture.a11y._lookup`); nothing here is called
from the input path.

The accessibility bus is a D-Bus of its own. Its address is found the way libatspi
finds it: ``AT_SPI_BUS_ADDRESS``, then the X root window's ``AT_SPI_BUS`` property (set
by at-spi-bus-launcher for its display), then ``org.a11y.Bus.GetAddress`` on the
session bus. The registry's root lists the applications; each application's children
are its windows; ``Component.GetAccessibleAtPoint`` answers one level at a time, so the
deepest element is found by descending until no child is under the point.
"""

from __future__ import annotations

import os
import time
from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageType, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from capture.a11y._element import Ancestor, Element
from capture.coords import Rect
from capture.errors import CaptureError

ACCESSIBLE = "org.a11y.atspi.Accessible"
COMPONENT = "org.a11y.atspi.Component"
COLLECTION = "org.a11y.atspi.Collection"
PROPERTIES = "org.freedesktop.DBus.Properties"
ROOT_PATH = "/org/a11y/atspi/accessible/root"
NULL_PATH = "/org/a11y/atspi/null"
SCREEN_COORDS = 0  # ATSPI_COORD_TYPE_SCREEN
MAX_DEPTH = 64  # deeper than any real widget tree; a cycle in a broken tree stops here
# an application that let a call time out is left out of the next lookups for this long,
# so that one hung application does not blind every lookup (each would wait it out)
HUNG_FOR = 3.0  # s
MAX_FOCUS_WALK = 2000  # nodes visited looking for the focus without the Collection interface

# AtspiStateType, in bit order (at-spi2-core atspi-constants.h); the names we report
STATES = (
    "invalid", "active", "armed", "busy", "checked", "collapsed", "defunct", "editable",
    "enabled", "expandable", "expanded", "focusable", "focused", "has_tooltip", "horizontal",
    "iconified", "modal", "multi_line", "multiselectable", "opaque", "pressed", "resizable",
    "selectable", "selected", "sensitive", "showing", "single_line", "stale", "transient",
    "vertical", "visible", "manages_descendants", "indeterminate", "required", "truncated",
    "animated", "invalid_entry", "supports_autocompletion", "selectable_text", "is_default",
    "visited", "checkable", "has_popup", "read_only",
)  # fmt: skip
# AtspiRole, by number (atspi-constants.h): the role is asked as a number, as libatspi
# does, because some toolkits' GetRoleName differs (Qt names a password field "text")
ROLES = (
    "invalid", "accelerator label", "alert", "animation", "arrow", "calendar", "canvas",
    "check box", "check menu item", "color chooser", "column header", "combo box",
    "date editor", "desktop icon", "desktop frame", "dial", "dialog", "directory pane",
    "drawing area", "file chooser", "filler", "focus traversable", "font chooser", "frame",
    "glass pane", "html container", "icon", "image", "internal frame", "label", "layered pane",
    "list", "list item", "menu", "menu bar", "menu item", "option pane", "page tab",
    "page tab list", "panel", "password text", "popup menu", "progress bar", "push button",
    "radio button", "radio menu item", "root pane", "row header", "scroll bar", "scroll pane",
    "separator", "slider", "spin button", "split pane", "status bar", "table", "table cell",
    "table column header", "table row header", "tearoff menu item", "terminal", "text",
    "toggle button", "tool bar", "tool tip", "tree", "tree table", "unknown", "viewport",
    "window", "extended", "header", "footer", "paragraph", "ruler", "application",
    "autocomplete", "editbar", "embedded", "entry", "chart", "caption", "document frame",
    "heading", "page", "section", "redundant object", "form", "link", "input method window",
    "table row", "tree item", "document spreadsheet", "document presentation", "document text",
    "document web", "document email", "comment", "list box", "grouping", "image map",
    "notification", "info bar", "level bar", "title bar", "block quote", "audio", "video",
    "definition", "article", "landmark", "log", "marquee", "math", "rating", "timer", "static",
    "math fraction", "math root", "subscript", "superscript", "description list",
    "description term", "description value", "footnote", "content deletion",
    "content insertion", "mark", "suggestion", "push button menu",
)  # fmt: skip

_FOCUSED_BITS = [1 << STATES.index("focused"), 0]

Ref = tuple[str, str]  # (bus name, object path): one accessible
Call = tuple[Ref, str, str, str, tuple[Any, ...]]  # object, interface, method, signature, args


class AtspiError(CaptureError):
    """The accessibility bus could not be reached or did not answer in time."""


def _states(words: list[int]) -> frozenset[str]:
    out = set()
    for i, word in enumerate(words[:2]):
        for bit in range(32):
            if word >> bit & 1 and 32 * i + bit < len(STATES):
                out.add(STATES[32 * i + bit])
    return frozenset(out)


def _role(body: Any) -> str:
    """A role's name from a GetRole reply: "push button", "password text"..."""
    if not body:
        return ""
    number = int(body[0])
    return ROLES[number] if 0 <= number < len(ROLES) else "unknown"


def _variant(body: Any) -> str:
    """The string in a Properties.Get reply (a variant), or "" when there is none."""
    return str(body[0][1]) if body and body[0] and body[0][1] is not None else ""


def _parent_pid(pid: int) -> int | None:
    """The parent of process ``pid`` (Linux /proc), None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so from the last ")"
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def _x_root_property(display: str | None) -> str | None:
    """The AT_SPI_BUS property at-spi-bus-launcher sets on its display's root window."""
    if not (display or os.environ.get("DISPLAY")):
        return None
    # lazy: only when there is an X display
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.error import DisplayError

    try:
        d = xdisplay.Display(display)
    except (DisplayError, OSError):
        return None
    try:
        atom = d.intern_atom("AT_SPI_BUS", only_if_exists=True)
        if not atom:
            return None
        prop = d.screen().root.get_full_property(atom, X.AnyPropertyType)
        if prop is None or not prop.value:
            return None
        value = prop.value
        return value.decode() if isinstance(value, bytes) else str(value)
    finally:
        d.close()


class Atspi:
    """One connection to the accessibility bus; each method a few bounded D-Bus calls."""

    def __init__(self, address: str, *, call_timeout: float) -> None:
        self.address = address
        self.call_timeout = call_timeout
        try:
            self.conn: DBusConnection = open_dbus_connection(address, auth_timeout=call_timeout)
        except (OSError, ValueError, TimeoutError) as exc:
            raise AtspiError(f"cannot connect to the accessibility bus {address}: {exc}") from exc
        self._pids: dict[str, int | None] = {}
        self._hung: dict[str, float] = {}  # bus name -> until when it is left out

    @classmethod
    def discover(cls, *, call_timeout: float, display: str | None = None) -> Atspi:
        """Connect to the accessibility bus of this session (libatspi's order)."""
        address = os.environ.get("AT_SPI_BUS_ADDRESS") or _x_root_property(display)
        if not address:
            address = cls._ask_session_bus(call_timeout)
        return cls(address, call_timeout=call_timeout)

    @staticmethod
    def _ask_session_bus(call_timeout: float) -> str:
        try:
            session = open_dbus_connection("SESSION", auth_timeout=call_timeout)
        except (OSError, KeyError, ValueError, TimeoutError) as exc:
            raise AtspiError(f"no accessibility bus: no AT_SPI_BUS on the display and no "
                             f"session bus ({exc})") from exc  # fmt: skip
        try:
            bus = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus")
            reply = session.send_and_get_reply(new_method_call(bus, "GetAddress"), timeout=call_timeout)
            if reply.header.message_type is MessageType.error:
                raise AtspiError(f"the session bus has no accessibility bus: {reply.body}")
            return str(reply.body[0])
        except TimeoutError as exc:
            raise AtspiError("the session bus did not say where the accessibility bus is") from exc
        finally:
            session.close()

    def close(self) -> None:
        self.conn.close()

    # -- one call --------------------------------------------------------------------------
    def _call(self, ref: Ref, interface: str, method: str, sig: str = "", *args: Any) -> Any:
        addr = DBusAddress(ref[1], bus_name=ref[0], interface=interface)
        try:
            reply = self.conn.send_and_get_reply(
                new_method_call(addr, method, sig, args) if sig else new_method_call(addr, method),
                timeout=self.call_timeout,
            )
        except TimeoutError as exc:
            self._hung_now([ref[0]])
            raise AtspiError(f"{ref[0]} did not answer {method} within "
                             f"{self.call_timeout * 1000:.0f} ms") from exc  # fmt: skip
        except OSError as exc:
            raise BusGone(f"the accessibility bus went away: {exc}") from exc
        if reply.header.message_type is MessageType.error:
            raise _Refused(f"{ref[0]} {method}: {reply.body}")
        return reply.body

    def _try(self, ref: Ref, interface: str, method: str, sig: str = "", *args: Any) -> Any:
        """A call an object may refuse (no such interface, gone meanwhile): None then."""
        try:
            return self._call(ref, interface, method, sig, *args)
        except _Refused:
            return None

    def _batch(self, calls: list[Call]) -> list[Any]:
        """Several calls sent at once, their replies collected: one round trip's latency
        instead of one per call. A refused call's answer is None."""
        serials: dict[int, int] = {}
        try:
            for i, (ref, interface, method, sig, args) in enumerate(calls):
                addr = DBusAddress(ref[1], bus_name=ref[0], interface=interface)
                msg = new_method_call(addr, method, sig, args) if sig else new_method_call(addr, method)
                serial = next(self.conn.outgoing_serial)
                serials[serial] = i
                self.conn.send(msg, serial=serial)
            out: list[Any] = [None] * len(calls)
            deadline = time.monotonic() + self.call_timeout
            while serials:
                reply = self.conn.receive(timeout=max(0.0, deadline - time.monotonic()))
                i_reply = serials.pop(reply.header.fields.get(HeaderFields.reply_serial, -1), None)
                if i_reply is not None and reply.header.message_type is not MessageType.error:
                    out[i_reply] = reply.body
        except TimeoutError as exc:
            self._hung_now([calls[i][0][0] for i in serials.values()])
            raise AtspiError(f"no answer to {len(serials)} of {len(calls)} calls within "
                             f"{self.call_timeout * 1000:.0f} ms") from exc  # fmt: skip
        except OSError as exc:
            raise BusGone(f"the accessibility bus went away: {exc}") from exc
        return out

    def _hung_now(self, bus_names: list[str]) -> None:
        until = time.monotonic() + HUNG_FOR
        for name in bus_names:
            self._hung[name] = until

    def _is_hung(self, bus_name: str) -> bool:
        until = self._hung.get(bus_name)
        if until is None:
            return False
        if time.monotonic() >= until:
            del self._hung[bus_name]  # give it another chance
            return False
        return True

    def children(self, ref: Ref) -> list[Ref]:
        body = self._try(ref, ACCESSIBLE, "GetChildren")
        return [(str(n), str(p)) for n, p in body[0]] if body else []

    def states(self, ref: Ref) -> frozenset[str]:
        body = self._try(ref, ACCESSIBLE, "GetState")
        return _states(list(body[0])) if body else frozenset()

    def extents(self, ref: Ref) -> Rect | None:
        body = self._try(ref, COMPONENT, "GetExtents", "u", SCREEN_COORDS)
        if not body:
            return None
        x, y, w, h = body[0]
        return Rect(x, y, w, h) if w > 0 and h > 0 else None

    def child_at(self, ref: Ref, x: int, y: int) -> Ref | None:
        body = self._try(ref, COMPONENT, "GetAccessibleAtPoint", "iiu", x, y, SCREEN_COORDS)
        if not body:
            return None
        name, path = body[0]
        return None if path == NULL_PATH or not name else (str(name), str(path))

    def pid(self, bus_name: str) -> int | None:
        """The process behind an application's bus name (cached: it never changes)."""
        if bus_name not in self._pids:
            dbus = ("org.freedesktop.DBus", "/org/freedesktop/DBus")
            body = self._try(dbus, "org.freedesktop.DBus", "GetConnectionUnixProcessID", "s", bus_name)
            self._pids[bus_name] = int(body[0]) if body else None
        return self._pids[bus_name]

    def element(self, ref: Ref, above: list[Ref] | None = None) -> Element:
        """Everything we report about one accessible.

        ``above`` is its chain of parents from its window down, when the caller already
        walked it (the descent to a point does): then everything is asked in one batch.
        Otherwise the Parent links are followed up to the application.
        """
        if above is None:
            above = self._parents(ref)
        chain = [*above, ref]
        calls: list[Call] = [(r, PROPERTIES, "Get", "ss", (ACCESSIBLE, "Name")) for r in chain]
        calls += [(r, ACCESSIBLE, "GetRole", "", ()) for r in chain]
        calls += [
            (ref, PROPERTIES, "Get", "ss", (ACCESSIBLE, "Description")),
            (ref, ACCESSIBLE, "GetState", "", ()),
            (ref, COMPONENT, "GetExtents", "u", (SCREEN_COORDS,)),
            ((ref[0], ROOT_PATH), PROPERTIES, "Get", "ss", (ACCESSIBLE, "Name")),  # the app
        ]
        got = self._batch(calls)
        n = len(chain)
        names = [_variant(b) for b in got[:n]]
        roles = [_role(b) for b in got[n : 2 * n]]
        description, state, extents, app = got[2 * n :]
        box = None
        if extents:
            x, y, w, h = extents[0]
            box = Rect(x, y, w, h) if w > 0 and h > 0 else None
        parents = tuple(Ancestor(roles[i], names[i]) for i in range(n - 2, -1, -1))
        return Element(
            role=roles[-1] or "unknown",
            name=names[-1],
            description=_variant(description),
            states=_states(list(state[0])) if state else frozenset(),
            box=box,
            parents=parents,
            application=_variant(app),
            pid=self.pid(ref[0]),
        )

    def _parents(self, ref: Ref) -> list[Ref]:
        """The chain of parents from the window down to ``ref``'s parent (one call a level)."""
        chain: list[Ref] = []
        here = ref
        for _ in range(MAX_DEPTH):
            body = self._try(here, PROPERTIES, "Get", "ss", ACCESSIBLE, "Parent")
            parent = body[0][1] if body else None
            if not parent or parent[1] in (NULL_PATH, ROOT_PATH):  # the application: above
                break
            here = (str(parent[0]), str(parent[1]))
            chain.append(here)
        return chain[::-1]

    ignore_children = False  # also ignore our own child processes (see A11y)

    def _ignored(self, bus_name: str, ignore_pids: frozenset[int]) -> bool:
        """Whether an application is one of ``ignore_pids`` or, with ``ignore_children``, a
        child process of ours (the overlay the daemon started: drawn over everything and
        never the element meant)."""
        if not ignore_pids and not self.ignore_children:
            return False
        pid = self.pid(bus_name)
        if pid is None:
            return False
        return pid in ignore_pids or (self.ignore_children and _parent_pid(pid) == os.getpid())

    # -- the questions ---------------------------------------------------------------------
    def windows(self, ignore_pids: frozenset[int] = frozenset()) -> list[tuple[Ref, frozenset[str], Rect | None]]:
        """Every showing window of every application (newest application last), with its
        states and extents: three batched round trips whatever the number of windows."""
        apps = [a for a in self.children(("org.a11y.atspi.Registry", ROOT_PATH))
                if not self._is_hung(a[0]) and not self._ignored(a[0], ignore_pids)]  # fmt: skip
        got = self._batch([(a, ACCESSIBLE, "GetChildren", "", ()) for a in apps])
        wins = [(str(n), str(p)) for body in got if body for n, p in body[0]]
        calls: list[Call] = [(w, ACCESSIBLE, "GetState", "", ()) for w in wins]
        calls += [(w, COMPONENT, "GetExtents", "u", (SCREEN_COORDS,)) for w in wins]
        got = self._batch(calls)
        out = []
        for i, w in enumerate(wins):
            states = _states(list(got[i][0])) if got[i] else frozenset()
            ext = got[len(wins) + i]
            box = Rect(*ext[0]) if ext and ext[0][2] > 0 and ext[0][3] > 0 else None
            if "showing" in states and "iconified" not in states:
                out.append((w, states, box))
        return out

    def window_at(self, x: int, y: int, ignore_pids: frozenset[int] = frozenset()) -> Ref | None:
        """The window under the point: the active one if several are, else the newest.

        AT-SPI knows no stacking order; the active window is the one the person works in,
        and without a window manager the last one mapped is on top.
        """
        best: tuple[bool, int, Ref] | None = None
        for order, (win, states, box) in enumerate(self.windows(ignore_pids)):
            if box is None or not (box.left <= x < box.right and box.top <= y < box.bottom):
                continue
            rank = ("active" in states, order, win)
            if best is None or rank[:2] > best[:2]:
                best = rank
        return best[2] if best else None

    def deepest_at(self, x: int, y: int, ignore_pids: frozenset[int] = frozenset()) -> list[Ref]:
        """The path from the window under a screen point down to the deepest accessible
        there (its last item); empty if no window is there."""
        here = self.window_at(x, y, ignore_pids)
        if here is None:
            return []
        path = [here]
        for _ in range(MAX_DEPTH):
            child = self.child_at(here, x, y)
            if child is None or child in path:
                break
            here = child
            path.append(here)
        return path

    def focused(self, ignore_pids: frozenset[int] = frozenset()) -> Ref | None:
        """The element with the keyboard focus, in the active window (or any window)."""
        wins = list(self.windows(ignore_pids))
        wins.sort(key=lambda w: "active" not in w[1])  # the active window first
        for win, _, _ in wins:
            found = self._focused_in(win)
            if found is not None:
                return found
        return None

    def _focused_in(self, win: Ref) -> Ref | None:
        # Collection.GetMatches: one round trip where the toolkit offers it (GTK, Qt, Firefox)
        rule: tuple[Any, ...] = (_FOCUSED_BITS, 1, {}, 1, [0, 0, 0, 0], 1, [], 1, False)  # states ALL, rest ALL
        body = self._try(win, COLLECTION, "GetMatches", "(aiia{ss}iaiiasib)uib", rule, 1, 1, True)
        if body is not None:
            hits = [(str(n), str(p)) for n, p in body[0]]
            return hits[0] if hits else None
        if "focused" in self.states(win):
            return win
        seen, stack = 0, self.children(win)
        while stack and seen < MAX_FOCUS_WALK:
            ref = stack.pop()
            seen += 1
            states = self.states(ref)
            if "focused" in states:
                return ref
            if "showing" in states:
                stack.extend(self.children(ref))
        return None


class BusGone(AtspiError):
    """The connection to the accessibility bus broke: it must be made again."""


class _Refused(AtspiError):
    """An application answered a call with a D-Bus error (no such interface, gone)."""
