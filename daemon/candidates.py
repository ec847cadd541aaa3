"""Candidates of one proposal, and what a person's pick or ranking of them says.

An action may carry up to :data:`~daemon.actions.MAX_ALTERNATIVES` ``alternatives``. Its
candidates are numbered from 1: the action as proposed first, then each alternative in
the order the agent gave them. A person approves one (a *pick*) or orders some of them
best first (a *ranking*); both are preference data, stored with the decision as
``preferred`` pairs ``(chosen, rejected)``:

- a pick of ``k`` among ``n``: ``k`` over every other candidate;
- a ranking ``[a, b, c]``: each over every candidate ranked below it (``a>b, a>c, b>c``);
  candidates left out of a ranking are compared with none.

Pure functions on plain dicts (a review's ``action`` / ``screen_action``), so the daemon,
the overlay and the exports read candidates the same way. See docs/candidates.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["candidate", "candidates", "check_ranking", "count", "pairs"]


def candidates(action: dict[str, Any]) -> list[dict[str, Any]]:
    """Every candidate of ``action`` (a dumped action), number 1 first, each without
    ``alternatives``: candidate 1 is the action itself."""
    alternatives = action.get("alternatives") or []
    own = {k: v for k, v in action.items() if k != "alternatives"}
    return [own, *(dict(a) for a in alternatives)]


def count(action: dict[str, Any]) -> int:
    """How many candidates ``action`` offers (1 when it carries no alternatives)."""
    return 1 + len(action.get("alternatives") or [])


def candidate(action: dict[str, Any], number: int) -> dict[str, Any]:
    """Candidate ``number`` (1-based) of ``action``; ValueError if there is none."""
    found = candidates(action)
    if not 1 <= number <= len(found):
        raise ValueError(_range(number, len(found)))
    return found[number - 1]


def _range(number: int, n: int) -> str:
    if n == 1:
        return f"there is no candidate {number}: this action carries no alternatives (only 1)"
    return f"there is no candidate {number}: this action has candidates 1 to {n}"


def check_ranking(ranking: Sequence[int], n: int) -> None:
    """ValueError (one sentence) unless ``ranking`` orders at least two of ``n``
    candidates, each once, each in range."""
    if n < 2:
        raise ValueError("this action carries no alternatives: there is nothing to rank")
    if len(ranking) < 2:
        raise ValueError(
            "a ranking orders at least two candidates, best first; to choose one, send "
            "\"candidate\" instead"
        )
    for number in ranking:
        if not 1 <= number <= n:
            raise ValueError(f"ranking {list(ranking)}: {_range(number, n)}")
    if len(set(ranking)) != len(ranking):
        twice = sorted({r for r in ranking if list(ranking).count(r) > 1})
        raise ValueError(f"ranking {list(ranking)} names candidate(s) {twice} more than once")


def pairs(n: int, *, pick: int | None = None, ranking: Sequence[int] = ()) -> list[tuple[int, int]]:
    """The ``(chosen, rejected)`` pairs of a pick or a ranking among ``n`` candidates
    (none when there is only one candidate)."""
    if ranking:
        return [(a, b) for i, a in enumerate(ranking) for b in ranking[i + 1 :]]
    if pick is None or n < 2:
        return []
    return [(pick, other) for other in range(1, n + 1) if other != pick]
