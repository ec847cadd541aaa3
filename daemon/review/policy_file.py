"""Reading a policy file: TOML -> :class:`~daemon.review.policy.Policy`, every error with its line.

tomllib gives no positions for values, so :class:`_Locator` finds the line of a rule or
key in the text; a policy that cannot be used fails at start with ``file:line: why``.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Any, get_args

from capture import CaptureError
from daemon.actions import ACTION_KINDS
from daemon.review.policy import (
    DEFAULT_POLICY_PATH,
    TIERS,
    MissingConfidence,
    Policy,
    PolicyError,
    Rule,
    normalise_keys,
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_RULE_KEYS = ("name", "tier", "description", "kinds", "keys", "key_pattern", "text", "region",
              "window", "confidence_below", "missing_confidence")  # fmt: skip
_DEFAULT_KEYS = ("tier", "grace_seconds", "review_expiry_seconds", "rationale_required",
                 "rationales")  # fmt: skip
_DEFAULT_FIELDS = {"tier": "default_tier"}  # [defaults] key -> Policy field
_DECIDED_TIERS = ("grace", "approve", "approve2")  # the tiers a person decides on


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
        line = int(at[1]) if at else None
        raise _error(source, line, f"invalid TOML: {exc}") from exc
    return _Parser(text, source).policy(data)


def _error(source: str, line: int | None, message: str) -> PolicyError:
    where = f"{source}:{line}: " if line else f"{source}: "
    return PolicyError(where + message, source=source, line=line)


def _expected(value: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value, choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"(expected one of {', '.join(choices)}){hint}"


class _Parser:
    """Turns tomllib's dict into a Policy, pointing every complaint at a line."""

    def __init__(self, text: str, source: str) -> None:
        self.source, self.where = source, _Locator(text)
        self.table, self.index, self.label = "", 0, ""  # where we are, for messages

    def fail(self, message: str, key: str | None = None, needle: str | None = None) -> PolicyError:
        line = self.where.line(self.table, self.index, key, needle)
        line = line or self.where.line("", 0, self.table)  # e.g. `rule = 3` at the top
        return _error(self.source, line, self.label + message)

    def policy(self, data: dict[str, Any]) -> Policy:
        for key in data:
            if key not in ("defaults", "rule"):
                self.table = key
                raise self.fail(f"unknown table {key!r} {_expected(key, ('defaults', 'rule'))}")
        self.table, self.label = "defaults", "[defaults]: "
        raw = data.get("defaults", {})
        if not isinstance(raw, dict):
            raise self.fail("must be a table")
        self.unknown(raw, _DEFAULT_KEYS)
        fields: dict[str, Any] = {
            _DEFAULT_FIELDS.get(str(k), str(k)): self.value(k, v) for k, v in raw.items()
        }
        self.table, self.label = "rule", ""
        rules_data = data.get("rule", [])
        if not isinstance(rules_data, list) or not all(isinstance(r, dict) for r in rules_data):
            raise self.fail("rules must be [[rule]] tables")
        rules: list[Rule] = []
        for self.index, raw in enumerate(rules_data):
            rule = self.rule(raw)
            if any(r.name == rule.name for r in rules):
                raise self.fail(f"the name {rule.name!r} is used by an earlier rule", "name")
            rules.append(rule)
        return Policy(rules=tuple(rules), source=self.source, **fields)

    def rule(self, raw: dict[str, Any]) -> Rule:
        self.label = f"rule #{self.index + 1}: "
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise self.fail("needs a name of letters, digits, '-', '_' or '.' (at most 64)", "name")
        self.label = f"rule {name!r}: "
        self.unknown(raw, _RULE_KEYS)
        if "tier" not in raw:
            raise self.fail(f"needs a tier (one of {', '.join(TIERS)})")
        if "missing_confidence" in raw and "confidence_below" not in raw:
            raise self.fail("missing_confidence needs confidence_below", "missing_confidence")
        fields = {k: self.value(k, v) for k, v in raw.items() if k != "name"}
        return Rule(name=name, line=self.where.line("rule", self.index), **fields)

    def unknown(self, raw: dict[str, Any], allowed: tuple[str, ...]) -> None:
        # A misspelt condition would be ignored and so widen the rule: refuse it.
        for key in raw:
            if key not in allowed:
                raise self.fail(f"unknown key {key!r} {_expected(key, allowed)}", key)

    def value(self, key: str, value: Any) -> Any:
        """One key's value, checked and converted to what Rule or Policy holds."""
        if key == "tier":
            return self.choice(value, key, TIERS, "tier")
        if key in ("grace_seconds", "review_expiry_seconds", "confidence_below"):
            high = {"grace_seconds": 300, "confidence_below": 1}.get(key, 7 * 86400)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value <= high
            ):
                raise self.fail(
                    f"{key} must be a number above 0 and at most {high}, not {value!r}", key
                )
            return float(value)
        if key == "missing_confidence":
            return self.choice(value, key, get_args(MissingConfidence), "value")
        if key == "description":
            if not isinstance(value, str):
                raise self.fail("description must be a string", key)
            return value
        if key == "region":
            return self.region(value)
        if key == "rationale_required" and value == []:
            return frozenset()  # no tier needs a rationale
        strings = self.strings([value] if isinstance(value, str) else value, key)
        if key == "kinds":
            return frozenset(self.choice(k, key, ACTION_KINDS, "action kind") for k in strings)
        if key == "rationale_required":
            for t in strings:
                if t not in _DECIDED_TIERS:
                    who = (
                        f"{t!r} is not a tier a person decides on"
                        if t in TIERS
                        else f"unknown tier {t!r}"
                    )
                    raise self.fail(
                        f"rationale_required: {who} (expected one of {', '.join(_DECIDED_TIERS)})",
                        key,
                        t,
                    )
            return frozenset(strings)
        if key == "rationales":
            if len(set(strings)) != len(strings) or any(len(r) > 200 for r in strings):
                raise self.fail("rationales must be distinct, of at most 200 characters", key)
            return tuple(strings)
        if key == "keys":
            return frozenset(self.combo(c) for c in strings)
        return tuple(self.regex(p, key) for p in strings)  # key_pattern, text, window

    def choice(self, value: Any, key: str, allowed: tuple[str, ...], what: str) -> Any:
        if value not in allowed:
            if what == "tier":
                raise self.fail(f"unknown tier {value!r} (expected one of {', '.join(TIERS)})", key)
            raise self.fail(
                f"unknown {what} {value!r} {_expected(str(value), allowed)}", key, str(value)
            )
        return value

    def strings(self, value: Any, key: str) -> list[str]:
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise self.fail(f"{key} must be a non-empty string or list of them", key)
        return value

    def combo(self, value: str) -> str:
        try:
            combos = normalise_keys(value)
        except CaptureError as exc:
            raise self.fail(f"keys: {exc}", "keys", value) from exc
        if len(combos) != 1:
            raise self.fail(f"keys: give one combo per entry, not {value!r}", "keys", value)
        return combos[0]

    def regex(self, value: str, key: str) -> re.Pattern[str]:
        try:
            return re.compile(value)
        except re.error as exc:
            raise self.fail(f"bad regex in {key} {value!r}: {exc}", key, value) from exc

    def region(self, value: Any) -> tuple[int, int, int, int]:
        ints = isinstance(value, list) and len(value) == 4
        if not ints or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise self.fail(
                f"region must be [x0, y0, x1, y1] in screen pixels, not {value!r}", "region"
            )
        x0, y0, x1, y1 = value
        if not (x0 < x1 and y0 < y1):
            raise self.fail(f"region {value!r} is empty: it needs x0 < x1 and y0 < y1", "region")
        return x0, y0, x1, y1


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
