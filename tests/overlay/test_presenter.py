"""The overlay's logic without Qt: queue, shapes, corrections, keys, edits, grace."""

from __future__ import annotations

import subprocess
import sys

import pytest

from overlay.presenter import ReviewPresenter, default_reviewer
from overlay.shapes import Arrow, Callout, KeyChip, Marker, ScrollArrow, split_keys
from tests.overlay.factories import CLICK, DRAG, KEY, SCROLL, TYPE, decision, review


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def p(clock: Clock) -> ReviewPresenter:
    return ReviewPresenter("ann@desk", clock=clock)


def test_the_presenter_never_imports_qt() -> None:
    code = (
        "import sys; sys.modules['PySide6'] = None\n"
        "import overlay.presenter, overlay.shapes, overlay.grace\n"
        "assert not [m for m in sys.modules if m.startswith('PySide6.')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- queue ------------------------------------------------------------------------------


def test_queue_add_update_remove_and_count(p: ReviewPresenter) -> None:
    assert p.current is None and p.count == 0 and p.shapes() == []
    a, b = review(CLICK), review(TYPE)
    p.add(a)
    p.add(b)
    assert p.current == a and p.count == 2
    assert p.status().startswith("review 1 of 2")
    p.on_click((10 + 100, 10 + 50))
    p.add(a.model_copy(update={"reason": "updated"}))  # an update keeps the reviewer's work
    assert p.current is not None and p.current.reason == "updated"
    assert p.points == ((110, 60),)
    assert p.update(review(CLICK)) is False  # unknown ids are not adopted by update()
    assert p.remove(a.id) and p.current == b and p.count == 1 and p.points == ()
    assert not p.remove("nope")
    p.add(b.model_copy(update={"status": "approved"}))  # resolved elsewhere
    assert p.current is None and p.count == 0


def test_sync_replaces_the_queue(p: ReviewPresenter) -> None:
    a, b, c = review(CLICK), review(TYPE), review(KEY)
    p.add(a)
    p.add(b)
    p.sync([b, c])
    assert p.get(a.id) is None and p.current == b and p.count == 2


def test_shown_at_is_when_a_review_becomes_current(p: ReviewPresenter, clock: Clock) -> None:
    a, b = review(CLICK), review(CLICK)
    p.add(a)
    assert p.shown_at == 5000.0
    clock.now = 5010.0
    p.add(b)  # queued behind a: not shown yet
    assert p.shown_at == 5000.0
    clock.now = 5020.0
    req = p.on_enter()
    assert req is not None and req.shown_at == 5000.0
    assert p.current == b and p.shown_at == 5020.0


# -- shapes -----------------------------------------------------------------------------


def test_shapes_for_each_action_kind(p: ReviewPresenter) -> None:
    centre, below = (100 + 640, 50 + 400), (100 + 640, 50 + 600)
    cases = [
        (CLICK, [Marker((740, 450), "proposed", "click")]),
        (
            {**CLICK, "count": 2, "button": "right"},
            [Marker((740, 450), "proposed", "double right click")],
        ),
        (DRAG, [Arrow(((300, 300), (500, 420), (900, 600)), "proposed", "drag")]),
        (SCROLL, [ScrollArrow((600, 500), 0, 3, "scroll down 3")]),
        ({"action": "scroll", "dx": -2}, [ScrollArrow(centre, -2, 0, "scroll left 2")]),
        (TYPE, [Callout(below, "hello⏎\nworld", "type")]),
        (KEY, [KeyChip(below, (("ctrl", "shift", "t"),), "press")]),
    ]
    for action, want in cases:
        q = ReviewPresenter("x")
        q.add(review(action))
        assert q.shapes() == want, action


def test_key_combos_split_into_chips() -> None:
    assert split_keys("ctrl+a Delete") == (("ctrl", "a"), ("Delete",))
    assert split_keys("ctrl++") == (("ctrl", "+"),)


def test_long_text_is_cut_in_the_callout(p: ReviewPresenter) -> None:
    p.add(review({"action": "type", "text": "x" * 1000}))
    (callout,) = p.shapes()
    assert isinstance(callout, Callout) and callout.text.endswith("(400 more characters)")


def test_panel_goes_opposite_the_action(p: ReviewPresenter) -> None:
    p.add(review({"action": "click", "x": 1300, "y": 100}))  # right half of 100..1380
    assert p.panel_side() == "left"
    q = ReviewPresenter("x")
    q.add(review({"action": "click", "x": 200, "y": 100}))
    assert q.panel_side() == "right"


# -- corrections and Enter/Esc ----------------------------------------------------------


def test_enter_approves_as_proposed(p: ReviewPresenter) -> None:
    p.add(review(CLICK))
    req = p.on_enter()
    assert req is not None
    assert (req.verdict, req.reviewer, req.points, req.edited) == ("approve", "ann@desk", (), None)
    assert p.current is None and p.on_enter() is None


def test_click_correction_is_one_point_in_screen_space(p: ReviewPresenter) -> None:
    r = review(CLICK)
    p.add(r)
    assert p.points_needed == 1
    assert not p.on_click((99, 60))  # left of the screenshot
    assert p.on_click((700, 400)) and p.on_click((710, 410))  # a second click moves it
    assert p.points == ((710, 410),)
    assert p.shapes()[-1] == Marker((710, 410), "correction", "corrected")
    req = p.on_enter()
    assert req is not None and req.verdict == "correct" and req.points == ((710, 410),)


def test_drag_correction_needs_two_points(p: ReviewPresenter) -> None:
    p.add(review(DRAG))
    assert p.on_click((200, 200))
    assert p.on_enter() is None and "end" in p.message  # half a drag is not sent
    assert p.on_click((800, 500))
    assert p.shapes()[-1] == Arrow(((200, 200), (800, 500)), "correction", "corrected drag")
    assert p.on_click((300, 300)) and p.points == ((300, 300),)  # a third click starts over
    p.on_click((400, 400))
    req = p.on_enter()
    assert req is not None and req.verdict == "correct"
    assert req.points == ((300, 300), (400, 400))


def test_backspace_clears_the_correction(p: ReviewPresenter) -> None:
    p.add(review(CLICK))
    p.on_click((700, 400))
    assert p.on_backspace() and p.points == () and not p.on_backspace()
    req = p.on_enter()
    assert req is not None and req.verdict == "approve" and req.points == ()


def test_type_and_key_have_nothing_to_click(p: ReviewPresenter) -> None:
    p.add(review(TYPE))
    assert not p.on_click((700, 400)) and "E" in p.message


def test_escape_rejects_with_an_optional_reason(p: ReviewPresenter) -> None:
    p.add(review(CLICK))
    p.add(review(CLICK))
    p.on_click((700, 400))
    req = p.on_escape()
    assert req is not None and req.verdict == "reject" and req.rationale is None
    assert req.points == ()
    assert p.on_reason() and p.mode == "reason"
    p.set_reason("  wrong window  ")
    req = p.on_enter()  # Enter while typing a reason rejects: it never approves
    assert req is not None and req.verdict == "reject" and req.rationale == "wrong window"


# -- edit -------------------------------------------------------------------------------


def test_edit_type_text(p: ReviewPresenter) -> None:
    p.add(review(TYPE))
    assert p.on_edit() == "hello\nworld" and p.mode == "edit"
    p.set_edit_value("hello there")
    assert p.shapes()[0] == Callout((740, 650), "hello there", "edited text", True)
    assert p.on_enter() is None and p.mode == "review"  # commits the edit, sends nothing
    assert p.edited == {"text": "hello there"}
    req = p.on_enter()
    assert req is not None and req.verdict == "edit" and req.edited == {"text": "hello there"}


def test_edit_keys_is_validated_and_escape_discards(p: ReviewPresenter) -> None:
    p.add(review(KEY))
    assert p.on_edit() == "ctrl+shift+t"
    p.set_edit_value("ctrl+nosuchkey")
    assert p.on_enter() is None and p.mode == "edit" and "cannot use that keys" in p.message
    assert p.on_escape() is None and p.mode == "review" and p.edited is None  # not a reject
    p.on_edit()
    p.set_edit_value("ctrl+w")
    p.on_enter()
    assert p.shapes()[0] == KeyChip((740, 650), (("ctrl", "w"),), "press", True)
    req = p.on_enter()
    assert req is not None and (req.verdict, req.edited) == ("edit", {"keys": "ctrl+w"})


def test_an_unchanged_edit_is_an_approval(p: ReviewPresenter) -> None:
    p.add(review(KEY))
    p.on_edit()
    p.on_enter()
    req = p.on_enter()
    assert req is not None and req.verdict == "approve" and req.edited is None


def test_clicks_have_nothing_to_edit(p: ReviewPresenter) -> None:
    p.add(review(CLICK))
    assert p.on_edit() is None and p.mode == "review"


# -- approve2 ---------------------------------------------------------------------------


def test_approve2_needs_a_rationale_from_the_allowed_list(clock: Clock) -> None:
    p = ReviewPresenter("ann@desk", rationales=("verified", "expected"), clock=clock)
    r = review(CLICK, tier="approve2", needed=2, rationales_required=True)
    p.add(r)
    assert p.needs_rationale and p.on_enter() is None and "1: verified" in p.message
    assert p.message.startswith("rule 'test-rule' needs a rationale")
    with pytest.raises(ValueError):
        p.set_rationale("because I say so")
    with pytest.raises(ValueError):
        p.set_rationale(5)
    p.set_rationale(1)
    req = p.on_enter()
    assert req is not None and req.verdict == "approve" and req.rationale == "expected"
    # the daemon keeps it pending for a second person: not ours to approve again
    p.confirm(r.id, r.model_copy(update={"decisions": (decision(r, "ann@desk"),)}))
    assert p.get(r.id) is not None and p.current is None and p.count == 0
    other = ReviewPresenter("bob@desk")
    other.add(r.model_copy(update={"decisions": (decision(r, "ann@desk"),)}))
    assert other.current is not None and "1 of 2 approvals" in other.status()


@pytest.mark.parametrize("tier", ["grace", "approve", "approve2"])
def test_the_review_not_the_tier_says_whether_a_rationale_is_needed(
    p: ReviewPresenter, tier: str
) -> None:
    # a policy with `rationale_required = []`: an approve2 review says it needs none
    free = review(CLICK, tier=tier, needed=2 if tier == "approve2" else 1,
                  rationales=("checked on screen",))  # fmt: skip
    p.add(free)
    if tier != "grace":  # a grace review is a toast, not the one on screen
        assert p.current is not None and not p.needs_rationale
        req = p.on_enter()
        assert req is not None and req.verdict == "approve" and req.rationale is None
    # ... and one that says it needs one is held for it, whatever its tier
    held = review(CLICK, tier="approve", rationales_required=True,
                  rationales=("checked on screen", "too risky"))  # fmt: skip
    p.add(held)
    assert p.current is not None and p.current.id == held.id and p.needs_rationale
    assert p.on_enter() is None and "1: checked on screen, 2: too risky" in p.message
    p.set_rationale("too risky")
    req = p.on_enter()
    assert req is not None and (req.verdict, req.rationale) == ("approve", "too risky")


def test_reject_needs_no_rationale_on_approve2(p: ReviewPresenter) -> None:
    p.add(review(CLICK, tier="approve2", needed=2))
    req = p.on_escape()
    assert req is not None and req.verdict == "reject"


# -- sending ----------------------------------------------------------------------------


def test_a_failed_send_brings_the_review_back(p: ReviewPresenter) -> None:
    r = review(CLICK)
    p.add(r)
    assert p.on_enter() is not None and p.current is None
    p.send_failed(r.id, "daemon unreachable")
    assert p.current == r and "not sent" in p.message
    p.on_enter()
    p.confirm(r.id, None)
    assert p.get(r.id) is None


# -- grace ------------------------------------------------------------------------------


def test_grace_countdown_and_cancel(p: ReviewPresenter) -> None:
    r = review(CLICK, tier="grace", created=5000.0)
    p.add(r)
    assert p.current is None and p.count == 0  # a toast, not a full-screen review
    (g,) = p.graces
    assert g.seconds_left(5000.0) == 5.0 and g.seconds_left(5003.5) == 1.5
    assert g.seconds_left(5009.0) == 0.0 and g.fraction_left(5002.5) == 0.5
    req = g.on_cancel()
    assert req is not None and (req.verdict, req.reviewer, req.shown_at) == (
        "cancel",
        "ann@desk",
        5000.0,
    )
    assert g.on_cancel() is None  # one cancel is enough
    p.send_failed(r.id, "offline")
    assert g.on_cancel() is not None
    p.remove(r.id)
    assert p.graces == []


def test_grace_deadline_follows_the_reviews_expiry() -> None:
    p = ReviewPresenter("x", grace_seconds=10.0)
    p.add(review(CLICK, tier="grace", created=100.0))
    p.add(review(CLICK, tier="grace", created=100.0, expires=103.0))
    assert [g.deadline for g in p.graces] == [103.0, 110.0]


def test_default_reviewer_is_user_at_host() -> None:
    assert "@" in default_reviewer()
    assert "@" in ReviewPresenter().reviewer


# -- a rule's required rationale (issue 11) -----------------------------------------------


def test_a_rule_with_a_minimum_rationale_refuses_a_bare_approval(p: ReviewPresenter) -> None:
    from daemon.outcomes import rationale_refusal

    r = review(TYPE, rule="delete", rationale_min_length=20)
    p.add(r)
    assert p.rationale_min_length == 20 and not p.needs_rationale  # typed, not picked
    assert p.on_enter() is None  # nothing sent: the daemon would answer 422
    assert p.mode == "justify" and p.message == rationale_refusal(r, 0)
    assert p.message.startswith("rule 'delete' needs a rationale of at least 20 characters")
    p.set_reason("looks fine")
    assert p.on_enter() is None and "(got 10)" in p.message and p.current is r
    p.set_reason("  the text is the one the person dictated  ")
    req = p.on_enter()
    assert req is not None and (req.verdict, req.rationale) == (
        "approve", "the text is the one the person dictated"
    )


def test_esc_leaves_the_rationale_and_a_correction_needs_none(p: ReviewPresenter) -> None:
    r = review(CLICK, rule="delete", rationale_min_length=20)
    p.add(r)
    assert p.on_enter() is None and p.mode == "justify"
    p.set_reason("half a tho")
    assert p.on_escape() is None  # Esc leaves the field: it rejects nothing
    assert (p.mode, p.reason, p.message) == ("review", "", "")
    p.on_click((700, 400))
    req = p.on_enter()  # stopping the action as proposed is the safe side: no words needed
    assert req is not None and req.verdict == "correct" and req.rationale is None


# -- what the side column says: agent pixels, expiry, safety checks ---------------------------


def test_the_summary_gives_the_agents_pixels_then_the_screens(p: ReviewPresenter) -> None:
    p.add(review({"action": "click", "x": 1380, "y": 850}, agent_size=(1366, 768),
                 action={"action": "click", "x": 683, "y": 384, "space": "agent"}))  # fmt: skip
    assert p.summary() == "click at (683, 384) in the agent's 1366x768 pixels; on the screen (1380, 850)"


def test_a_drags_summary_names_both_ends_in_both_spaces(p: ReviewPresenter) -> None:
    p.add(review({"action": "drag", "path": [[200, 100], [600, 500]]}, agent_size=(640, 400),
                 action={"action": "drag", "path": [[50, 25], [250, 225]], "space": "agent"}))  # fmt: skip
    assert p.summary() == (
        "drag from (50, 25) to (250, 225) in the agent's 640x400 pixels; "
        "on the screen from (200, 100) to (600, 500)"
    )


def test_an_action_sent_in_screen_pixels_says_so(p: ReviewPresenter) -> None:
    p.add(review(CLICK, action={**CLICK, "space": "screen"}))
    assert p.summary() == "click at (740, 450) (screen pixels)"
    p.remove(p.current.id if p.current else "")
    p.add(review(TYPE))
    assert p.summary() == "type 11 characters"  # nothing to place


def test_the_expiry_counts_down_on_the_presenters_clock(p: ReviewPresenter, clock: Clock) -> None:
    p.add(review(CLICK))
    assert p.expiry() == ""  # this review never expires
    p.remove(p.current.id if p.current else "")
    p.add(review(CLICK, expires=clock.now + 65))
    assert p.expiry() == "expires in 1:05"
    clock.now += 5.5
    assert p.expiry() == "expires in 1:00"
    clock.now += 50
    assert p.expiry() == "expires in 10 s"
    clock.now += 10
    assert p.expiry() == "expiring now: unanswered, it will not run"


def test_safety_checks_are_named_as_the_models_not_a_policy_rule() -> None:
    from overlay.presenter import SAFETY_RULE, rule_text

    held = review(CLICK, rule=SAFETY_RULE, safety_checks=("malicious_instructions: careful",))
    assert rule_text(held) == (
        "openai-safety-checks (approve): the model's own safety checks, not a policy rule"
    )
    assert rule_text(review(CLICK)) == "test-rule (approve)"
    from daemon.api.routes_dialects import SAFETY_RULE as DAEMONS

    assert SAFETY_RULE == DAEMONS  # the overlay recognises the name the daemon uses
