"""What a decision must satisfy to count: the errors of a refused one, and the checks.

Split from :mod:`daemon.review.queue` (which applies the decisions) so that module stays
one concept; the queue re-exports the errors. The rules are the queue's module rules,
plus (issue 11) a rule's demands on approvals: approvers holding one of its
``approve_by`` roles (else 403), a free-text rationale of ``rationale_min_length``
characters (else 422, in a sentence naming the rule, that the overlay shows too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from daemon import actions
from daemon.errors import DaemonError
from daemon.outcomes import DecisionRequest, Review, rationale_refusal
from daemon.reviewers import Identity
from daemon.validation import describe_validation_error

__all__ = [
    "LETS_RUN", "BadDecision", "DuplicateApproval", "ReviewConflict", "ReviewError",
    "RoleRequired", "UnknownReview", "check_edit", "check_points", "check_rationale",
    "check_roles", "quote", "rationale_refusal",
]  # fmt: skip

LETS_RUN = ("approve", "edit")  # the verdicts after which the action runs
_POINT_FIELDS = frozenset({"x", "y", "path"})
_AGENT_FIELDS = frozenset({"reason", "confidence", "screen_text", "goal", "steps", "space"})


class ReviewError(DaemonError):
    """A review request that cannot be honoured; ``status`` is its HTTP status."""

    status: int = 409


class UnknownReview(ReviewError):
    """No review (or no frame) with that id: 404."""

    status = 404


class ReviewConflict(ReviewError):
    """The review is no longer pending (decided, cancelled, expired): 409."""


class DuplicateApproval(ReviewConflict):
    """The same reviewer approved an ``approve2`` review twice: 409."""


class RoleRequired(ReviewError):
    """The rule wants an approver with a role this reviewer does not hold: 403."""

    status = 403


class BadDecision(ReviewError):
    """A decision that does not fit the review (points, edit, rationale...): 422."""

    status = 422



def quote(options: Sequence[str]) -> str:
    return ", ".join(repr(o) for o in options)


def check_rationale(
    review: Review, req: DecisionRequest, required: bool, rationales: tuple[str, ...]
) -> None:
    if req.verdict not in LETS_RUN:
        # only letting an action run must be justified; stopping it (reject, correct,
        # cancel) is the safe side, and its reason is the person's own words
        return
    need = review.rationale_min_length
    if need is not None:  # the rule's free text replaces a pick from the list
        if len((req.rationale or "").strip()) < need:
            raise BadDecision(rationale_refusal(review, len((req.rationale or "").strip())))
        return
    if not required:
        return
    if not req.rationale:
        choice = f": one of {quote(rationales)}" if rationales else ""
        raise BadDecision(f"this review (rule {review.rule!r}) needs a rationale{choice}")
    if rationales and req.rationale not in rationales:
        raise BadDecision(f"rationale {req.rationale!r} is not one of {quote(rationales)}")


def check_roles(review: Review, req: DecisionRequest, who: Identity) -> None:
    if not review.roles_required or req.verdict not in LETS_RUN:
        return  # anyone may stop an action; only letting it run takes a role
    if set(who.roles) & set(review.roles_required):
        return
    held = f"holds {', '.join(who.roles)}" if who.roles else "holds no role"
    whom = "the desktop overlay (the daemon's token)" if who.local else f"reviewer {who.name!r}"
    raise RoleRequired(
        f"rule {review.rule!r} needs an approver with the role {' or '.join(review.roles_required)}; "
        f"{whom} {held}",
        roles_required=list(review.roles_required), reviewer=who.name,
    )  # fmt: skip


def check_points(review: Review, points: tuple[tuple[int, int], ...]) -> None:
    kind = str(review.screen_action.get("action", "?"))
    if not actions.parse_action(review.screen_action).points():
        raise BadDecision(f"a {kind} action has no point to correct; edit or reject it")
    needed = 2 if kind == "drag" else 1
    if len(points) != needed:
        what = "2 points (start and end)" if needed == 2 else "1 point"
        raise BadDecision(f"a correction of a {kind} needs {what}, got {len(points)}")
    left, top, width, height = review.screen_rect
    for x, y in points:
        if not (left <= x < left + width and top <= y < top + height):
            raise BadDecision(
                f"corrected point ({x}, {y}) is off the reviewed screen area "
                f"({left}, {top}) {width}x{height}"
            )


def check_box(review: Review, point: tuple[int, int], box: tuple[int, int, int, int]) -> None:
    """A hand-drawn box must be a real rectangle on the reviewed area holding the point."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise BadDecision(f"the drawn box ({x0}, {y0})-({x1}, {y1}) is not a rectangle: need x0 < x1 and y0 < y1")
    left, top, width, height = review.screen_rect
    if x0 < left or y0 < top or x1 > left + width or y1 > top + height:
        raise BadDecision(
            f"the drawn box ({x0}, {y0})-({x1}, {y1}) reaches off the reviewed screen area "
            f"({left}, {top}) {width}x{height}"
        )
    if not (x0 <= point[0] < x1 and y0 <= point[1] < y1):
        raise BadDecision(f"the drawn box ({x0}, {y0})-({x1}, {y1}) does not hold the corrected point {point}")


def check_edit(review: Review, edited: dict[str, Any] | None) -> dict[str, Any]:
    """The edited fields as the action model normalises them."""
    if not edited:
        raise BadDecision("an edit needs the fields it changes in 'edited', like text or keys")
    kind = str(review.action.get("action", "?"))
    if "action" in edited:
        raise BadDecision(f"an edit cannot change the kind of action ({kind}); reject it")
    if moved := sorted(_POINT_FIELDS & edited.keys()):
        raise BadDecision(f"an edit cannot move {', '.join(moved)}; correct the point instead")
    if theirs := sorted(_AGENT_FIELDS & edited.keys()):
        raise BadDecision(f"an edit cannot change {', '.join(theirs)}: they are the agent's")
    try:
        parsed = actions.parse_action({**review.action, **edited})
    except ValidationError as exc:
        raise BadDecision(f"the edit is not valid: {describe_validation_error(exc)[0]}") from None
    normal = parsed.model_dump(mode="json")
    changed = {k: normal[k] for k in edited}
    if all(review.action.get(k) == v for k, v in changed.items()):
        raise BadDecision("the edit changes nothing; approve the action instead")
    return changed

