"""The policy's rules: each condition alone and at its edges, together, first match, defaults.

Written to kill mutations of :func:`daemon.review.policy.evaluate`: every comparison is
probed on both sides of its boundary and every ``why`` is compared whole. The file format
is tested in test_policy_file.py; the shipped policy at the end here.
"""

from __future__ import annotations

import pytest

from capture.coords import Space
from capture.input.keys import MODIFIER_NAMES
from daemon.actions import (
    PASSIVE_KINDS,
    ActionBase,
    Click,
    CursorPosition,
    Drag,
    HoldKey,
    Key,
    MouseDown,
    Move,
    Screenshot,
    Scroll,
    SpaceName,
    Type,
    Wait,
    Zoom,
)
from daemon.outcomes import Tier
from daemon.review.policy import (
    DEFAULT_RULE,
    REVIEW_TIERS,
    TIERS,
    Policy,
    PolicyError,
    Ruling,
    action_kind,
    evaluate,
    normalise_keys,
    typed_text,
)
from daemon.review.policy_file import default_policy, parse_policy


def policy(rules: str, defaults: str = "") -> Policy:
    return parse_policy(f"[defaults]\n{defaults}\n{rules}", "test.toml")


def rule(tier: str = "approve", name: str = "r", **conds: str) -> str:
    body = "".join(f"{k} = {v}\n" for k, v in conds.items())
    return f'[[rule]]\nname = "{name}"\ntier = "{tier}"\n{body}\n'


def click(x: int = 10, y: int = 10, confidence: float | None = None) -> Click:
    return Click(x=x, y=y, confidence=confidence, space="screen")


def tier(p: Policy, action: ActionBase, window: str | None = None) -> str:
    return evaluate(p, action, window_title=window).tier


def why(p: Policy, action: ActionBase, window: str | None = None) -> str:
    return evaluate(p, action, window_title=window).why


# --- the vocabulary -----------------------------------------------------------------------


def test_tiers_from_least_to_most_friction_and_the_ones_a_person_decides() -> None:
    assert TIERS == ("auto", "notify", "grace", "approve", "approve2", "deny")
    assert REVIEW_TIERS == ("grace", "approve", "approve2")


def test_the_wire_space_names_are_capture_spaces() -> None:
    from typing import get_args

    assert {Space(name) for name in get_args(SpaceName)} == {Space.AGENT, Space.SCREEN}


@pytest.mark.parametrize(
    ("action", "kind"),
    [(click(), "click"), (CursorPosition(), "cursor_position"), (MouseDown(), "mouse_down"),
     (HoldKey(keys="a", duration=1), "hold_key")],
)  # fmt: skip
def test_action_kind_is_the_wire_name(action: ActionBase, kind: str) -> None:
    assert action_kind(action) == kind


def test_action_kind_of_a_model_without_one_is_its_class_name() -> None:
    class Frob(ActionBase):
        pass

    assert action_kind(Frob()) == "frob"


# --- tiers and defaults ---------------------------------------------------------------------


@pytest.mark.parametrize("t", TIERS)
def test_every_tier_is_reachable_by_a_rule_and_as_the_default(t: Tier) -> None:
    assert evaluate(policy(rule(t, kinds='["click"]')), click()) == Ruling(
        t, "r", f"rule 'r': it is a click -> {t}"
    )
    assert evaluate(policy("", f'tier = "{t}"'), Type(text="hi")) == Ruling(
        t, DEFAULT_RULE, f"no rule matches this type; the default tier is {t}"
    )


def test_no_rule_means_the_default_tier_auto() -> None:
    assert evaluate(Policy(), click()) == Ruling(
        "auto", "(default)", "no rule matches this click; the default tier is auto"
    )


def test_policy_defaults() -> None:
    p = Policy()
    assert (p.rules, p.default_tier, p.grace_seconds, p.review_expiry_seconds, p.source) == (
        (), "auto", 5.0, None, "<policy>",
    )  # fmt: skip
    assert p.rationale_required == frozenset({"approve2"})
    assert [t for t in TIERS if p.needs_rationale(t)] == ["approve2"]
    # the built-in list and the shipped file's say the same
    assert p.rationales == default_policy().rationales
    none = Policy(rationale_required=frozenset())
    assert not any(none.needs_rationale(t) for t in TIERS)


@pytest.mark.parametrize("kind", sorted(PASSIVE_KINDS))
def test_passive_actions_are_auto_unless_a_rule_names_them(kind: str) -> None:
    action = {"screenshot": Screenshot(), "cursor_position": CursorPosition(),
              "wait": Wait(duration=0.1), "zoom": Zoom(region=(0, 0, 5, 5))}[kind]  # fmt: skip
    everything = policy(rule("deny", name="all"), 'tier = "approve"')
    assert evaluate(everything, action) == Ruling(
        "auto", DEFAULT_RULE, f"a {kind} changes nothing and no rule names it -> auto"
    )
    assert tier(policy(rule("notify", kinds=f'["{kind}"]')), action) == "notify"


