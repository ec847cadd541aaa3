"""One daemon per test module on the session's Xvfb, with the default policy plus a few
narrow rules of the tests' own (each keyed on a region or a marker text)."""

from __future__ import annotations

from collections.abc import Iterator

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
