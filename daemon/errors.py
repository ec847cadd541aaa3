"""The daemon's root error and its kinds; translated to HTTP/CLI only at the boundary."""

from __future__ import annotations

from typing import Any


class DaemonError(Exception):
    """Root of every error the daemon raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = details


class ActionError(DaemonError):
    """An action that cannot be executed as given (bad point, unknown key...): a 422."""


class Unavailable(DaemonError):
    """Something the answer needs cannot be had right now (a screenshot): a 503."""


class AuthError(DaemonError):
    """Missing or wrong bearer token: a 401."""


class ServeExit(DaemonError):
    """``driverseat serve`` cannot start: one sentence for the user, and an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
