"""Finding the daemon: --url > $DRIVERSEAT_URL > the data dir's url file > the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.address import forget_url, publish_url, resolve_url, url_path
from daemon.client import DEFAULT_URL


def test_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIVERSEAT_URL", raising=False)
    assert resolve_url(None, tmp_path) == DEFAULT_URL
    publish_url(tmp_path, "http://127.0.0.1:4000")
    assert url_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert resolve_url(None, tmp_path) == "http://127.0.0.1:4000"
    monkeypatch.setenv("DRIVERSEAT_URL", "http://127.0.0.1:5000")
    assert resolve_url(None, tmp_path) == "http://127.0.0.1:5000"
    assert resolve_url("http://h:6000", tmp_path) == "http://h:6000"


def test_data_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIVERSEAT_URL", raising=False)
    monkeypatch.setenv("DRIVERSEAT_DATA_DIR", str(tmp_path))
    publish_url(tmp_path, "http://127.0.0.1:4001")
    assert resolve_url() == "http://127.0.0.1:4001"


def test_forget_leaves_a_newer_daemons_file(tmp_path: Path) -> None:
    publish_url(tmp_path, "http://127.0.0.1:1")
    publish_url(tmp_path, "http://127.0.0.1:2")  # a second serve on the same data dir
    forget_url(tmp_path, "http://127.0.0.1:1")
    assert url_path(tmp_path).read_text().strip() == "http://127.0.0.1:2"
    forget_url(tmp_path, "http://127.0.0.1:2")
    assert not url_path(tmp_path).exists()
    forget_url(tmp_path, "http://127.0.0.1:2")  # already gone: fine


@pytest.mark.parametrize(
    "argv", [["state"], ["stop"], ["resume"], ["mcp"], ["act", '{"action": "screenshot"}']]
)
def test_every_client_command_reads_the_file(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from daemon.cli import _url, build_parser

    monkeypatch.delenv("DRIVERSEAT_URL", raising=False)
    publish_url(tmp_path, "http://127.0.0.1:4002")
    args = build_parser().parse_args([*argv, "--data-dir", str(tmp_path)])
    assert _url(args) == "http://127.0.0.1:4002"
    monkeypatch.setenv("DRIVERSEAT_URL", "http://127.0.0.1:4003")
    assert _url(args) == "http://127.0.0.1:4003"
    flagged = build_parser().parse_args([*argv, "--data-dir", str(tmp_path), "--url", "http://h:1"])
    assert _url(flagged) == "http://h:1"
