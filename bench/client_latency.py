"""The round trip of ``GET /v1/state`` on one keep-alive connection, in ms (median).

Through ``daemon.client.Client``, ``daemon.client.AsyncClient``, and plain
``httpx.Client``/``httpx.AsyncClient`` (what our client should cost on top: nothing
measurable), each keeping its connection open for all its calls; and, for comparison,
one plain httpx client that opens a new connection for every call. The first call of each client is
left out (it pays for the connect). Starts its own ``driverseat serve --virtual-display``
unless given ``--url`` (then the token is read from ``--data-dir``). Prints one JSON
line. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx

from bench._serve import served
from daemon.auth import read_token
from daemon.client import AsyncClient, Client


def timed(call: Callable[[], Any], trials: int) -> list[float]:
    out = []
    for _ in range(trials):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def atimed(call: Callable[[], Awaitable[Any]], trials: int) -> list[float]:
    out = []
    for _ in range(trials):
        t0 = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def figures(times: list[float]) -> dict[str, float]:
    """First call (connect included) and the median of the rest."""
    return {"first": round(times[0], 2), "median": round(statistics.median(times[1:]), 2)}


def measure(url: str, token: str, trials: int) -> dict[str, dict[str, float]]:
    auth = {"Authorization": f"Bearer {token}"}
    n = trials + 1
    with Client(url, token) as c:
        ours = timed(c.state, n)
    with httpx.Client(base_url=url, headers=auth) as h:
        plain = timed(lambda: h.get("/v1/state").raise_for_status(), n)
    # one httpx client that keeps no connection: a TCP connect per call, nothing else new
    with httpx.Client(base_url=url, headers=auth, limits=httpx.Limits(max_keepalive_connections=0)) as h:
        fresh = timed(lambda: h.get("/v1/state").raise_for_status(), n)

    async def run_async() -> tuple[list[float], list[float], list[float]]:
        async with AsyncClient(url, token) as ac:
            ours = await atimed(ac.state, n)
        async with httpx.AsyncClient(base_url=url, headers=auth) as ah:

            async def get() -> None:
                (await ah.get("/v1/state")).raise_for_status()

            plain = await atimed(get, n)

        async def fresh_client() -> None:
            async with AsyncClient(url, token) as ac:
                await ac.state()

        return ours, plain, await atimed(fresh_client, n)

    aours, aplain, afresh = asyncio.run(run_async())
    return {
        "daemon.client.Client": figures(ours),
        "daemon.client.AsyncClient": figures(aours),
        "httpx.Client": figures(plain),
        "httpx.AsyncClient": figures(aplain),
        "httpx, new connection each call": figures(fresh),
        # what the MCP proxy did before it kept its client: a new client for every call
        "daemon.client.AsyncClient, new client each call": figures(afresh),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--url", help="a running daemon (default: start one)")
    ap.add_argument("--data-dir", type=Path, help="with --url: where its token is")
    args = ap.parse_args(argv)
    if args.url:
        if args.data_dir is None:
            ap.error("--url needs --data-dir (where the daemon's token is)")
        result = measure(args.url, read_token(args.data_dir), args.trials)
    else:
        with tempfile.TemporaryDirectory() as tmp, served(Path(tmp) / "data", "1280x800") as url:
            result = measure(url, read_token(Path(tmp) / "data"), args.trials)
    print(json.dumps({"bench": "client_latency", "trials": args.trials, "state_ms": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
