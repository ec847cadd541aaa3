"""What becomes of an action: outcomes, and the reviews, decisions and feedback of a person.

The wire models the daemon answers with (the actions it takes are in
:mod:`daemon.actions`); the overlay and every client read them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from daemon.actions import MAX_ALTERNATIVES, Epoch, Int, Latency, Point, SpaceName

Status = Literal["executed", "interrupted", "denied", "rejected", "expired", "corrected", "error"]
"""``rejected``: a person said no (or cancelled a grace window); ``expired``: nobody answered
in time (or a restart interrupted an undo window): in both the action did not run."""
Control = Literal["agent", "human", "stopped"]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True)


class Progress(_Wire):
    done: int
    total: int
    unit: str


class HumanClick(_Wire):
    x: int | None
    y: int | None
    button: int
    space: SpaceName = "screen"


# what the outcome's sentence names as the cause of a stop
_STOPPED_BY: dict[str, str] = {
    "kill_switch": "the kill switch",
    "api": "a stop request (`driverseat stop` or POST /v1/control/stop)",
    "shutdown": "the daemon shutting down",
    "input-failure": "a failure to send input",
    "observer-failure": "the input observer failing",
}


class HumanActivity(_Wire):
    """What the person did while the agent did not have control.

    ``stopped_by`` is set when driverseat was stopped (the kill switch, a stop request...)
    rather than only taken over by the person's input: the agent is then told it was
    stopped, and by what, not that the person "had control".
    """

    seconds: float
    clicks: tuple[HumanClick, ...] = ()
    text: str = ""
    keys: tuple[str, ...] = ()
    motions: int = 0
    stopped_by: str | None = None

    def summary(self) -> str:
        if self.stopped_by is not None:
            cause = _STOPPED_BY.get(self.stopped_by, self.stopped_by)
            parts = [f"driverseat was stopped by {cause} for {self.seconds:.1f} s, then resumed"]
            if self.clicks or self.text or self.keys or self.motions:
                parts.append("meanwhile the person")
        else:
            parts = [f"The person had control for {self.seconds:.1f} s"]
        if self.clicks:
            where = ", ".join(
                f"({c.x}, {c.y})" if c.x is not None else "(?)" for c in self.clicks[:10]
            )
            more = f" and {len(self.clicks) - 10} more" if len(self.clicks) > 10 else ""
            parts.append(f"clicked {len(self.clicks)} time(s) at {where}{more}")
        if self.text:
            shown = self.text if len(self.text) <= 200 else self.text[:200] + "..."
            parts.append(f"typed {shown!r}")
        if self.keys:
            parts.append("pressed " + ", ".join(self.keys[:20]))
        if self.motions and not self.clicks:
            parts.append("moved the mouse")
        if self.stopped_by is not None and len(parts) > 1:
            # "...then resumed; meanwhile the person clicked ..., typed ..."
            return f"{parts[0]}; {parts[1]} " + ", ".join(parts[2:]) + "."
        return "; ".join(parts) + "."


class Image(_Wire):
    media_type: str
    data: str  # base64
    width: int
    height: int
    space: SpaceName = "screen"


Tier = Literal["auto", "notify", "grace", "approve", "approve2", "deny"]
Verdict = Literal["approve", "reject", "correct", "edit", "cancel"]
ReviewStatus = Literal[
    "pending", "approved", "rejected", "corrected", "edited", "cancelled", "expired"
]


Urgency = Literal["critical", "normal", "log"]
"""How loudly a waiting review or question calls the person (docs/notifications.md):
``critical`` (urgency 2, re-notified and escalated while unanswered), ``normal`` (1),
``log`` (no notification)."""


class Timing(_Wire):
    """When a waiting item reached the person (epoch seconds, None until it happened):
    ``shown`` when the overlay first displayed it, ``looked`` when the person first gave
    the overlay input or focus while it was on, ``answered`` when it was decided."""

    shown: float | None = None
    looked: float | None = None
    answered: float | None = None


class SeenReport(BaseModel):
    """What an overlay posts when it shows a review or the person first turns to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    moment: Literal["shown", "looked"] = Field(
        description="shown: the overlay displayed it; looked: the person first gave the "
        "overlay input or focus while it was on (the daemon's clock stamps both)"
    )


