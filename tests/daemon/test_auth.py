"""The token file: created once with mode 0600 in a 0700 dir, reused, compared in constant time."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from daemon.auth import bearer, load_or_create_token, read_token, token_matches, token_path
from daemon.errors import AuthError


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_created_private_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "deep" / "data"
    token = load_or_create_token(data)
    assert len(token) >= 40
    assert _mode(token_path(data)) == 0o600
    assert _mode(data) == 0o700
    assert token_path(data).read_text().strip() == token
    # a restart reads the same token back instead of locking clients out
    assert load_or_create_token(data) == token
    assert read_token(data) == token


def test_different_dirs_get_different_tokens(tmp_path: Path) -> None:
    assert load_or_create_token(tmp_path / "a") != load_or_create_token(tmp_path / "b")


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    token = load_or_create_token(tmp_path)
    token_path(tmp_path).chmod(0o644)
    tmp_path.chmod(0o755)
    assert load_or_create_token(tmp_path) == token
    assert _mode(token_path(tmp_path)) == 0o600
    assert _mode(tmp_path) == 0o700


def test_read_token_missing_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="driverseat serve"):
        read_token(tmp_path)


def test_empty_token_file_is_an_error(tmp_path: Path) -> None:
    token_path(tmp_path).write_text("\n")
    with pytest.raises(AuthError, match="empty"):
        load_or_create_token(tmp_path)


def test_compare_and_parse_header() -> None:
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc")
    assert not token_matches("", "abc")
    assert not token_matches(None, "abc")
    assert not token_matches("ab\udcff", "abc")  # undecodable input never raises
    assert bearer("Bearer xyz") == "xyz"
    assert bearer("bearer   xyz ") == "xyz"
    assert bearer("Basic xyz") is None
    assert bearer("Bearer ") is None
    assert bearer(None) is None


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """``==`` on strings stops at the first differing character: how long a refusal takes
    would tell a local attacker how much of a guess was right."""
    import daemon.auth

    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(daemon.auth.hmac, "compare_digest", spy)
    assert token_matches("abc", "abc") and not token_matches("abd", "abc")
    assert calls == [(b"abc", b"abc"), (b"abd", b"abc")]
