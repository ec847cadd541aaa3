"""Reading a policy file: TOML -> :class:`~daemon.review.policy.Policy`, every error with its line.

The file's shape is a pydantic model (:class:`PolicyFile`: strict types, so no ``true``
taken as a number nor ``0.5`` as a string, and no unknown key). tomllib gives no
positions for values, so :class:`_Locator` finds the line of each validation error's
location in the text: a policy that cannot be used fails at start with ``file:line: why``,
one line per problem, the first in the file first.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from capture import CaptureError
from daemon.actions import ACTION_KINDS
from daemon.outcomes import Tier, Urgency
from daemon.review.policy import (
    REVIEW_TIERS,
    TIERS,
    MissingConfidence,
    OnFatigue,
    Policy,
    PolicyError,
    Rule,
    normalise_keys,
)

__all__ = ["DEFAULT_POLICY_PATH", "PolicyFile", "default_policy", "load_policy", "parse_policy"]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[2] / "assets" / "policy.toml"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME_RULE = "needs a name of letters, digits, '-', '_' or '.' (at most 64)"
_HIGH = {"grace_seconds": 300.0, "review_expiry_seconds": 7 * 86400.0, "confidence_below": 1.0,
         "escalate_after_seconds": 86400.0, "honeypot_rate": 1.0, "attention_threshold": 100.0,
         "duty_limit_hours": 24.0}  # fmt: skip
_MAX_RATIONALE = 2_000  # DecisionRequest.rationale's own limit
_APPROVED_TIERS = ("approve", "approve2")  # the tiers whose reviews a person approves
_MAX_SHOWN = 10  # problems listed in one error; the rest are counted
HoneypotKind = Literal["displaced", "destructive", "amount", "replay"]
_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


def _listify(value: Any) -> Any:
    """A single string where a list is expected stands for a list of one."""
    return [value] if isinstance(value, str) else value


def _problem(
    why: str, needle: str | None = None, key: str | None = None, index: int | None = None
) -> PydanticCustomError:
    """A complaint in our words; ``needle`` (text in the value), ``key`` and ``index`` (of a
    rule, for a check of the whole list) point at its line."""
    ctx = {"why": why, "needle": needle, "key": key, "index": index}
    return PydanticCustomError("policy", "{why}", ctx)


_Text = Annotated[str, Field(min_length=1)]
_Strings = Annotated[list[_Text], BeforeValidator(_listify), Field(min_length=1)]


class DefaultsFile(BaseModel):
    """``[defaults]``; a key left out keeps :class:`Policy`'s own default."""

    model_config = _STRICT

    tier: Tier | None = None
    grace_seconds: float | None = Field(None, gt=0, le=_HIGH["grace_seconds"])
    review_expiry_seconds: float | None = Field(None, gt=0, le=_HIGH["review_expiry_seconds"])
    rationale_required: Annotated[list[str], BeforeValidator(_listify)] | None = None
    rationales: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, min_length=1
    )
    escalate_after_seconds: float | None = Field(None, gt=0, le=_HIGH["escalate_after_seconds"])
    honeypot_rate: float | None = Field(None, gt=0, le=_HIGH["honeypot_rate"])
    attention_threshold: float | None = Field(None, gt=0, le=_HIGH["attention_threshold"])
    duty_limit_hours: float | None = Field(None, gt=0, le=_HIGH["duty_limit_hours"])
    on_fatigue: OnFatigue | None = None
    honeypot_kinds: Annotated[list[HoneypotKind], BeforeValidator(_listify), Field(min_length=1)] | None = None

    @field_validator("rationale_required")
    @classmethod
    def _decided_tiers(cls, value: list[str]) -> list[str]:
        for t in value:
            if t not in REVIEW_TIERS:
                who = f"unknown tier {t!r}"
                if t in TIERS:
                    who = f"{t!r} is not a tier a person decides on"
                expected = ", ".join(REVIEW_TIERS)
                raise _problem(f"rationale_required: {who} (expected one of {expected})", t)
        return value

    @field_validator("rationales")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        twice = next((r for i, r in enumerate(value) if r in value[:i]), None)
        if twice is not None:
            raise _problem(f"rationales must be distinct: {twice!r} is listed twice", twice)
        return value


