"""``driverseat export --format preference``: corrections and edits as vision DPO pairs.

One row per review a person corrected (clicked the right spot) or edited (changed the
text or keys), in the layout TRL's ``DPOTrainer`` reads for vision-language models
(conversational preference with images)::

    images:   [the review's frozen frame]                  (from ``file_names``)
    prompt:   [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": ...}]}]
    chosen:   [{"role": "assistant", "content": [{"type": "text", "text": <action JSON>}]}]
    rejected: [{"role": "assistant", "content": [{"type": "text", "text": <action JSON>}]}]

The prompt's text holds the agent's goal, its steps so far and its reason; ``rejected``
is the action the agent proposed; ``chosen`` what the person made of it: for a
correction the same action with the corrected point(s) in the agent's space, for an
edit the action with the person's fields. Both in the agent's own pixels, so the frame
is stored at the agent's size (resized from the screen's when they differ): a
coordinate in an answer is a pixel of the image beside it.

An approval gives no pair (there is no worse answer to set against it); it is a
positive example: ``export --format sft --approvals`` writes it as an instruction row.
A rejection says what was wrong, not what was right: it gives a pair only where the
person then showed the right action, and has a reason (the decision's rationale): the
first action of the takeover demonstration (``serve --shadow`` or ``--demonstrations``,
:mod:`daemon.shadow.demos`) that began within :data:`SHOWN_WITHIN_S` of the rejection
with no agent action run in between is ``chosen`` (in the agent's space), the rejected
action ``rejected``. A rejection without a reason, or with no demonstration after it,
gives no row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2

from capture.coords import Rect, Scaling
from daemon.honeypot_store import honeypot_ids
from daemon.shadow.demos import demonstrations, recorded_action, to_agent_action
from daemon.shadow.folder import Folder, action_text, progress_bar
from daemon.store import Store

__all__ = ["REVIEW_FRAMES", "SHOWN_WITHIN_S", "chosen_action", "export_preference", "frame_writer", "prompt_text"]

REVIEW_FRAMES = "frames"  # the review queue's frames, beside the database (cli/serve.py)
PAIRED = ("corrected", "edited")
SHOWN_WITHIN_S = 120.0  # a demonstration this soon after a rejection shows what was right
_REASON_MAX = 2_000  # the reason is the agent's; a runaway one should not blow up the prompt


def prompt_text(review: dict[str, Any]) -> str:
    """The user turn's text: what the agent knew when it proposed the action."""
    w, h = review["agent_size"]
    steps = review.get("steps") or []
    lines = [f"Goal: {review.get('goal') or '(not given)'}"]
    if steps:
        lines.append("Steps so far:")
        lines += [f"{i}. {s}" for i, s in enumerate(steps, 1)]
    else:
        lines.append("Steps so far: none")
    if review.get("reason"):
        lines.append(f"Your reasoning: {str(review['reason'])[:_REASON_MAX]}")
    lines.append(
        f"The screenshot is {w}x{h} pixels; coordinates are in its pixels. "
        "Answer with the next action as JSON."
    )
    return "\n".join(lines)


def _final(review: dict[str, Any]) -> dict[str, Any]:
    """The decision that resolved the review (the last one)."""
    return dict(review["decisions"][-1])


def chosen_action(review: dict[str, Any]) -> dict[str, Any]:
    """The action the person chose, in agent space: the agent's action with the corrected
    point(s) (a drag: its start and end) or with the edited fields."""
    decision = _final(review)
    action = dict(review["action"])
    if decision["verdict"] == "edit":
        return {**action, **(decision.get("edited") or {})}
    scaling = Scaling(Rect(*review["screen_rect"]), *review["agent_size"])
    pts = [scaling.to_agent(int(x), int(y)) for x, y in decision["points"]]
    if action.get("action") == "drag":
        action["path"] = [[p.x, p.y] for p in pts]
    else:
        action["x"], action["y"] = pts[0].x, pts[0].y
    return action


def frame_writer(src: Path, size: tuple[int, int]) -> Any:
    """Writes the review's frame at the agent's size (its coordinates are the agent's)."""
    def write(dst: Path) -> None:
        img = cv2.imread(str(src), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{src} is not a readable image")
        if (img.shape[1], img.shape[0]) != size:
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        if not cv2.imwrite(str(dst), img):
            raise OSError(f"cannot write {dst}")

    return write


def _messages(role: str, text: str, image: bool = False) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"type": "image"}] if image else []
    content.append({"type": "text", "text": text})
    return [{"role": role, "content": content}]


