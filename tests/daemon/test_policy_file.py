"""The policy file: what it may say, and every mistake named as ``file:line: why``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from daemon.actions import Type
from daemon.errors import DaemonError
from daemon.review.policy import PolicyError, evaluate
from daemon.review.policy_file import (
    DEFAULT_POLICY_PATH,
    default_policy,
    load_policy,
    parse_policy,
)


def rule(tier: str = "approve", name: str = "r", **conds: str) -> str:
    body = "".join(f"{k} = {v}\n" for k, v in conds.items())
    return f'[[rule]]\nname = "{name}"\ntier = "{tier}"\n{body}\n'


def problem(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "policy.toml")
    return info.value


def test_defaults_are_read() -> None:
    p = parse_policy(
        '[defaults]\ntier = "notify"\ngrace_seconds = 3\nreview_expiry_seconds = 60.5\n'
        'rationale_required = ["approve", "approve2"]\nrationales = ["ok", "no"]',
    )
    assert (p.default_tier, p.grace_seconds, p.review_expiry_seconds) == ("notify", 3.0, 60.5)
    assert p.rationale_required == frozenset({"approve", "approve2"})
    assert p.rationales == ("ok", "no")
    assert parse_policy('[defaults]\nrationale_required = "grace"').rationale_required == {"grace"}
    assert parse_policy("[defaults]\nrationale_required = []").rationale_required == frozenset()


def test_an_empty_file_is_the_built_in_policy() -> None:
    from daemon.review.policy import Policy

    assert parse_policy("", "x.toml") == Policy(source="x.toml")


def test_a_rule_as_written() -> None:
    conds = {"description": '"why"', "kinds": '"type"', "keys": '"Ctrl+W"',
             "key_pattern": "'^ctrl'", "text": "['a', 'b']", "region": "[0, 0, 5, 5]",
             "window": "'T'", "confidence_below": "0.5",
             "missing_confidence": '"match"'}  # fmt: skip
    p = parse_policy("# a comment\n" + rule("deny", name="it", **conds))
    (r,) = p.rules
    assert (r.name, r.tier, r.description, r.line) == ("it", "deny", "why", 2)
    assert (r.kinds, r.keys, r.region) == ({"type"}, {"ctrl+w"}, (0, 0, 5, 5))
    assert [x.pattern for x in r.text or ()] == ["a", "b"]
    assert [x.pattern for x in (*(r.key_pattern or ()), *(r.window or ()))] == ["^ctrl", "T"]
    assert (r.confidence_below, r.missing_confidence) == (0.5, "match")
    (bare,) = parse_policy(rule()).rules
    assert (bare.kinds, bare.text, bare.confidence_below, bare.missing_confidence) == (
        None, None, None, "skip",
    )  # fmt: skip


def test_load_policy_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(rule("deny", name="no-typing", kinds='["type"]'), encoding="utf-8")
    p = load_policy(path)
    assert evaluate(p, Type(text="x")).tier == "deny"
    assert p.rules[0].line == 1 and p.source == str(path)


def test_load_policy_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy") as info:
        load_policy(tmp_path / "nope.toml")
    assert isinstance(info.value, DaemonError)


def test_default_policy_is_the_shipped_file() -> None:
    assert default_policy().source == str(DEFAULT_POLICY_PATH)


def test_default_policy_missing_says_where_it_looked(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:  # fmt: skip
    import daemon.review.policy_file as mod

    monkeypatch.setattr(mod, "DEFAULT_POLICY_PATH", tmp_path / "gone.toml")
    with pytest.raises(PolicyError, match=re.escape(str(tmp_path / "gone.toml"))):
        default_policy()


# --- bad files ------------------------------------------------------------------------------

GOOD_HEAD = '[defaults]\ntier = "auto"\n\n[[rule]]\nname = "ok"\ntier = "notify"\n\n'
X = GOOD_HEAD + '[[rule]]\nname = "x"\ntier = "deny"\n'  # the next key is on line 11


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[defaults]\ntier = "auto"\ngrace_seconds = = 3\n', 3, "invalid TOML"),
        (GOOD_HEAD + '[[rule]]\nname = "x"\ntier = "aprove"\n', 10,
         ("rule 'x': unknown tier 'aprove' (expected one of auto, notify, grace, approve, "
          "approve2, deny); did you mean 'approve'?")),
        (X + "confidence_bellow = 0.5\n", 11,
         ("rule 'x': unknown key 'confidence_bellow' (expected one of name, tier, description, "
          "kinds, keys, key_pattern, text, region, window, confidence_below, missing_confidence);"
          " did you mean 'confidence_below'?")),
        (X + "text = '(unclosed'\n", 11,
         "rule 'x': bad regex in text '(unclosed': missing ), unterminated subpattern"),
        (X + "window = ['ok', '[z-a]']\n", 11, "rule 'x': bad regex in window '[z-a]'"),
        (X + "region = [0, 0, 10]\n", 11,
         "rule 'x': region must be [x0, y0, x1, y1] in screen pixels, not [0, 0, 10]"),
        (X + "region = [0, 0, 10, 10.5]\n", 11, "not [0, 0, 10, 10.5]"),
        (X + "region = [0, true, 10, 10]\n", 11, "not [0, True, 10, 10]"),
        (X + "region = [50, 0, 10, 10]\n", 11,
         "rule 'x': region [50, 0, 10, 10] is empty: it needs x0 < x1 and y0 < y1"),
        (X + "region = [0, 5, 10, 5]\n", 11, "region [0, 5, 10, 5] is empty"),
        (X + 'kinds = ["clik"]\n', 11,
         ("rule 'x': unknown action kind 'clik' (expected one of click, move, drag, mouse_down,"
          " mouse_up, scroll, type, key, hold_key, wait, screenshot, cursor_position, zoom); "
          "did you mean 'click'?")),
        (X + 'kinds = []\n', 11, "rule 'x': kinds must be a non-empty string or list of them"),
        (X + 'text = ["a", 3]\n', 11, "rule 'x': text must be a non-empty string or list"),
        (X + 'keys = [\n  "ctrl+w",\n  "ctrl+nosuchkey",\n]\n', 13,
         "rule 'x': keys: unknown key name 'nosuchkey'"),
        (X + 'keys = ["ctrl+w ctrl+q"]\n', 11,
         "rule 'x': keys: give one combo per entry, not 'ctrl+w ctrl+q'"),
        (X + "confidence_below = 1.5\n", 11,
         "rule 'x': confidence_below must be a number above 0 and at most 1, not 1.5"),
        (X + "confidence_below = 0\n", 11, "above 0 and at most 1, not 0"),
        (X + "confidence_below = nan\n", 11, "above 0 and at most 1, not nan"),
        (X + 'missing_confidence = "match"\n', 11,
         "rule 'x': missing_confidence needs confidence_below"),
        (X + 'confidence_below = 0.5\nmissing_confidence = "maybe"\n', 12,
         "rule 'x': unknown value 'maybe' (expected one of skip, match)"),
        (X + "description = 3\n", 11, "rule 'x': description must be a string, not 3"),
        (GOOD_HEAD + '[[rule]]\nname = "ok"\ntier = "deny"\n', 9,
         "rule 'ok': the name 'ok' is used by an earlier rule"),
        (GOOD_HEAD + '[[rule]]\ntier = "deny"\n', 8,
         "rule #2: needs a name of letters, digits, '-', '_' or '.' (at most 64)"),
        (GOOD_HEAD + '[[rule]]\nname = "a b"\ntier = "deny"\n', 9, "rule #2: needs a name"),
        (GOOD_HEAD + '[[rule]]\nname = "(default)"\ntier = "deny"\n', 9, "needs a name"),
        (GOOD_HEAD + '[[rule]]\nname = "x"\nkinds = ["type"]\n', 8,
         "rule 'x': needs a tier (one of auto, notify, grace, approve, approve2, deny)"),
        ('[defaults]\ntier = "auto"\ngrace = 5\n', 3,
         ("[defaults]: unknown key 'grace' (expected one of tier, grace_seconds, "
          "review_expiry_seconds, rationale_required, rationales); did you mean 'grace_seconds'?")),
        ('[defaults]\ngrace_seconds = 301\n', 2,
         "[defaults]: grace_seconds must be a number above 0 and at most 300, not 301"),
        ('[defaults]\nreview_expiry_seconds = 604801\n', 2, "at most 604800, not 604801"),
        ('[defaults]\nrationale_required = ["deny"]\n', 2,
         ("[defaults]: rationale_required: 'deny' is not a tier a person decides on "
          "(expected one of grace, approve, approve2)")),
        ('[defaults]\nrationale_required = ["aprove"]\n', 2, "rationale_required: unknown tier"),
        ('[defaults]\nrationales = ["ok", "ok"]\n', 2,
         "[defaults]: rationales must be distinct: 'ok' is listed twice"),
        ('[defaults]\nrationales = ["' + "x" * 201 + '"]\n', 2, "of 1-200 characters"),
        ('[default]\ntier = "auto"\n', 1,
         "unknown table 'default' (expected one of defaults, rule); did you mean 'defaults'?"),
        ("rule = 3\n", 1, "rules must be [[rule]] tables"),
        ('defaults = "x"\n', 1, "[defaults]: must be a table"),
    ],
)  # fmt: skip
def test_bad_files_name_the_line_and_the_reason(text: str, line: int, reason: str) -> None:
    err = problem(text)
    message = str(err)
    assert message.startswith(f"policy.toml:{line}: "), message
    assert reason in message, message
    assert err.details["line"] == line


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("grace_seconds", "true", "not True"),  # a bool is not a number
        ("grace_seconds", '"5"', "not '5'"),  # nor is a number in quotes
        ("review_expiry_seconds", "false", "not False"),
        ("tier", "1", "unknown tier 1"),
        ("rationales", '"one"', "rationales must be a list"),  # a list, as the file says
        ("rationale_required", "2", "rationale_required must be a tier or a list of them"),
    ],
)
def test_defaults_types_are_strict(key: str, value: str, why: str) -> None:
    assert why in str(problem(f"[defaults]\n{key} = {value}\n"))


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("confidence_below", "true", "at most 1, not True"),
        ("confidence_below", '"0.5"', "at most 1, not '0.5'"),
        ("name", "7", "needs a name of letters"),
        ("kinds", "true", "kinds must be a non-empty string or list of them, not True"),
        ("keys", "[1]", "keys must be a non-empty string or list of them, not 1"),
        ("missing_confidence", "true", "unknown value True"),
    ],
)
def test_rule_types_are_strict(key: str, value: str, why: str) -> None:
    body = {"name": '"x"', "tier": '"deny"', "confidence_below": "0.5", key: value}
    text = "[[rule]]\n" + "".join(f"{k} = {v}\n" for k, v in body.items())
    assert why in str(problem(text))


def test_every_problem_is_listed_in_the_files_order() -> None:
    err = problem(
        '[defaults]\ngrace = 5\ntier = "sometimes"\n\n'
        '[[rule]]\nname = "a"\ntier = "deny"\nkinds = ["clik"]\n\n'
        '[[rule]]\nname = "b"\nregion = [1, 2]\n'
    )
    lines = str(err).splitlines()
    assert [ln.split(": ", 1)[0] for ln in lines] == [
        "policy.toml:2", "policy.toml:3", "policy.toml:8", "policy.toml:10", "policy.toml:12",
    ]  # fmt: skip
    assert "rule 'b': needs a tier" in lines[3] and "rule 'b': region must be" in lines[4]
    assert (err.details["line"], err.details["problems"]) == (2, 5)


def test_a_long_list_of_problems_is_cut_short() -> None:
    text = "".join(rule(name=f"r{i}", kinds='"clik"') for i in range(12))
    lines = str(problem(text)).splitlines()
    assert len(lines) == 11 and lines[-1] == "... and 2 more problems"


def test_an_inline_rule_table_is_pointed_at_by_its_key() -> None:
    # the locator cannot see inside an inline table: the line of `rule =` is the best it has
    err = problem('rule = [{name = "x", tier = "nope"}]\n')
    assert str(err).startswith("policy.toml:1: rule 'x': unknown tier 'nope'")
