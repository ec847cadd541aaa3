"""Urgency in the policy: a rule's ``urgency``, the tiers' defaults, the escalation delay,
and every mistake named as ``file:line: why``."""

from __future__ import annotations

import pytest

from daemon.review.policy import PolicyError
from daemon.review.policy_file import default_policy, parse_policy


def problem(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "policy.toml")
    return str(info.value)


def test_a_rules_urgency_and_the_tiers_defaults() -> None:
    p = parse_policy(
        '[defaults]\nescalate_after_seconds = 30\n\n'
        '[[rule]]\nname = "quiet"\ntier = "approve2"\nurgency = "log"\n\n'
        '[[rule]]\nname = "loud"\ntier = "approve"\nurgency = "critical"\n\n'
        '[[rule]]\nname = "plain"\ntier = "approve"\n'
    )
    assert p.escalate_after_seconds == 30
    assert [p.urgency(r.tier, r.name) for r in p.rules] == ["log", "critical", "normal"]
    assert p.urgency("approve2", "(default)") == "critical"  # two people: the loudest
    assert p.urgency("grace") == "log" and p.urgency("approve") == "normal"
    assert default_policy().escalate_after_seconds == 120


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[[rule]]\nname = "r"\ntier = "approve"\nurgency = "loud"\n',
         "policy.toml:4: rule 'r': unknown urgency 'loud' (expected one of critical, normal, log)"),
        ('[[rule]]\nname = "r"\ntier = "approve"\nurgency = "critcal"\n',
         "did you mean 'critical'?"),
        ('[[rule]]\nname = "r"\ntier = "deny"\n\nurgency = "critical"\n',
         "policy.toml:5: rule 'r': urgency says how a review is notified, and a deny rule opens none"),
        ('[defaults]\nescalate_after_seconds = 0\n',
         "policy.toml:2: [defaults]: escalate_after_seconds must be a number above 0 and at most 86400, not 0"),
        ('[defaults]\nescalate_after_seconds = "60"\n', "policy.toml:2: [defaults]: escalate_after_seconds"),
    ],
)  # fmt: skip
def test_mistakes_name_the_line(text: str, said: str) -> None:
    assert said in problem(text)
