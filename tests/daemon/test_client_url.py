"""``Client.from_data_dir()`` / ``AsyncClient.from_data_dir()`` find the daemon where the CLI
does: ``url`` > ``$DRIVERSEAT_URL`` > ``<data dir>/url`` (written by ``driverseat serve``) >
the default; a README snippet reaches the daemon a plain ``driverseat state`` reaches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from daemon.address import ENV_URL, publish_url
from daemon.auth import load_or_create_token
from daemon.client import DEFAULT_URL, AsyncClient, Client
from tests.daemon.live import serving


@pytest.fixture
def daemon_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A daemon on a random port (not 8765) that published its URL in a data dir."""
    monkeypatch.delenv(ENV_URL, raising=False)
    app = FastAPI()

    @app.get("/v1/state")
    async def state() -> dict[str, str]:
        return {"control": "agent"}

    data = tmp_path / "data"
    load_or_create_token(data)
    with serving(app) as url:
        publish_url(data, url)
        yield url, data


def test_the_sync_client_reads_the_published_url(daemon_at: tuple[str, Path]) -> None:
    url, data = daemon_at
    with Client.from_data_dir(data_dir=data) as c:
        assert c.url == url
        assert c.state() == {"control": "agent"}


def test_the_async_client_reads_the_published_url(daemon_at: tuple[str, Path]) -> None:
    url, data = daemon_at

    async def run() -> tuple[str, dict[str, str]]:
        async with AsyncClient.from_data_dir(data_dir=data) as c:
            return c.url, await c.state()

    assert asyncio.run(run()) == (url, {"control": "agent"})


def test_the_environment_wins_over_the_file_and_an_argument_over_both(
    daemon_at: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = daemon_at
    monkeypatch.setenv(ENV_URL, "http://127.0.0.1:9")
    with Client.from_data_dir(data_dir=data) as c:
        assert c.url == "http://127.0.0.1:9"
    with Client.from_data_dir("http://127.0.0.1:10", data) as c:
        assert c.url == "http://127.0.0.1:10"


def test_with_nothing_published_it_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_URL, raising=False)
    load_or_create_token(tmp_path)
    with Client.from_data_dir(data_dir=tmp_path) as c:
        assert c.url == DEFAULT_URL


@pytest.mark.parametrize("url", ["notaurl", "127.0.0.1:8765", "ftp://127.0.0.1", "http://", "http:///v1"])
def test_a_client_of_no_address_is_refused_when_it_is_made(url: str) -> None:
    """Not at its first call, as httpx's words about a protocol, after the agent started."""
    for cls in (Client, AsyncClient):
        with pytest.raises(ValueError, match="is not the daemon's address: give one like http://127.0.0.1:8765"):
            cls(url, "t")