def test_a_rule_without_conditions_matches_every_active_action() -> None:
    p = policy(rule("deny", name="everything"))
    assert evaluate(p, click()) == Ruling(
        "deny", "everything", "rule 'everything': it matches every action -> deny"
    )
    assert tier(p, Type(text="x")) == "deny"


def test_a_deny_rule_is_named_in_its_ruling_with_its_description() -> None:
    p = policy(rule("deny", name="no-typing", kinds='["type"]', description='"typing is off"'))
    assert evaluate(p, Type(text="x")) == Ruling(
        "deny", "no-typing", "rule 'no-typing' (typing is off): it is a type -> deny"
    )


def test_first_matching_rule_wins() -> None:
    p = policy(
        rule("deny", name="first", text="'rm'")
        + rule("approve2", name="second", text="'rm -rf'")
        + rule("grace", name="third", kinds='["type"]')
    )
    v = evaluate(p, Type(text="rm -rf /"))
    assert (v.tier, v.rule) == ("deny", "first")
    assert evaluate(p, Type(text="ls")).rule == "third"
    assert evaluate(p, click()).rule == DEFAULT_RULE


# --- kinds ---------------------------------------------------------------------------------


def test_kinds() -> None:
    p = policy(rule(kinds='["click", "drag"]'))
    assert why(p, click()) == "rule 'r': it is a click -> approve"
    assert tier(p, Drag(path=((0, 0), (5, 5)), space="screen")) == "approve"
    assert tier(p, Move(x=1, y=1, space="screen")) == "auto"
    assert tier(p, Type(text="x")) == "auto"


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys",
    ["Ctrl+Alt+Del", "alt+ctrl+Delete", "rctrl+ralt+del", "Control_R+Alt_R+Delete",
     "Control_L+Alt_L+Delete", "ctrl+a ctrl+alt+Delete"],
)  # fmt: skip
def test_keys_match_whatever_the_order_aliases_and_sides(keys: str) -> None:
    assert why(policy(rule(keys='["ctrl+alt+Delete"]')), Key(keys=keys)) == (
        "rule 'r': it presses ctrl+alt+Delete -> approve"
    )


@pytest.mark.parametrize("keys", ["ctrl+Delete", "alt+Delete", "ctrl+alt+BackSpace", "Delete"])
def test_keys_do_not_match_other_combos(keys: str) -> None:
    assert tier(policy(rule(keys='["ctrl+alt+Delete"]')), Key(keys=keys)) == "auto"


def test_keys_name_the_first_combo_pressed_that_is_listed() -> None:
    p = policy(rule(keys='["ctrl+w", "ctrl+q"]'))
    assert why(p, Key(keys="a ctrl+q ctrl+w")) == "rule 'r': it presses ctrl+q -> approve"


def test_keys_ignore_letter_case_but_not_extra_modifiers() -> None:
    p = policy(rule(keys='["ctrl+w"]'))
    assert tier(p, Key(keys="ctrl+W")) == "approve"
    assert tier(p, Key(keys="CTRL+w")) == "approve"
    assert tier(p, HoldKey(keys="ctrl+w", duration=1)) == "approve"
    assert tier(p, Key(keys="ctrl+shift+w")) == "auto"
    assert tier(p, Type(text="ctrl+w")) == "auto"  # typing the words presses no combo


@pytest.mark.parametrize(
    ("keys", "normal"),
    [
        ("shift+ctrl+T super+L Ctrl+Alt+Del ctrl+plus Return",
         ("ctrl+shift+t", "super+l", "ctrl+alt+Delete", "ctrl+plus", "Return")),
        ("Hyper_L+Meta_L+Super_R+Shift_R+Alt_R+Control_R+x",
         ("ctrl+alt+shift+super+meta+hyper+x",)),
        ("Hyper_R+a Meta_R+a Shift_L+a", ("hyper+a", "meta+a", "shift+a")),
        ("ctrl+1 ctrl+A ctrl+eacute ctrl+KP_Add", ("ctrl+1", "ctrl+a", "ctrl+é", "ctrl+KP_Add")),
        # punctuation by its X name, the first in alphabetical order where there are two
        ("ctrl+quoteright ctrl+apostrophe ctrl+grave ctrl+space ctrl+asciitilde",
         ("ctrl+apostrophe", "ctrl+apostrophe", "ctrl+grave", "ctrl+space", "ctrl+asciitilde")),
    ],
)  # fmt: skip
def test_normalise_keys(keys: str, normal: tuple[str, ...]) -> None:
    assert normalise_keys(keys) == normal


