"""A question on the overlay: the presenter (plain Python) and the window offscreen."""

from __future__ import annotations

import pytest

from daemon.outcomes import Review
from daemon.question import Option, Question
from overlay.questions import QuestionPresenter, first_in_line

RECT = (0, 0, 1920, 1080)


def question(created: float = 10.0, **extra: object) -> Question:
    options = (
        Option(number=1, text="economy", point=(200, 200), screen_point=(281, 281)),
        Option(number=2, text="business", box=(100, 400, 400, 500), screen_box=(141, 562, 562, 703)),
        Option(number=3, text="neither"),
    )
    base: dict[str, object] = {"id": "q1", "created": created, "expires": created + 300,
                               "question": "Which flight?", "options": options,
                               "screen_rect": RECT, "agent_size": (1366, 768)}  # fmt: skip
    return Question.model_validate({**base, **extra})


def test_clicks_pick_options_or_mark_a_spot() -> None:
    p = QuestionPresenter("me", clock=lambda: 20.0)
    p.add(question())
    assert p.option_at((290, 270)) == 1  # near the ring
    assert p.option_at((300, 600)) == 2  # inside the box
    assert p.option_at((1000, 900)) is None
    assert p.on_click((1000, 900)) is None and p.point == (1000, 900)
    sent = p.on_enter()
    assert sent is not None and sent.kind == "point" and sent.point == (1000, 900) and sent.shown_at == 20.0
    assert p.current is None  # it left the screen with the answer


def test_digits_text_and_secrets() -> None:
    p = QuestionPresenter("me")
    p.add(question())
    assert p.on_digit(4) is None and "no option 4" in p.message
    sent = p.on_digit(3)
    assert sent is not None and (sent.kind, sent.option) == ("option", 3)
    p.add(question(id="q2", secret=True, options=()))
    p.set_text("123456")
    sent = p.on_enter()
    assert sent is not None and sent.kind == "secret" and sent.text == "123456"
    assert "123456" not in repr(sent)  # the secret's text is kept out of reprs (and logs)


def test_a_takeover_clears_the_screen_of_every_question() -> None:
    p = QuestionPresenter("me")
    p.add(question())
    p.add(question(id="q2", created=11.0))
    sent = p.on_takeover()
    assert sent is not None and sent.kind == "takeover"
    assert p.takeover and p.current is None


def test_reviews_and_questions_in_arrival_order() -> None:
    r = Review(id="r", action_id="a", action={}, screen_action={}, tier="approve", rule="x", created=12.0)
    assert first_in_line(r, question(created=10.0)) == "question"
    assert first_in_line(r, question(created=13.0)) == "review"
    assert first_in_line(None, None) is None


@pytest.mark.qt
def test_the_window_masks_a_secret_and_numbers_the_options(qtbot: object) -> None:
    pytest.importorskip("PySide6")
    from PySide6.QtWidgets import QLineEdit, QPushButton

    from overlay.widgets.question import QuestionWindow

    p = QuestionPresenter("me")
    w = QuestionWindow(p, device_pixel_ratio=1.0)
    qtbot.addWidget(w)  # type: ignore[attr-defined]
    p.add(question())
    w.refresh()
    assert [b.text() for b in w.side.findChildren(QPushButton) if b.objectName() == "option"] == [
        "1.  economy", "2.  business", "3.  neither",
    ]  # fmt: skip
    assert w.field.echoMode() == QLineEdit.EchoMode.Normal
    assert [m.number for m in p.marks() if m.point or m.box] == [1, 2]
    p.remove("q1")
    p.add(question(id="q2", secret=True, options=()))
    w.refresh()
    assert w.field.echoMode() == QLineEdit.EchoMode.Password