ElementSource = Literal["a11y", "vision", "person"]


class FeedbackElement(_Wire):
    """An element a correction names, in the agent's space.

    ``source`` says where its box comes from: ``a11y`` (the application's accessibility
    tree: exact, with role and name), ``vision`` (a guess from the screenshot's pixels:
    no role, no name) or ``person`` (drawn by hand on the overlay: the best label there
    is; role and name are the tree's when it knows the element at the point).
    """

    source: ElementSource
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)
    role: str | None = None  # AT-SPI role name: "push button", "label", "password text"...
    name: str | None = None
    window_role: str | None = None  # the window it is in: "dialog", "frame"...
    window_name: str | None = None


class Feedback(_Wire):
    """What a person's answer to a review means for the agent, in the agent's space.

    For a correction: where the agent proposed to act, where the right element is
    (its box, and which way and how far), with an annotated image and crops; for a
    rejection the reason; for an edit what changed.
    """

    text: str
    space: SpaceName = "agent"
    proposed: tuple[int, int] | None = None
    corrected: tuple[int, int] | None = None
    box: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 (x1, y1 exclusive)
    dx: int | None = None
    dy: int | None = None
    image: Image | None = None
    crops: tuple[Image, ...] = ()
    reason: str | None = None
    edited: dict[str, Any] | None = None
    element: FeedbackElement | None = None  # the right element (where the person clicked)
    proposed_element: FeedbackElement | None = None  # what the agent's point was on


class Decision(_Wire):
    """One person's answer to a review; every decision has a stable id."""

    id: str
    review_id: str
    reviewer: str  # the reviewer's name: a token's reviewer, or what the local overlay sent
    verdict: Verdict
    at: float
    latency_ms: Latency = None  # shown -> decided
    # who decided: a registered reviewer's id (``driverseat reviewer add``) or "local" (the
    # daemon's own token: the overlay on the desktop), with the roles held at that moment
    reviewer_id: str = "local"
    roles: tuple[str, ...] = ()
    rationale: str | None = None
    points: tuple[tuple[int, int], ...] = ()  # corrected point(s), screen space
    edited: dict[str, Any] | None = None
    box: tuple[int, int, int, int] | None = None  # the element's box drawn by the person, screen space
    # candidates (docs/candidates.md): the one approved (1 = as proposed), the person's
    # ranking best first, and the preference pairs (chosen, rejected) both make
    candidate: int | None = None
    ranking: tuple[int, ...] = ()
    preferred: tuple[tuple[int, int], ...] = ()


