"""The bearer token that guards the API, and the data dir that holds it.

The token is created at first start with ``secrets.token_urlsafe(32)`` in
``<data-dir>/token``, created with mode 0600 (``os.open`` with the mode, so there is
no moment at which another user could read it); the data dir is 0700. Whoever can
read the file can drive the desktop: the same trust as the user's own account.
"""

from __future__ import annotations

import errno
import hmac
import os
import secrets
import stat
from pathlib import Path

import platformdirs

from daemon.errors import AuthError

TOKEN_FILE = "token"
ENV_DATA_DIR = "DRIVERSEAT_DATA_DIR"


def default_data_dir() -> Path:
    """``$DRIVERSEAT_DATA_DIR`` or the platform's user data dir for driverseat."""
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("driverseat"))


def token_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / TOKEN_FILE


def ensure_data_dir(data_dir: str | Path) -> Path:
    """Create the data dir (mode 0700) if missing; tighten it to 0700 if it is ours and looser."""
    path = Path(data_dir).expanduser()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if os.name == "posix" and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(0o700)
    return path


def read_token(data_dir: str | Path) -> str:
    """The token of the daemon using ``data_dir``; AuthError if there is none yet."""
    path = token_path(data_dir)
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise AuthError(
            f"no token file at {path}: start the daemon (`driverseat serve`) or create one "
            "with `driverseat token`",
            path=str(path),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthError(f"cannot read the token file {path}: {exc}", path=str(path)) from exc
    if not token:
        raise AuthError(
            f"the token file {path} is empty; delete it and start again", path=str(path)
        )
    return token


def load_or_create_token(data_dir: str | Path) -> str:
    """The token in ``data_dir``, created (0600) at first use; safe against a parallel start."""
    ensure_data_dir(data_dir)
    path = token_path(data_dir)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise AuthError(f"cannot create the token file {path}: {exc}", path=str(path)) from exc
        _tighten(path)
        return read_token(data_dir)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    return token


def _tighten(path: Path) -> None:
    """A token file others can read is a leaked token: make it 0600 again."""
    if os.name != "posix":
        return
    st = path.stat()
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(0o600)


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing does not leak the token."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
