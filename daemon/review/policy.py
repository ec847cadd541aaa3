"""The policy: pure rules that give each action a tier.

A policy is a TOML file (``--policy PATH``): optional ``[defaults]`` and a list of
``[[rule]]`` tables, each naming a tier and some conditions. All of a rule's conditions
must hold (AND); the first matching rule wins; no match means the default tier. The
conditions are documented where users read them, in the shipped ``assets/policy.toml``.

Two choices worth knowing:

- ``confidence_below``: an action without a confidence does **not** match unless the
  rule says ``missing_confidence = "match"``. Confidence is the agent's own claim, so
  its absence is "no signal", and agents that never send one (Anthropic's computer
  tool) would otherwise have every click held.
- screenshot, cursor_position, zoom and wait only look or wait (``PASSIVE_KINDS``):
  they are ``auto`` unless a rule lists them in ``kinds`` (a rule without ``kinds``
  never applies to them, and neither does the default tier).

Everything here is pure (no clock, no display, no file). Reading a policy file, with
line-numbered errors, is :mod:`daemon.review.policy_file`, which builds on this module
(never the other way round).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

from capture.input.keys import char_for_keysym, name_for_keysym, parse_keys
from daemon.actions import PASSIVE_KINDS, ActionBase, Key, Type
from daemon.errors import DaemonError
from daemon.outcomes import Tier, Urgency

__all__ = [
    "DEFAULT_RATIONALES", "DEFAULT_RULE", "DEFAULT_URGENCY", "REVIEW_TIERS", "TIERS", "MissingConfidence",
    "OnFatigue",
    "Policy", "PolicyError", "Rule", "Ruling", "action_kind", "evaluate", "normalise_keys",
    "typed_text",
]  # fmt: skip

TIERS: tuple[Tier, ...] = get_args(Tier)
REVIEW_TIERS: tuple[Tier, ...] = ("grace", "approve", "approve2")  # the tiers a person decides on
DEFAULT_RULE = "(default)"  # parentheses cannot occur in a rule name
DEFAULT_RATIONALES = ("needed for the task", "checked on screen", "the person asked for it",
                      "not needed for the task", "wrong target", "too risky")  # fmt: skip
MissingConfidence = Literal["skip", "match"]
# how a review of each tier calls the person when its rule says nothing (docs/notifications.md):
# two people must answer an approve2, so it calls loudest; a grace window passes by itself
DEFAULT_URGENCY: dict[Tier, Urgency] = {"approve2": "critical", "approve": "normal", "grace": "log"}
OnFatigue = Literal["notice", "second_reviewer", "other_reviewer"]


class PolicyError(DaemonError):
    """A policy file that cannot be used (the message starts with ``file:line:``), or an
    action the policy cannot judge (agent-space points against a screen region)."""


@dataclass(frozen=True, slots=True)
class Ruling:
    """What the policy says about one action: its tier, the rule, and why in words.

    (Not a reviewer's :data:`daemon.outcomes.Verdict`: a ruling comes before any review.)
    """

    tier: Tier
    rule: str
    why: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``[[rule]]``: a tier for the actions that meet every condition given."""

    name: str
    tier: Tier
    description: str = ""
    kinds: frozenset[str] | None = None
    keys: frozenset[str] | None = None
    key_pattern: tuple[re.Pattern[str], ...] | None = None
    text: tuple[re.Pattern[str], ...] | None = None
    region: tuple[int, int, int, int] | None = None
    window: tuple[re.Pattern[str], ...] | None = None
    confidence_below: float | None = None
    missing_confidence: MissingConfidence = "skip"
    # what approving an action this rule holds demands (issue 11): approvers holding one of
    # these roles, a rationale from the policy's list, or free text at least this long
    approve_by: tuple[str, ...] = ()
    rationale: Literal["list"] | None = None
    rationale_min_length: int | None = None
    urgency: Urgency | None = None  # how its reviews are notified (None: the tier's default)
    line: int | None = None  # where the rule starts in its file

    def reads_title(self, kind: str) -> bool:
        """Whether :meth:`match` of an action of ``kind`` may look at the window's title:
        for any other, the title makes no difference to its answer."""
        if self.window is None:
            return False
        return kind in self.kinds if self.kinds is not None else kind not in PASSIVE_KINDS

    def match(self, action: ActionBase, window_title: str | None = None) -> list[str] | None:
        """Why ``action`` meets this rule (one clause per condition), or None if it does not."""
        kind = action_kind(action)
        why: list[str] = []
        if self.kinds is not None:
            if kind not in self.kinds:
                return None
            why.append(f"it is a {kind}")
        elif kind in PASSIVE_KINDS:
            return None
        if self.keys is not None or self.key_pattern is not None:
            combos = _combos(action)
            if self.keys is not None:
                hit = next((c for c in combos if c in self.keys), None)
                if hit is None:
                    return None
                why.append(f"it presses {hit}")
            if self.key_pattern is not None:
                found = _first_search(self.key_pattern, combos)
                if found is None:
                    return None
                why.append(f"{found.string} matches /{_clip(found.re.pattern)}/")
        if self.text is not None:
            typed = typed_text(action)
            found = _first_search(self.text, [typed] if typed else [])
            if found is None:
                return None
            where = repr(_clip(found[0])) if found[0] else f"position {found.start()}"
            why.append(f"the typed text matches /{_clip(found.re.pattern)}/ at {where}")
        if self.region is not None:
            point = self._point_inside(action)
            if point is None:
                return None
            why.append(f"({point[0]}, {point[1]}) is inside the region {list(self.region)}")
        if self.window is not None:
            found = _first_search(self.window, [window_title] if window_title else [])
            if found is None:
                return None
            title, pattern = _clip(found.string), _clip(found.re.pattern)
            why.append(f"the active window {title!r} matches /{pattern}/")
        if self.confidence_below is not None:
            conf = action.confidence
            if conf is None:
                if self.missing_confidence == "skip":
                    return None
                why.append("the agent gave no confidence")
            elif conf >= self.confidence_below:
                return None
            else:
                why.append(f"its confidence {conf:g} is below {self.confidence_below:g}")
        return why

    def _point_inside(self, action: ActionBase) -> tuple[int, int] | None:
        assert self.region is not None
        points = action.points()
        if points and action.space != "screen":
            # Regions are screen pixels; an agent-space point here would be a silent miss.
            raise PolicyError(f"rule {self.name!r}: the action must be in screen space")
        x0, y0, x1, y1 = self.region
        return next(((x, y) for x, y in points if x0 <= x < x1 and y0 <= y < y1), None)


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed policy. ``Policy()`` lets everything through (all ``auto``)."""

    rules: tuple[Rule, ...] = ()
    default_tier: Tier = "auto"
    grace_seconds: float = 5.0
    review_expiry_seconds: float | None = None  # None: reviews wait until decided
    rationale_required: frozenset[Tier] = frozenset({"approve2"})
    rationales: tuple[str, ...] = DEFAULT_RATIONALES
    # an unanswered critical review is notified again, escalated, after this long
    escalate_after_seconds: float = 120.0
    source: str = "<policy>"
    # keeping the reviewer honest (issue 11, docs/reviewers.md): the share of reviews after
    # which a test review (honeypot) is shown (0: never); an attention score under which an
    # approve review needs a second reviewer; time on duty after which the overlay says so,
    # and what then happens to that reviewer's approvals
    honeypot_rate: float = 0.0
    honeypot_kinds: frozenset[str] = frozenset({"displaced", "destructive", "amount", "replay"})
    attention_threshold: float | None = None
    duty_limit_hours: float = 4.0
    on_fatigue: OnFatigue = "notice"

    def urgency(self, tier: Tier, rule: str | None = None) -> Urgency:
        """How a review of ``tier`` held by ``rule`` is notified: the rule's ``urgency``,
        else the tier's default (:data:`DEFAULT_URGENCY`; ``log`` for the rest)."""
        found = self.rule_named(rule)
        if found is not None and found.urgency is not None:
            return found.urgency
        return DEFAULT_URGENCY.get(tier, "log")

    def needs_rationale(self, tier: Tier, rule: str | None = None) -> bool:
        """Whether a decision on a review of this tier (held by ``rule``) must carry one of
        ``rationales``: the tier is in ``rationale_required``, or the rule says ``rationale = "list"``."""
        found = self.rule_named(rule)
        return tier in self.rationale_required or (found is not None and found.rationale == "list")

    def rule_named(self, name: str | None) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


def evaluate(policy: Policy, action: ActionBase, *, window_title: str | None = None) -> Ruling:
    """The tier of ``action`` (in screen space) under ``policy``: first matching rule wins."""
    for rule in policy.rules:
        clauses = rule.match(action, window_title)
        if clauses is not None:
            label = f"rule {rule.name!r}" + (f" ({rule.description})" if rule.description else "")
            reasons = "; ".join(clauses) if clauses else "it matches every action"
            return Ruling(rule.tier, rule.name, f"{label}: {reasons} -> {rule.tier}")
    kind = action_kind(action)
    if kind in PASSIVE_KINDS:
        return Ruling(
            "auto", DEFAULT_RULE, f"a {kind} changes nothing and no rule names it -> auto"
        )
    tier = policy.default_tier
    return Ruling(tier, DEFAULT_RULE, f"no rule matches this {kind}; the default tier is {tier}")


def action_kind(action: ActionBase) -> str:
    """The action's kind (``"click"``, ``"type"``...), as rules name it."""
    return str(getattr(action, "action", type(action).__name__.lower()))


# --- keys and typed text ------------------------------------------------------------

# Modifier keysyms (capture.input.keys.MODIFIER_NAMES) by the name rules use: left and
# right alike, ISO_Level3_Shift as AltGr.
_MODIFIERS = {
    f"{base}_{side}": short
    for base, short in (("Control", "ctrl"), ("Alt", "alt"), ("Shift", "shift"),
                        ("Super", "super"), ("Meta", "meta"), ("Hyper", "hyper"))
    for side in "LR"
} | {"ISO_Level3_Shift": "altgr"}  # fmt: skip
_MODIFIER_ORDER = ("ctrl", "alt", "shift", "super", "meta", "hyper", "altgr")
_PUNCTUATION: dict[int, str] = {}


def _key_name(keysym: int) -> tuple[str, bool]:
    """(normalised name, is a modifier) of one keysym."""
    name = name_for_keysym(keysym)
    if name in _MODIFIERS:
        return _MODIFIERS[name], True
    if 0x20 <= keysym <= 0x7E:
        ch = chr(keysym)
        # Punctuation by its X name: "ctrl+plus" reads (and regexes) better than "ctrl++".
        return (ch.lower() if ch.isalnum() else _punctuation_name(keysym)), False
    letter = char_for_keysym(keysym)
    if letter is not None and letter.isalpha():
        return letter.lower(), False
    return name, False


def _punctuation_name(keysym: int) -> str:
    if not _PUNCTUATION:
        from Xlib import XK

        for attr in sorted(dir(XK)):
            value = getattr(XK, attr)
            if attr.startswith("XK_") and isinstance(value, int) and 0x20 <= value <= 0x7E:
                _PUNCTUATION.setdefault(value, attr[3:])
    return _PUNCTUATION.get(keysym, chr(keysym))


def normalise_keys(keys: str) -> tuple[str, ...]:
    """``"Ctrl+Alt+Del super+L"`` -> ``("ctrl+alt+Delete", "super+l")``.

    Raises CaptureError for key names no keyboard has.
    """
    out = []
    for combo in parse_keys(keys):
        mods: set[str] = set()
        others: list[str] = []
        for ks in combo.keysyms:
            name, is_mod = _key_name(ks)
            if is_mod:
                mods.add(name)
            else:
                others.append(name)
        out.append("+".join([m for m in _MODIFIER_ORDER if m in mods] + others))
    return tuple(out)


def _combos(action: ActionBase) -> tuple[str, ...]:
    return normalise_keys(action.keys) if isinstance(action, Key) else ()


def typed_text(action: ActionBase) -> str | None:
    """The text an action types: a type action's text, or what a key action's keys type.

    Key actions count too so that spelling a command key by key does not slip past a
    ``text`` rule. Combos with modifiers other than shift type nothing.
    """
    if isinstance(action, Type):
        return action.text
    if not isinstance(action, Key):
        return None
    chars = []
    for combo in parse_keys(action.keys):
        mods = {_key_name(ks)[0] for ks in combo.modifiers}
        ch = char_for_keysym(combo.key)
        if ch is not None and mods <= {"shift"}:
            chars.append(ch.upper() if mods else ch)
    return "".join(chars) or None


def _first_search(patterns: tuple[re.Pattern[str], ...], texts: Any) -> re.Match[str] | None:
    for text in texts:
        for pattern in patterns:
            found = pattern.search(text)
            if found is not None:
                return found
    return None


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
