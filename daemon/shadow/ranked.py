"""The preference pairs of picks and rankings among candidates, as TRL vision DPO rows.

A person who approves one of an action's candidates, or ranks them, prefers each chosen
candidate over each one below it; the queue stores those pairs with the decision
(``preferred``: 1-based candidate numbers, see :mod:`daemon.candidates`). Each pair is
one row of ``export --format preference``, in the layout of the correction pairs
(:mod:`daemon.shadow.preference`): the review's frame, the agent's prompt, ``chosen``
and ``rejected`` the two candidates in the agent's space. Like that module, this one
reads the reviews table only, never ``daemon.review``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from daemon.candidates import candidate
from daemon.shadow.folder import Folder, action_text
from daemon.store import Store

__all__ = ["RANKED_STATUSES", "add_ranked", "pair_rows", "ranked_reviews"]

# a pick or a ranking may come with an approval, a rejection (a ranking), or the first
# approval of an approve2 that then waited, expired, or that a second person corrected
RANKED_STATUSES = ("approved", "rejected", "pending", "expired", "corrected", "edited")

Messages = Callable[..., list[dict[str, Any]]]


def ranked_reviews(store: Store) -> list[dict[str, Any]]:
    """The stored reviews with at least one decision that prefers a candidate, oldest first."""
    found = [
        row for status in RANKED_STATUSES for row in store.reviews_with_status(status)
        if any(d.get("preferred") for d in row["review"]["decisions"])
    ]  # fmt: skip
    return sorted(found, key=lambda r: (r["review"]["created"], r["review"]["id"]))


def pair_rows(
    row: dict[str, Any], image: str, prompt: list[dict[str, Any]], messages: Messages
) -> list[dict[str, Any]]:
    """One DPO row per preferred pair of every decision of ``row`` (a stored review)."""
    review = row["review"]
    out = []
    for decision in review["decisions"]:
        source = "ranking" if decision.get("ranking") else "pick"
        for better, worse in decision.get("preferred") or ():
            chosen, rejected = candidate(review["action"], better), candidate(review["action"], worse)
            out.append({
                "file_names": [image], "prompt": prompt,
                "chosen": messages("assistant", action_text(chosen)),
                "rejected": messages("assistant", action_text(rejected)),
                "chosen_action": json.dumps(chosen, ensure_ascii=False),
                "rejected_action": json.dumps(rejected, ensure_ascii=False),
                "review_id": review["id"], "action_id": review["action_id"],
                "decision_id": decision["id"], "source": source,
                "chosen_candidate": int(better), "rejected_candidate": int(worse),
                "verdict": decision["verdict"], "tier": review["tier"], "rule": review["rule"],
                "reviewer": decision["reviewer"], "rationale": decision.get("rationale") or "",
                "takeover_id": "",
                "created": review["created"], "decided": float(decision["at"]),
                "agent_width": int(review["agent_size"][0]),
                "agent_height": int(review["agent_size"][1]),
            })  # fmt: skip
    return out


def add_ranked(
    folder: Folder, rows: list[dict[str, Any]], frame: Callable[[dict[str, Any]], str | None],
    prompt: Callable[[dict[str, Any]], list[dict[str, Any]]], messages: Messages,
) -> int:  # fmt: skip
    """Write the pairs of ``rows`` (from :func:`ranked_reviews`); returns how many reviews
    were left out because ``frame(row)`` found no frame."""
    skipped = 0
    for row in rows:
        image = frame(row)
        if image is None:
            skipped += 1
            continue
        folder.add_all(pair_rows(row, image, prompt(row["review"]), messages))
    return skipped
