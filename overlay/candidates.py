"""What the overlay draws for a review whose action carries alternatives (no Qt).

Every candidate is drawn in SCREEN space with its own marker (or arrow, callout, key
chips) and a :class:`~overlay.shapes.Badge` with its number: the proposed action is
1, in the proposal's colour; its alternatives 2, 3... in the candidates' colour. The
label says the number, what it does and the agent's confidence in it, so the person
can tell which key approves which. In ranking mode each badge also shows its place.
See docs/candidates.md.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from daemon.candidates import candidates
from overlay.shapes import (
    Arrow,
    Badge,
    Callout,
    KeyChip,
    Marker,
    ScrollArrow,
    Shape,
    action_shapes,
    anchor_of,
    describe,
)

__all__ = ["candidate_label", "candidate_shapes", "hint"]


def candidate_label(number: int, action: dict[str, Any]) -> str:
    """``"2 · click (30%)"``: the key that approves it, what it does, how sure the agent is."""
    kind = describe(action).split(" at ")[0]
    sure = action.get("confidence")
    return f"{number} · {kind}" + (f" ({round(float(sure) * 100)}%)" if sure is not None else "")


def _as_candidate(shape: Shape, number: int, label: str, spread: int | None) -> Shape:
    """``shape`` labelled as candidate ``number``, in the candidates' colour past the first;
    text and key candidates have no point of their own: ``spread`` (an x) sets them side
    by side instead of one on another."""
    if isinstance(shape, Marker | Arrow):
        return dataclasses.replace(shape, label=label, role="proposed" if number == 1 else "candidate")
    if isinstance(shape, Callout | KeyChip):
        anchor = shape.anchor if spread is None else (spread, shape.anchor[1])
        return dataclasses.replace(shape, label=label, anchor=anchor)
    if isinstance(shape, ScrollArrow):
        return dataclasses.replace(shape, label=label)
    return shape


def candidate_shapes(
    screen_action: dict[str, Any], screen_rect: tuple[int, int, int, int], *,
    ranking: tuple[int, ...] = (), picked: int | None = None,
) -> list[Shape]:  # fmt: skip
    """Every candidate of ``screen_action`` as shapes, number 1 on top, badges last."""
    found = candidates(screen_action)
    marks: list[Shape] = []
    badges: list[Shape] = []
    left, _, width, _ = screen_rect
    for number, action in enumerate(found, 1):
        spread = left + width * number // (len(found) + 1) if len(found) > 1 else None
        for drawn in action_shapes(action, screen_rect):
            shape = _as_candidate(drawn, number, candidate_label(number, action), spread)
            marks.append(shape)
            rank = ranking.index(number) + 1 if number in ranking else None
            badges.append(Badge(anchor_of(shape), number, rank, picked == number))
    # the proposal is painted last among the marks, so it stays on top where they overlap
    return marks[1:] + marks[:1] + badges


REASON_SHOWN = 140  # characters of each candidate's reason in the side column


def hint(screen_action: dict[str, Any], mode: str, ranking: tuple[int, ...]) -> str:
    """The lines under the summary: each candidate with the agent's reason for it (plain
    text: the label shows it literally), then which keys choose among them."""
    found = candidates(screen_action)
    total = len(found)
    if total < 2:
        return ""
    lines = []
    for number, action in enumerate(found, 1):
        reason = str(action.get("reason") or "")
        cut = reason[:REASON_SHOWN] + ("…" if len(reason) > REASON_SHOWN else "")
        lines.append(f"{candidate_label(number, action)}: {describe(action)}" + (f", {cut}" if cut else ""))
    if mode == "rank":
        so_far = " > ".join(str(n) for n in ranking) or "none yet"
        lines.append(f"ranking, best first: {so_far} · numbers 1-{total}, Enter to finish, "
                     "Backspace undoes one, Esc stops ranking")  # fmt: skip
    else:
        lines.append(f"{total} candidates: 1-{total} approves that one, O ranks them, Enter approves 1")
    return "\n".join(lines)
