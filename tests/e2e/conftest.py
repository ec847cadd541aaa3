"""One daemon per test module on the session's Xvfb, with the default policy plus a few
narrow rules of the tests' own (each keyed on a region or a marker text)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.live_daemon import Daemon, policy_with

# Screen pixels (regions are matched in screen space). Agent (683, 384) is screen
# (960, 540), inside HOLD; agent (50, 50) is screen (70, 70), inside DENY, which
# leaves the origin free: a click at screen (2, 0) must be able to land to show bug 5.
TEST_RULES = """
[[rule]]
name = "test-deny-corner"
tier = "deny"
kinds = ["click"]
region = [20, 20, 200, 200]

[[rule]]
name = "test-hold-middle"
tier = "approve"
kinds = ["click"]
region = [900, 500, 1020, 580]

[[rule]]
name = "test-edit-me"
tier = "approve"
kinds = ["type"]
text = "EDIT-ME"

[[rule]]
name = "test-notify"
tier = "notify"
kinds = ["type"]
text = "NOTIFY-ME"
"""


@pytest.fixture(scope="module")
def served(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon shared by a module's tests: each test leaves no review pending."""
    data = tmp_path_factory.mktemp("served")
    policy = data / "policy.toml"
    policy.write_text(policy_with(TEST_RULES))
    d = Daemon(xserver, data, policy)
    try:
        yield d
    finally:
        d.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            d = getattr(value, "d", value)  # a rig holds its daemon as .d
            if hasattr(d, "http") and hasattr(d, "out"):
                report.sections.append((f"what the daemon of {name!r} said", _said(d)))
    return report


def _said(d: Any) -> str:
    """The daemon's last lines, its state and its pending reviews: a flake in CI explains
    itself in the report (a run cannot be repeated there)."""
    parts = ["\n".join(getattr(getattr(d, "out", None), "lines", [])[-60:])]
    for path in ("/v1/state", "/v1/reviews"):
        try:
            parts.append(f"GET {path}: {d.http.get(path, timeout=5).text[:4000]}")
        except Exception as exc:  # noqa: BLE001 - a dead daemon is what the report should say
            parts.append(f"GET {path}: {exc!r}")
    return "\n".join(parts)
