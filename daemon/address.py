"""Where the running daemon listens, so that no client command needs ``--url``.

``driverseat serve`` writes its URL to ``<data dir>/url`` (the data dir is 0700, the file
0600) and removes it at a clean exit. A client picks, first found: its ``--url`` flag, the
``DRIVERSEAT_URL`` environment variable, that file, the default address. A daemon killed
with -9 leaves the file behind; a client then names the dead address in its "not running"
error, which is the truth, and the next ``serve`` overwrites it.
"""

from __future__ import annotations

import os
from pathlib import Path

from daemon.auth import default_data_dir
from daemon.exchanges import DEFAULT_URL  # not daemon.client: it resolves its URL here

__all__ = ["ENV_URL", "URL_FILE", "forget_url", "publish_url", "resolve_url", "url_path", "url_source"]

ENV_URL = "DRIVERSEAT_URL"
URL_FILE = "url"


def url_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / URL_FILE


def publish_url(data_dir: str | Path, url: str) -> Path:
    """Write ``url`` for clients, atomically (a client never reads half a URL)."""
    path = url_path(data_dir)
    tmp = path.with_name(f".{URL_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(url + "\n")
    os.replace(tmp, path)
    return path


def forget_url(data_dir: str | Path, url: str) -> None:
    """Remove the file if it still names ``url`` (a newer daemon may have replaced it)."""
    path = url_path(data_dir)
    try:
        if path.read_text().strip() == url:
            path.unlink()
    except OSError:
        pass


def resolve_url(explicit: str | None = None, data_dir: str | Path | None = None) -> str:
    """The daemon's URL: ``explicit`` > $DRIVERSEAT_URL > the data dir's file > the default."""
    return url_source(explicit, data_dir)[0]


def url_source(explicit: str | None = None, data_dir: str | Path | None = None) -> tuple[str, str]:
    """:func:`resolve_url` and where it came from, in words for an error message."""
    if explicit:
        return explicit, "--url"
    env = os.environ.get(ENV_URL, "").strip()
    if env:
        return env, f"${ENV_URL}"
    path = url_path(data_dir if data_dir is not None else default_data_dir())
    try:
        published = path.read_text().strip()
    except OSError:
        published = ""
    if published:
        return published, str(path)
    return DEFAULT_URL, "the default"