@pytest.mark.parametrize("side", ["L", "R"])
@pytest.mark.parametrize(
    ("base", "short"),
    [("Control", "ctrl"), ("Alt", "alt"), ("Shift", "shift"), ("Super", "super"),
     ("Meta", "meta"), ("Hyper", "hyper")],
)  # fmt: skip
def test_every_modifier_key_left_or_right(base: str, side: str, short: str) -> None:
    assert f"{base}_{side}" in MODIFIER_NAMES  # the ones capture presses as modifiers
    assert normalise_keys(f"{base}_{side}+x") == (f"{short}+x",)


def test_altgr_is_a_modifier() -> None:
    # it was keysym 0 ("0x0+q") while python-xlib's xkb keysym group was not loaded
    assert normalise_keys("altgr+q") == ("altgr+q",)


def test_punctuation_names_come_from_xlib(monkeypatch: pytest.MonkeyPatch) -> None:
    import daemon.review.policy as mod

    monkeypatch.setattr(mod, "_PUNCTUATION", {})  # built afresh, not left by another test
    assert normalise_keys("ctrl+plus ctrl+quoteright ctrl+space shift+asciitilde") == (
        "ctrl+plus", "ctrl+apostrophe", "ctrl+space", "shift+asciitilde",
    )  # fmt: skip


def test_key_pattern() -> None:
    p = policy(rule(key_pattern=r"'^ctrl\+alt\+F\d+$'"))
    assert why(p, Key(keys="a ctrl+alt+F3")) == (
        r"rule 'r': ctrl+alt+F3 matches /^ctrl\+alt\+F\d+$/ -> approve"
    )
    assert tier(p, Key(keys="alt+ctrl+f12")) == "approve"
    assert tier(p, Key(keys="ctrl+F3")) == "auto"
    assert tier(p, Type(text="ctrl+alt+F3")) == "auto"


def test_key_pattern_names_the_first_pattern_that_matches() -> None:
    p = policy(rule(key_pattern=r"['^super\+', 'l$']"))
    assert why(p, Key(keys="super+l")) == r"rule 'r': super+l matches /^super\+/ -> approve"


def test_keys_and_key_pattern_must_both_hold() -> None:
    p = policy(rule(keys='["ctrl+w", "super+l"]', key_pattern="'^super'"))
    assert why(p, Key(keys="super+l")) == (
        "rule 'r': it presses super+l; super+l matches /^super/ -> approve"
    )
    assert tier(p, Key(keys="ctrl+w")) == "auto"
    assert tier(p, Key(keys="super+x")) == "auto"


# --- typed text --------------------------------------------------------------------------


def test_text_regex_searches_typed_text() -> None:
    p = policy(rule(text=r"['\brm\s+-rf\b', 'mkfs']"))
    assert why(p, Type(text="cd /tmp && rm -rf build")) == (
        r"rule 'r': the typed text matches /\brm\s+-rf\b/ at 'rm -rf' -> approve"
    )
    assert why(p, Type(text="sudo mkfs.ext4 /dev/sdb")) == (
        "rule 'r': the typed text matches /mkfs/ at 'mkfs' -> approve"
    )
    assert tier(p, Type(text="perform -rf")) == "auto"
    assert tier(p, click()) == "auto"


def test_an_empty_match_is_named_by_its_position() -> None:
    p = policy(rule(text="'(?=rm)'"))
    assert why(p, Type(text="cd; rm x")) == (
        "rule 'r': the typed text matches /(?=rm)/ at position 4 -> approve"
    )


def test_text_also_sees_what_key_actions_type() -> None:
    p = policy(rule(text=r"'rm -rf'"))
    assert tier(p, Key(keys="r m space minus r f Return")) == "approve"
    assert tier(p, Key(keys="ctrl+r m")) == "auto"


@pytest.mark.parametrize(
    ("action", "typed"),
    [(Type(text="ctrl+w"), "ctrl+w"), (Key(keys="r m space minus r f"), "rm -rf"),
     (Key(keys="shift+a a shift+1 Return"), "Aa1\n"), (Key(keys="ctrl+c shift+a"), "A"),
     (Key(keys="ctrl+c"), None), (Key(keys="super+a alt+b"), None), (click(), None)],
)  # fmt: skip
def test_typed_text(action: ActionBase, typed: str | None) -> None:
    assert typed_text(action) == typed


# --- region --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "y", "inside"),
    [(100, 100, True), (199, 149, True), (99, 120, False), (200, 120, False),
     (120, 99, False), (120, 150, False)],
)  # fmt: skip
def test_region_x0_y0_inclusive_x1_y1_exclusive(x: int, y: int, inside: bool) -> None:
    p = policy(rule(region="[100, 100, 200, 150]"))
    assert tier(p, click(x, y)) == ("approve" if inside else "auto")


