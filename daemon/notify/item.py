"""One waiting item (a review or a question) as the notifiers say it.

What goes out, and what never does: a notification names the item's kind, the action's
kind, the rule, its urgency and times, and a link to the item in the daemon's API. It
never carries what the agent would type or the keys it would press (a password typed by
an agent is text of its action), nor the screenshot: a chat tool behind a webhook is
another company's server. The agent's own reason and a question's text are shown on the
desktop notification (this machine) and, clipped, in the webhook's ``summary``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, get_args

from daemon.outcomes import Urgency
from daemon.timings import ItemKind

__all__ = ["Item"]

_SUMMARY_MAX = 160
_URGENCIES: tuple[str, ...] = get_args(Urgency)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())  # one line: a notification's summary has no room for more
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Item:
    """A review or question that waits for a person, ready to notify."""

    kind: ItemKind
    id: str
    summary: str  # one line
    body: str  # the desktop notification's text (escaped there: servers may read markup)
    urgency: Urgency
    rule: str | None
    created: float
    expires: float | None
    link: str
    escalated: bool = False

    @classmethod
    def from_review(cls, review: dict[str, Any], base_url: str) -> Item:
        """From a review's JSON (the ``review`` event's payload)."""
        kind = str((review.get("action") or {}).get("action", "action"))
        rule = review.get("rule")
        tier = review.get("tier")
        who = "two people" if tier == "approve2" else "you"
        summary = f"driverseat: a {kind} waits for {who} to approve it"
        reason = review.get("reason")
        body = f"rule {rule!r}" + (f": {reason}" if isinstance(reason, str) and reason else "")
        return cls(
            kind="review", id=str(review["id"]), summary=summary, body=body,
            urgency=_urgency(review.get("urgency"), "normal"), rule=rule if isinstance(rule, str) else None,
            created=float(review.get("created") or 0.0), expires=_float(review.get("expires")),
            link=f"{base_url.rstrip('/')}/v1/reviews/{review['id']}",
        )  # fmt: skip

    @classmethod
    def from_question(cls, question: dict[str, Any], base_url: str) -> Item:
        """From a question's JSON (the ``question`` event's payload): its text is the point."""
        text = question.get("question") or question.get("text") or "the agent asks you something"
        rule = question.get("rule")
        return cls(
            kind="question", id=str(question["id"]),
            summary=_clip(f"driverseat asks: {text}", _SUMMARY_MAX), body=str(text),
            urgency=_urgency(question.get("urgency"), "normal"),
            rule=rule if isinstance(rule, str) else None,
            created=float(question.get("created") or 0.0), expires=_float(question.get("expires")),
            link=f"{base_url.rstrip('/')}/v1/questions/{question['id']}",
        )  # fmt: skip

    def escalation(self) -> Item:
        """The same item, said again louder: it is still unanswered."""
        return replace(self, escalated=True, urgency="critical",
                       summary=_clip(f"Still waiting: {self.summary}", _SUMMARY_MAX))  # fmt: skip

    def payload(self, event: str, sent: float, delivery: str) -> dict[str, Any]:
        """The webhook's JSON body (docs/notifications.md lists every field)."""
        return {
            "event": event, "kind": self.kind, "id": self.id, "summary": self.summary,
            "urgency": self.urgency, "rule": self.rule, "created": self.created,
            "expires": self.expires, "escalated": self.escalated, "link": self.link,
            "sent": sent, "delivery": delivery,
        }  # fmt: skip


def _urgency(value: Any, default: Urgency) -> Urgency:
    if value in _URGENCIES:
        return value  # type: ignore[no-any-return]
    return default


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
