"""Input backends: inject primitives, observe and classify every input event.

The public face picks a backend; the backends live in private modules
(``_xorg``, ``_fake``) that fill the hooks of :class:`InputBackend`. The choice reads
``DRIVERSEAT_INPUT_BACKEND`` first, then the platform and session type, and on
failure says what is missing.
"""

from __future__ import annotations

import os
import sys

from capture.errors import UnsupportedPlatform
from capture.input._base import (
    HoldWatch,
    InputBackend,
    InputEvent,
    Kind,
    Ledger,
    Observer,
    Origin,
    Primitive,
)

__all__ = [
    "HoldWatch",
    "InputBackend",
    "InputEvent",
    "Kind",
    "Ledger",
    "Observer",
    "Origin",
    "Primitive",
    "backend_name",
    "open_backend",
]


def backend_name(env: dict[str, str] | None = None, platform: str | None = None) -> str:
    """Which backend this machine needs: ``xorg``, ``fake``, or an unsupported one."""
    env = dict(os.environ) if env is None else env
    platform = platform or sys.platform
    override = env.get("DRIVERSEAT_INPUT_BACKEND", "").strip().lower()
    if override:
        return override
    if platform.startswith("linux") or "bsd" in platform:
        if env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY"):
            return "wayland"
        return "xorg"
    if platform == "win32":
        return "win32"
    if platform == "darwin":
        return "darwin"
    return platform


def open_backend(display: str | None = None, name: str | None = None) -> InputBackend:
    """Open the input backend for this desktop (``display`` is an X display name)."""
    chosen = name or backend_name()
    if chosen == "xorg":
        try:
            from capture.input._xorg import XorgBackend
        except ImportError as exc:
            raise UnsupportedPlatform(
                f"the X11 backend cannot load ({exc}); install python-xlib"
            ) from exc
        return XorgBackend(display)
    if chosen == "fake":
        from capture.input._fake import FakeBackend

        return FakeBackend()
    hints = {
        "wayland": "Wayland has no global input observation for clients; run the session "
        "on X11 (or Xwayland with DISPLAY set). An evdev + RemoteDesktop-portal backend "
        "is planned.",
        "win32": "the Windows backend (low-level hooks, LLMHF_INJECTED) is not built yet.",
        "darwin": "the macOS backend (CGEventTap with source user data) is not built yet.",
    }
    raise UnsupportedPlatform(
        f"no input backend for {chosen!r}: "
        + hints.get(chosen, "supported: xorg (X11), fake (tests)."),
        backend=chosen,
    )
