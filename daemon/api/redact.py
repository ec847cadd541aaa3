"""No token in the logs, whatever the log level.

uvicorn writes each request's path with its query string, at INFO: the access line
(``GET /v1/state?token=...``) and the WebSocket handshake line (``"WebSocket
/v1/events?token=..." [accepted]``, where a browser must put the token, since it cannot
set headers on a WebSocket). The daemon logs at WARNING, but a person debugging it
raises the level and pastes the output into an issue: this filter, on uvicorn's
loggers, replaces the value of every ``token=`` and ``Bearer`` with ``[redacted]``
before any handler sees the line.
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactSecrets", "install"]

_SECRET = re.compile(r"((?:[?&;]|\b)(?:access_)?token=|\bBearer\s+)[^\s&;\"']+", re.IGNORECASE)
LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def redact(text: str) -> str:
    return _SECRET.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install() -> None:
    """Idempotent: one filter on each of uvicorn's loggers (a filter on a logger sees the
    records logged through it; uvicorn logs through these by name)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