class RuleFile(BaseModel):
    """One ``[[rule]]``, as written (regexes as text, keys normalised)."""

    model_config = _STRICT

    name: str = Field(pattern=_NAME)
    tier: Tier
    description: str = ""
    kinds: _Strings | None = None
    keys: _Strings | None = None
    key_pattern: _Strings | None = None
    text: _Strings | None = None
    region: list[int] | None = Field(None, min_length=4, max_length=4)
    window: _Strings | None = None
    confidence_below: float | None = Field(None, gt=0, le=_HIGH["confidence_below"])
    missing_confidence: MissingConfidence | None = None
    approve_by: _Strings | None = None
    rationale: Literal["list"] | None = None
    rationale_min_length: int | None = Field(None, ge=1, le=_MAX_RATIONALE)
    urgency: Urgency | None = None

    @field_validator("approve_by")
    @classmethod
    def _role_names(cls, value: list[str]) -> list[str]:
        for role in value:
            if not re.fullmatch(_NAME, role):
                raise _problem(f"approve_by: role {role!r} {_NAME_RULE}", role)
        return value

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        for k in value:
            if k not in ACTION_KINDS:
                raise _problem(f"unknown action kind {k!r} {_expected(k, ACTION_KINDS)}", k)
        return value

    @field_validator("keys")
    @classmethod
    def _one_combo_each(cls, value: list[str]) -> list[str]:
        out = []
        for entry in value:
            try:
                combos = normalise_keys(entry)
            except CaptureError as exc:
                raise _problem(f"keys: {exc}", entry) from exc
            if len(combos) != 1:
                raise _problem(f"keys: give one combo per entry, not {entry!r}", entry)
            out.append(combos[0])
        return out  # normalised, as the rule compares them

    @field_validator("key_pattern", "text", "window")
    @classmethod
    def _regexes(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                why = f"bad regex in {info.field_name} {pattern!r}: {exc}"
                raise _problem(why, pattern) from exc
        return value

    @field_validator("region")
    @classmethod
    def _not_empty(cls, value: list[int]) -> list[int]:
        x0, y0, x1, y1 = value
        if not (x0 < x1 and y0 < y1):
            raise _problem(f"region {value!r} is empty: it needs x0 < x1 and y0 < y1")
        return value

    @model_validator(mode="after")
    def _confidence_pair(self) -> RuleFile:
        if self.missing_confidence is not None and self.confidence_below is None:
            raise _problem("missing_confidence needs confidence_below", key="missing_confidence")
        if self.rationale is not None and self.rationale_min_length is not None:
            why = "give rationale = \"list\" or rationale_min_length, not both"
            raise _problem(why, key="rationale_min_length")
        demands = [k for k in ("approve_by", "rationale", "rationale_min_length")
                   if getattr(self, k) is not None]  # fmt: skip
        if demands and self.tier not in _APPROVED_TIERS:
            why = f"{demands[0]} applies to approvals, and a {self.tier} rule asks for none"
            raise _problem(f"{why} (use tier approve or approve2)", key=demands[0])
        if self.urgency is not None and self.tier not in REVIEW_TIERS:
            why = f"urgency says how a review is notified, and a {self.tier} rule opens none"
            raise _problem(f"{why} (use tier {', '.join(REVIEW_TIERS)})", key="urgency")
        return self

    def rule(self, line: int | None) -> Rule:
        def patterns(texts: list[str] | None) -> tuple[re.Pattern[str], ...] | None:
            return None if texts is None else tuple(re.compile(t) for t in texts)

        region = None
        if self.region is not None:
            x0, y0, x1, y1 = self.region
            region = (x0, y0, x1, y1)
        return Rule(
            name=self.name, tier=self.tier, description=self.description,
            kinds=None if self.kinds is None else frozenset(self.kinds),
            keys=None if self.keys is None else frozenset(self.keys),
            key_pattern=patterns(self.key_pattern), text=patterns(self.text),
            region=region,
            window=patterns(self.window), confidence_below=self.confidence_below,
            missing_confidence=self.missing_confidence or "skip",
            approve_by=tuple(self.approve_by or ()), rationale=self.rationale,
            rationale_min_length=self.rationale_min_length, urgency=self.urgency, line=line,
        )  # fmt: skip


class PolicyFile(BaseModel):
    """A whole policy file: ``[defaults]`` and the ``[[rule]]`` tables, in order."""

    model_config = _STRICT

    defaults: DefaultsFile = DefaultsFile()
    rule: list[RuleFile] = []

    @field_validator("rule")
    @classmethod
    def _unique_names(cls, rules: list[RuleFile]) -> list[RuleFile]:
        for i, r in enumerate(rules):
            if any(earlier.name == r.name for earlier in rules[:i]):
                why = f"the name {r.name!r} is used by an earlier rule"
                raise _problem(why, key="name", index=i)
        return rules

    def policy(self, source: str, where: _Locator) -> Policy:
        fields = self.defaults.model_dump(exclude_unset=True)
        if "tier" in fields:
            fields["default_tier"] = fields.pop("tier")
        if "rationale_required" in fields:
            fields["rationale_required"] = frozenset(fields["rationale_required"])
        if "rationales" in fields:
            fields["rationales"] = tuple(fields["rationales"])
        if "honeypot_kinds" in fields:
            fields["honeypot_kinds"] = frozenset(fields["honeypot_kinds"])
        rules = tuple(r.rule(where.line("rule", i)) for i, r in enumerate(self.rule))
        return Policy(rules=rules, source=source, **fields)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and parse the policy file at ``path``; raises PolicyError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read the policy: {exc}", source=str(path)) from exc
    return parse_policy(text, source=str(path))


def default_policy() -> Policy:
    """The shipped default policy (``assets/policy.toml`` beside the packages)."""
    if not DEFAULT_POLICY_PATH.is_file():
        raise PolicyError(
            f"the default policy is missing: looked for {DEFAULT_POLICY_PATH}",
            source=str(DEFAULT_POLICY_PATH),
        )
    return load_policy(DEFAULT_POLICY_PATH)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse a policy's TOML text; raises PolicyError naming ``source``, the line and why."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))
        line = int(at[1]) if at else len(text.splitlines())  # "at end of document"
        raise _error(source, [(line, f"invalid TOML: {exc}")]) from exc
    where = _Locator(text)
    try:
        model = PolicyFile.model_validate(data)
    except ValidationError as exc:
        found = [_Complaint(err, data, where).said() for err in exc.errors(include_url=False)]
        raise _error(source, found) from None
    return model.policy(source, where)


def _error(source: str, found: list[tuple[int | None, str]]) -> PolicyError:
    found = sorted(found, key=lambda f: (f[0] is None, f[0] or 0))  # the file's order
    lines = [f"{source}:{line}: {why}" if line else f"{source}: {why}" for line, why in found]
    if len(lines) > _MAX_SHOWN:
        lines[_MAX_SHOWN:] = [f"... and {len(lines) - _MAX_SHOWN} more problems"]
    return PolicyError("\n".join(lines), source=source, line=found[0][0], problems=len(found))


def _expected(value: str, choices: tuple[str, ...]) -> str:
    # difflib misses a word cut short ("grace" for "grace_seconds"): a prefix counts too
    close = difflib.get_close_matches(value, choices, n=1) or [
        c for c in choices if value and c.startswith(value)
    ]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"(expected one of {', '.join(choices)}){hint}"


class _Complaint:
    """One pydantic error said as ``(line, "rule 'x': why")``, in the words of the file."""

    def __init__(self, err: ErrorDetails, data: dict[str, Any], where: _Locator) -> None:
        self.err, self.data, self.where = err, data, where
        loc = self.loc = tuple(err["loc"])
        self.value: Any = err.get("input")
        self.table = str(loc[0])  # tomllib gives a table, so every error is inside one
        ctx = err.get("ctx") or {}
        self.needle: str | None = ctx.get("needle")
        if self.table == "rule":
            index = loc[1] if len(loc) > 1 else ctx.get("index")
            assert index is None or isinstance(index, int)  # the position in the list
            self.rule: int | None = index
            self.field = str(loc[2]) if len(loc) > 2 else None
        else:
            self.rule, self.field = None, str(loc[1]) if len(loc) > 1 else None
        self.key: str | None = ctx.get("key") or self.field

    def said(self) -> tuple[int | None, str]:
        needle = self.needle
        if needle is None and isinstance(self.value, str):
            needle = self.value  # an entry of a multi-line list is on a line of its own
        line = self.where.line(self.table, self.rule or 0, self.key, needle)
        line = line or self.where.line("", 0, self.table)  # e.g. `rule = 3` at the top
        return line, self.label() + self.why()

    def label(self) -> str:
        if self.table == "defaults":
            return "[defaults]: "
        if self.rule is None:
            return ""
        raw = self.data["rule"][self.rule]
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and re.fullmatch(_NAME, name):
            return f"rule {name!r}: "
        return f"rule #{self.rule + 1}: "

    def why(self) -> str:
        kind, field, value = self.err["type"], self.field, _shown(self.value)
        if kind == "policy":
            return str(self.err["msg"])
        if kind == "extra_forbidden":
            key = str(self.loc[-1])
            if len(self.loc) == 1:
                return f"unknown table {key!r} {_expected(key, tuple(PolicyFile.model_fields))}"
            model = RuleFile if self.table == "rule" else DefaultsFile
            return f"unknown key {key!r} {_expected(key, tuple(model.model_fields))}"
        if field is None:
            if self.table == "defaults":
                return "must be a table"
            return "rules must be [[rule]] tables" if self.rule is None else "must be a table"
        if field == "name":
            return _NAME_RULE if kind == "missing" else f"{_NAME_RULE}, not {value}"
        if field == "tier":
            if kind == "missing":
                return f"needs a tier (one of {', '.join(TIERS)})"
            return f"unknown tier {value} {_expected(str(self.value), TIERS)}"
        if field == "urgency":
            choices = get_args(Urgency)
            return f"unknown urgency {value} {_expected(str(self.value), choices)}"
        if field == "honeypot_kinds":
            choices = get_args(HoneypotKind)
            return f"honeypot_kinds must list some of {', '.join(choices)}, not {value}"
        if field == "on_fatigue":
            choices = get_args(OnFatigue)
            return f"unknown value {value} {_expected(str(self.value), choices)}"
        if field == "missing_confidence":
            choices = get_args(MissingConfidence)
            return f"unknown value {value} {_expected(str(self.value), choices)}"
        if field in _HIGH:
            return f"{field} must be a number above 0 and at most {_HIGH[field]:g}, not {value}"
        if field == "region":
            region = _shown(self.data["rule"][self.rule]["region"])
            return f"region must be [x0, y0, x1, y1] in screen pixels, not {region}"
        if field == "rationale":
            return f'rationale must be "list" (a choice from [defaults] rationales), not {value}'
        if field == "rationale_min_length":
            return f"rationale_min_length must be a whole number from 1 to {_MAX_RATIONALE}, not {value}"
        if field == "approve_by":
            return f"approve_by must be a role or a list of roles, not {value}"
        if field == "description":
            return f"description must be a string, not {value}"
        if field == "rationale_required":
            return f"rationale_required must be a tier or a list of them, not {value}"
        if field == "rationales":
            return f"rationales must be a list of distinct texts of 1-200 characters, not {value}"
        return f"{field} must be a non-empty string or list of them, not {value}"


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Locator:
    """Lines of tables and keys in a TOML text, since tomllib reports no positions.

    A line scan, not a parser: enough to point a message at the right line, and None
    when it cannot tell (a rule written as an inline table, say).
    """

    _HEADER = re.compile(r"\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]")
    _KEY = re.compile(r"\s*[\"']?([A-Za-z0-9_-]+)[\"']?\s*=")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.tables: list[tuple[str, int, dict[str, int]]] = [("", 0, {})]  # name, line, keys
        quote = ""
        for n, line in enumerate(self.lines, 1):
            if quote:  # inside a multi-line string: nothing here is a key or a header
                quote = "" if line.count(quote) % 2 else quote
                continue
            header, key = self._HEADER.match(line), self._KEY.match(line)
            if header:
                self.tables.append((header[1], n, {}))
            elif key:
                self.tables[-1][2].setdefault(key[1], n)
            quote = next((q for q in ('"""', "'''") if line.count(q) % 2), "")

    def line(self, table: str, index: int, key: str | None = None, needle: str | None = None
             ) -> int | None:  # fmt: skip
        """The line of the ``index``-th ``table`` (of its ``key``; of ``needle`` in its value)."""
        tables = [t for t in self.tables if t[0] == table]
        if index >= len(tables):
            return None
        _, start, keys = tables[index]
        if key is None or key not in keys:
            return start or None
        at = keys[key]
        if needle:
            ends = [n for _, n, _ in self.tables if n > at] + [n for n in keys.values() if n > at]
            for n in range(at, min(ends, default=len(self.lines) + 1)):
                if needle in self.lines[n - 1]:
                    return n
        return at