def test_region_names_the_first_point_inside() -> None:
    p = policy(rule(region="[100, 100, 200, 150]"))
    drag = Drag(path=((0, 0), (150, 120), (160, 130), (300, 300)), space="screen")
    assert why(p, drag) == (
        "rule 'r': (150, 120) is inside the region [100, 100, 200, 150] -> approve"
    )
    assert tier(p, Scroll(dy=3)) == "auto"  # no point: a region cannot match, whatever its space
    assert tier(p, Type(text="x")) == "auto"


def test_region_refuses_agent_space_points() -> None:
    p = policy(rule(region="[0, 0, 10, 10]"))
    with pytest.raises(PolicyError) as info:
        evaluate(p, Click(x=1, y=1))  # space defaults to "agent"
    assert str(info.value) == "rule 'r': the action must be in screen space"


# --- window title --------------------------------------------------------------------------


def test_window_title_regex() -> None:
    p = policy(rule(window="'(?i)terminal'"))
    assert why(p, Type(text="ls"), "Terminal — bash") == (
        "rule 'r': the active window 'Terminal — bash' matches /(?i)terminal/ -> approve"
    )
    assert tier(p, Type(text="ls"), "Untitled - gedit") == "auto"
    assert tier(p, Type(text="ls"), None) == "auto"  # unknown title never matches
    assert tier(policy(rule(window="'^'")), Type(text="ls"), "") == "auto"  # nor does none


@pytest.mark.parametrize(("length", "shown"), [(60, "x" * 60), (61, "x" * 57 + "...")])
def test_long_titles_are_clipped_at_60_characters(length: int, shown: str) -> None:
    p = policy(rule(window="'x'"))
    assert why(p, Type(text="ls"), "x" * length) == (
        f"rule 'r': the active window '{shown}' matches /x/ -> approve"
    )


# --- confidence ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confidence", "held"),
    [(0.0, True), (0.5, True), (0.849, True), (0.85, False), (0.851, False), (1.0, False)],
)
def test_confidence_below_is_strictly_below(confidence: float, held: bool) -> None:
    p = policy(rule(confidence_below="0.85"))
    assert tier(p, click(confidence=confidence)) == ("approve" if held else "auto")


def test_confidence_below_says_both_numbers() -> None:
    p = policy(rule(confidence_below="0.85"))
    assert why(p, click(confidence=0.5)) == "rule 'r': its confidence 0.5 is below 0.85 -> approve"


@pytest.mark.parametrize("missing", [None, "skip", "match"])
def test_missing_confidence_skips_unless_told_to_match(missing: str | None) -> None:
    extra = {} if missing is None else {"missing_confidence": f'"{missing}"'}
    p = policy(rule(confidence_below="0.85", **extra))
    if missing == "match":
        assert why(p, click()) == "rule 'r': the agent gave no confidence -> approve"
    else:
        assert tier(p, click()) == "auto"
    assert tier(p, click(confidence=0.9)) == "auto"
    assert tier(p, click(confidence=0.1)) == "approve"


# --- combined ------------------------------------------------------------------------------


def test_all_conditions_must_hold_and_each_is_said() -> None:
    p = policy(
        rule(kinds='["click"]', region="[0, 0, 100, 100]", confidence_below="0.9", window="'Bank'")
    )
    assert why(p, click(5, 5, 0.5), "My Bank") == (
        "rule 'r': it is a click; (5, 5) is inside the region [0, 0, 100, 100]; the active "
        "window 'My Bank' matches /Bank/; its confidence 0.5 is below 0.9 -> approve"
    )
    assert tier(p, click(5, 5, 0.95), "My Bank") == "auto"
    assert tier(p, click(500, 5, 0.5), "My Bank") == "auto"
    assert tier(p, click(5, 5, 0.5), "Mail") == "auto"
    assert tier(p, Move(x=5, y=5, confidence=0.5, space="screen"), "My Bank") == "auto"


# --- what a rule's name finds: its demands and its urgency ------------------------------------


def test_a_rule_is_found_by_its_own_name_only() -> None:
    p = policy(rule(name="a") + rule(name="b", kinds='["key"]'))
    found = p.rule_named("b")
    assert found is not None and found.name == "b" and found.kinds == frozenset({"key"})
    assert p.rule_named("nope") is None and p.rule_named(None) is None


def test_a_rules_rationale_list_is_asked_for_that_rule_only() -> None:
    p = policy(rule(name="listed", rationale='"list"') + rule(name="plain"), 'rationales = ["checked"]')
    assert p.needs_rationale("approve", "listed") is True
    assert p.needs_rationale("approve", "plain") is False
    assert p.needs_rationale("approve") is False  # the default tier, or ask()


def test_tiers_no_review_is_opened_for_are_only_logged() -> None:
    p = default_policy()
    assert [p.urgency(t) for t in ("auto", "notify", "deny")] == ["log", "log", "log"]