def rows(store: Store) -> list[dict[str, Any]]:
    """The stored reviews that give a pair, oldest first, each with its frame's file name
    (a rejection with the demonstration that showed the right action: ``chosen`` and
    ``takeover_id`` set)."""
    tests = honeypot_ids(store)  # made-up wrong actions are never training data
    found = [row for status in PAIRED for row in store.reviews_with_status(status)]
    found += _shown_after_rejection(store)
    found = [row for row in found if row["review"]["id"] not in tests]
    return sorted(found, key=lambda r: (r["review"]["created"], r["review"]["id"]))


def _shown_after_rejection(store: Store) -> list[dict[str, Any]]:
    demos = [d for d in demonstrations(store) if d["actions"]]
    out = []
    for row in store.reviews_with_status("rejected"):
        review = row["review"]
        reason = (_final(review).get("rationale") or "").strip() if review["decisions"] else ""
        decided = row["decided"]
        if not reason or decided is None:
            continue
        demo = next((d for d in demos if decided <= d["started"] <= decided + SHOWN_WITHIN_S), None)
        if demo is None or _ran_between(store, decided, demo["started"]):
            continue
        first = recorded_action(store, demo["actions"][0])
        if first is None:
            continue
        scaling = Scaling(Rect(*review["screen_rect"]), *review["agent_size"])

        def to_agent(x: int, y: int, scaling: Scaling = scaling) -> tuple[int, int]:
            p = scaling.to_agent(x, y)
            return p.x, p.y

        out.append({**row, "chosen": to_agent_action(first, to_agent), "takeover_id": demo["takeover_id"]})
    return out


def _ran_between(store: Store, t0: float, t1: float) -> bool:
    """Whether an agent action ran between a rejection and a demonstration (then the
    person may have shown something else than the rejected action's right form)."""
    with store.locked() as db:
        row = db.execute(
            "SELECT 1 FROM actions WHERE created > ? AND created < ? AND status = 'executed' LIMIT 1",
            (t0, t1),
        ).fetchone()
    return row is not None


def export_preference(
    store: Store, data_dir: Path, out: Path, *, progress: bool = False
) -> Folder:
    """Write every corrected or edited review to ``out``; returns what was written.

    Raises LookupError when there is none (nothing to train on is the caller's message).
    """
    todo = rows(store)
    if not todo:
        raise LookupError(
            "no corrected or edited review, and no rejection with a reason followed by a "
            "demonstration, in this data dir (approvals give no pair)"
        )
    folder = Folder(out)
    skipped = 0
    try:
        for i, row in enumerate(todo, 1):
            review, decision = row["review"], _final(row["review"])
            size = (int(review["agent_size"][0]), int(review["agent_size"][1]))
            src = data_dir / REVIEW_FRAMES / str(row["frame"])
            if not src.is_file():
                skipped += 1  # a frame deleted by hand: no image, no vision row
                continue
            name = f"{review['id']}.png"
            image = folder.frame(name, name, frame_writer(src, size))
            chosen = row.get("chosen") or chosen_action(review)
            # text columns are strings, never null: datasets' JSON reader types a column per
            # block, and one null in the first block and text in the next fails to load
            folder.add({
                "file_names": [image],
                "prompt": _messages("user", prompt_text(review), image=True),
                "chosen": _messages("assistant", action_text(chosen)),
                "rejected": _messages("assistant", action_text(review["action"])),
                "chosen_action": json.dumps(chosen, ensure_ascii=False),
                "rejected_action": json.dumps(review["action"], ensure_ascii=False),
                "review_id": review["id"], "action_id": review["action_id"],
                "verdict": decision["verdict"], "tier": review["tier"], "rule": review["rule"],
                "reviewer": decision["reviewer"], "rationale": decision.get("rationale") or "",
                "takeover_id": row.get("takeover_id") or "",
                "created": review["created"], "decided": row["decided"],
                "agent_width": size[0], "agent_height": size[1],
            })  # fmt: skip
            if progress:
                progress_bar(i, len(todo))
        if not folder.rows:
            raise LookupError(f"the {skipped} corrected or edited review(s) have lost their frames")
    except BaseException:
        folder.abort()
        raise
    folder.finish()
    folder.skipped = skipped
    return folder