class DecisionRequest(BaseModel):
    """What the overlay (or any reviewer client) posts to decide a review."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    verdict: Verdict
    reviewer: str = Field(min_length=1, max_length=200)
    points: tuple[Point, ...] = Field(
        (), max_length=2, description="screen-space point(s) of a correction (two for a drag)"
    )
    edited: dict[str, Any] | None = Field(None, description="replacement fields, e.g. text or keys")
    box: tuple[int, int, int, int] | None = Field(
        None, description="a correction's element box drawn by hand: x0, y0, x1, y1 (exclusive), "
        "screen space, holding the corrected point; it wins over the tree's and the pixels' box",
    )
    rationale: str | None = Field(None, max_length=2_000)
    shown_at: Epoch | None = Field(None, description="when the review was shown (epoch s)")
    candidate: Int | None = Field(
        None, ge=1, le=1 + MAX_ALTERNATIVES,
        description="approve this candidate (1 = the action as proposed, 2... its alternatives)",
    )  # fmt: skip
    ranking: tuple[Int, ...] | None = Field(
        None, max_length=1 + MAX_ALTERNATIVES,
        description="candidates best first; the best runs (verdict approve, the default "
        "with a ranking) unless the verdict is reject",
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _a_ranking_approves(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("ranking") and "verdict" not in data:
            data = {**data, "verdict": "approve"}
        return data

    @model_validator(mode="after")
    def _one_choice(self) -> DecisionRequest:
        if self.candidate is not None and self.ranking:
            raise ValueError("give a candidate or a ranking, not both (a ranking's first runs)")
        if self.candidate is not None and self.verdict != "approve":
            raise ValueError(f"a candidate is chosen by approving it, not with verdict {self.verdict!r}")
        if self.ranking and self.verdict not in ("approve", "reject"):
            raise ValueError(f"a ranking goes with approve or reject, not {self.verdict!r}")
        return self


class Review(_Wire):
    """An action held for a person, with everything they need to judge it.

    ``action`` is what the agent sent (its space); ``screen_action`` the same action in
    screen space, to draw on the frozen screenshot 1:1. The screenshot itself is served
    at ``GET /v1/reviews/{id}/screenshot`` (PNG, screen pixels of ``screen_rect``).
    """

    id: str
    action_id: str
    action: dict[str, Any]
    screen_action: dict[str, Any]
    tier: Tier
    rule: str
    status: ReviewStatus = "pending"
    needed: int = 1  # approvals needed (2 for approve2, from distinct reviewers)
    created: float
    expires: float | None = None
    reason: str | None = None
    confidence: float | None = None
    goal: str | None = None
    steps: tuple[str, ...] = ()
    screen_text: str | None = None
    # a model's own safety checks on this action (OpenAI's pending_safety_checks, one
    # "code: message" each), shown apart from the agent's words and what it read
    safety_checks: tuple[str, ...] = ()
    screen_rect: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, width, height
    agent_size: tuple[int, int] = (0, 0)
    rationales_required: bool = False  # approving needs a rationale picked from ...
    rationales: tuple[str, ...] = ()  # ... this short list (the policy's)
    rationale_min_length: int | None = None  # approving needs free text this long (the rule's)
    roles_required: tuple[str, ...] = ()  # each approver must hold one of these (``approve_by``)
    decisions: tuple[Decision, ...] = ()
    urgency: Urgency = "normal"  # from the policy: how it is notified
    timing: Timing = Timing()  # shown, looked at, answered (daemon.timings)


def rationale_refusal(review: Review, given: int) -> str:
    """Why an approval's free-text rationale is refused: the same sentence for the daemon's
    422 and the overlay's own refusal."""
    got = "none" if given == 0 else f"{given}"
    return (
        f"rule {review.rule!r} needs a rationale of at least {review.rationale_min_length} "
        f"characters to approve (got {got}): say why this action is right"
    )


class DemonstratedAction(_Wire):
    """One action of the person's during a takeover, as an agent would have issued it."""

    action: dict[str, Any]  # canonical, in the outcome's space
    frame: str | None = None  # GET this path (the daemon's token) for the frame before it
    window: str | None = None
    element: dict[str, Any] | None = None


class Demonstration(_Wire):
    """What the person did between a takeover and the resume, as actions (``serve
    --shadow`` or ``--demonstrations``); ``interrupted``: the agent's action it cut short."""

    takeover_id: str
    interrupted: str | None = None
    session: str
    actions: tuple[DemonstratedAction, ...] = ()


class Outcome(_Wire):
    """What became of one action; ``id`` is stable and names it in the store."""

    id: str
    action: str
    status: Status
    detail: str = ""
    control: Control = "agent"
    progress: Progress | None = None
    cursor: tuple[int, int] | None = None
    space: SpaceName = Field("screen", description="the space of every point in this outcome")
    human_activity: HumanActivity | None = None
    screenshot: Image | None = None
    elapsed_ms: float = 0.0
    review_id: str | None = None
    tier: Tier | None = None
    rule: str | None = None
    feedback: Feedback | None = None
    demonstration: Demonstration | None = None  # on the first outcome after a takeover
    # which candidate ran (1 = as proposed) when the action carried alternatives, and that
    # candidate as it ran, in the agent's space (docs/candidates.md)
    candidate: int | None = None
    candidate_action: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("executed", "corrected")


