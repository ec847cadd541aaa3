"""The one root error of the ``capture`` package."""

from __future__ import annotations

from typing import Any


class CaptureError(Exception):
    """Anything the machine's senses or hands could not do.

    ``details`` carries machine-readable context (display name, device, ...).
    """

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = details


class UnsupportedPlatform(CaptureError):
    """No input backend exists (yet) for this platform or session type."""
