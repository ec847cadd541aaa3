"""``driverseat report``: figures from a real store (actions, control events, reviews made
through the real review queue), the page written by the CLI, rendered in headless Chromium.

The data: day 1 has 100 agent actions, 2 takeovers and a stop, 2 corrections, an
approval and a rejection; day 6 has 400 actions, 1 takeover, an edit and 3 approvals; the
agent asked 2 questions each day.
So: 30 and 2.5 interventions per 1,000, 20 and 2.5 corrections per 1,000, 8 fixes in 500
actions = 16 per 1,000 (a supervisor's agent by the default thresholds), 120 s of reviewer
time (60 s of the 180 s of latency was waiting), at 60 an hour 2.00, 0.67 per correction.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from daemon.cli import main
from daemon.outcomes import DecisionRequest, Tier, Verdict
from daemon.question import Question, QuestionAnswer
from daemon.question_store import QuestionStore
from daemon.report.figures import Thresholds, gather, stage
from daemon.review.queue import ReviewQueue
from daemon.store import Store

T0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC).timestamp()
D6 = T0 + 5 * 86400
SCREEN, AGENT = (0, 0, 640, 360), (640, 360)


def _png() -> bytes:
    ok, buf = cv2.imencode(".png", np.full((360, 640, 3), 230, np.uint8))
    assert ok
    return buf.tobytes()


def _click(x: int, y: int) -> dict[str, Any]:
    return {"action": "click", "x": x, "y": y, "button": "left", "count": 1, "modifiers": []}


def populate(data: Path) -> None:
    png = _png()
    with Store(data / "driverseat.db") as store:
        for day, n in ((T0, 100), (D6, 400)):
            for i in range(n):
                store.record_action(f"a{day}-{i}", "canonical", _click(1, 1))
                with store.locked() as db:  # the store stamps now; the curve needs two days
                    db.execute("UPDATE actions SET created = ? WHERE id = ?", (day + i, f"a{day}-{i}"))
        for at, to in ((T0 + 10, "human"), (T0 + 20, "agent"), (T0 + 30, "human"), (T0 + 40, "agent"),
                       (T0 + 50, "stopped"), (D6 + 10, "human")):  # fmt: skip
            came = "agent" if to != "agent" else "human"
            store.record_event("control", {"from": came, "to": to, "by": "input"}, at=at)
        q = ReviewQueue(store, data / "frames")

        def review(at: float, tier: Tier, rule: str, action: dict[str, Any], verdict: Verdict, decided: float,
                   shown: float | None = None, **more: Any) -> None:  # fmt: skip
            r = q.create(f"x{at}", action, action, tier, rule, png, SCREEN, AGENT, now=at)
            q.decide(r.id, DecisionRequest(verdict=verdict, reviewer="ann", shown_at=shown, **more), now=decided)

        review(T0 + 100, "approve", "careful", _click(100, 100), "correct", T0 + 130, T0 + 110, points=((300, 200),))
        review(T0 + 200, "approve", "careful", _click(50, 50), "correct", T0 + 250, T0 + 210, points=((60, 70),))
        review(T0 + 300, "approve", "careful", _click(5, 5), "approve", T0 + 305)
        review(T0 + 400, "approve2", "typing", {"action": "type", "text": "rm"}, "reject", T0 + 460, T0 + 440,
               rationale="no")  # fmt: skip
        review(D6 + 100, "approve", "typing", {"action": "type", "text": "helo"}, "edit", D6 + 120, D6 + 100,
               edited={"text": "hello"})  # fmt: skip
        for k in range(3):
            review(D6 + 200 + k, "approve", "careful", _click(9, 9), "approve", D6 + 205 + k)
        # the agent asked 4 times: day 1 an option answered after 30 s and one nobody
        # answered; day 6 a point answered after 90 s and one it withdrew
        rows = QuestionStore(store)
        for at, status, kind, wait in ((T0 + 500, "answered", "option", 30.0), (T0 + 600, "expired", None, None),
                                       (D6 + 500, "answered", "point", 90.0), (D6 + 600, "withdrawn", None, None)):
            answer = None if kind is None else QuestionAnswer(kind=kind, summary="-", by="ann", at=at + wait)
            rows.save(Question(id=f"q{at}", created=at, expires=at + 300, question="Which?", status=status,
                               answer=answer, answered=None if wait is None else at + wait), "f.png")  # fmt: skip


def test_figures_count_what_was_put_in(tmp_path: Path) -> None:
    populate(tmp_path)
    with Store(tmp_path / "driverseat.db") as store:
        f = gather(store)
        assert f.actions == 500 and f.interventions == {"takeover": 3, "stop": 1}
        assert f.bucket_s == 86400 and [b.actions for b in f.buckets] == [100, 400]
        assert [b.per_1000(b.interventions) for b in f.buckets] == [30.0, 2.5]
        assert [b.per_1000(b.corrections) for b in f.buckets] == [20.0, 2.5]
        assert f.fixes == 8 and f.per_1000(f.fixes) == 16.0
        assert sorted(f.latency.deciding) == [20, 20, 20, 40] and sorted(f.latency.waiting) == [0, 10, 10, 40]
        assert f.by_rule["typing"] == {"rejected": 1, "edited": 1}
        assert stage(f, Thresholds())[0] == "supervisor"
        assert stage(f, Thresholds(supervisor_per_1000=10))[0] == "learner"
        assert stage(f, Thresholds(auditor_per_1000=20))[0] == "auditor"
        assert stage(f, Thresholds(min_actions=501))[0] == "learner"
        later = gather(store, since=D6)  # --since drops day 1
        assert later.actions == 400 and later.fixes == 2 and later.per_1000(later.fixes) == 5.0
        # questions are supervision the agent asked for, not fixes: apart from the stage
        assert f.questions == {"answered": 2, "expired": 1, "withdrawn": 1}
        assert f.answers == {"option": 1, "point": 1} and sorted(f.answer_waits) == [30.0, 90.0]
        assert [b.per_1000(b.questions) for b in f.buckets] == [20.0, 5.0]
        assert later.questions == {"answered": 1, "withdrawn": 1}


def _report(tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "r.html"
    assert main(["report", "--out", str(out), "--data-dir", str(tmp_path), *extra]) == 0
    return out.read_text()


def test_the_page_is_self_contained_and_states_the_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    populate(tmp_path)
    page = _report(tmp_path, "--hourly-cost", "60")
    assert "500 agent action(s), 8 review(s), stage supervisor" in capsys.readouterr().out
    assert "src=\"http" not in page and "href=\"http" not in page and "<script" not in page
    assert page.count('src="data:image/png;base64,') == 2  # both corrections' frames, inline
    assert 'id="stage">supervisor<' in page and "id='fix-rate'>16<" in page
    assert "id='cost-per-correction'>0.67<" in page and "<td>2.00</td>" in page
    assert "supervisor at or below 50, auditor at or below 5, at least 500" in page
    assert "2026-11-01" in page and "2026-11-06" in page
    assert "No agreement data" in page
    assert "id='questions'>4<" in page and "(8 per 1,000 agent actions)" in page
    assert "2 (1 option, 1 point)" in page and "withdrawn (the agent gave up waiting)</td><td>1<" in page
    strict = _report(tmp_path, "--supervisor-at", "10", "--since", "2026-11-01")
    assert 'id="stage">learner<' in strict and "above 10" in strict
    later = _report(tmp_path, "--since", "2026-11-06", "--auditor-at", "5")
    assert 'id="stage">learner<' in later and "400 agent action(s), fewer than the 500" in later


def test_an_empty_database_gives_a_learner_page(tmp_path: Path) -> None:
    Store(tmp_path / "driverseat.db").close()
    page = _report(tmp_path, "--hourly-cost", "60", "--since", "2026-11-02T10:00")
    assert "Nothing recorded since 2026-11-02 10:00" in page and 'id="stage">learner<' in page
    assert "No agent actions in this period" in page and "No reviews in this period" in page
    assert "The agent asked no questions in this period" in page


def test_the_report_needs_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--out", str(tmp_path / "r.html"), "--data-dir", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install-deps.sh installs it)")
def test_headless_chromium_renders_the_plots_with_their_numbers(tmp_path: Path) -> None:
    populate(tmp_path)
    _report(tmp_path, "--hourly-cost", "60")
    page = (tmp_path / "r.html").resolve().as_uri()
    assert CHROMIUM is not None
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    dom = subprocess.run([*browser, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=True).stdout
    # the rendered SVG of the curve carries each point's value as text
    curve = dom[dom.index("per 1,000 agent actions</h2>"):dom.index("<h2>Review latency")]
    values = [v for v in ("30", "2.5", "20") if f">{v}</text>" in curve]
    assert values == ["30", "2.5", "20"]
    assert ">20 s</text>" in dom and ">10 s</text>" in dom  # median deciding and waiting
    shot = tmp_path / "r.png"
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1000,1800", page],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (1800, 1000)
    # the curve's colours reach the screen: interventions red, corrections amber
    assert (np.abs(img.astype(int) - (0x3B, 0x3B, 0xB8)).sum(axis=2) < 30).sum() > 50
    assert (np.abs(img.astype(int) - (0x00, 0x8C, 0xD0)).sum(axis=2) < 30).sum() > 50


def test_timings_split_waiting_from_deciding(tmp_path: Path) -> None:
    """A review the overlay showed at +30 s and the person looked at at +50 s, decided at
    +60 s: 50 s waiting, 10 s deciding, whatever the decision's own shown_at said; one
    only shown (at +5 s) splits there; one with neither keeps the old rule."""
    png = _png()
    with Store(tmp_path / "driverseat.db") as store:
        q = ReviewQueue(store, tmp_path / "frames")
        a = q.create("a", _click(1, 1), _click(1, 1), "approve", "r", png, SCREEN, AGENT, now=T0)
        q.seen(a.id, "shown", now=T0 + 30)
        q.seen(a.id, "looked", now=T0 + 50)
        q.seen(a.id, "shown", now=T0 + 55)  # a second report moves nothing
        q.decide(a.id, DecisionRequest(verdict="approve", reviewer="ann", shown_at=T0 + 1), now=T0 + 60)
        b = q.create("b", _click(1, 1), _click(1, 1), "approve", "r", png, SCREEN, AGENT, now=T0 + 100)
        q.seen(b.id, "shown", now=T0 + 105)
        q.decide(b.id, DecisionRequest(verdict="reject", reviewer="ann"), now=T0 + 120)
        c = q.create("c", _click(1, 1), _click(1, 1), "approve", "r", png, SCREEN, AGENT, now=T0 + 200)
        q.decide(c.id, DecisionRequest(verdict="reject", reviewer="ann", shown_at=T0 + 230), now=T0 + 240)
        f = gather(store)
        assert f.latency.total == [60, 20, 40]
        assert f.latency.waiting == [50, 5, 30] and f.latency.deciding == [10, 15, 10]
        timing = q.get(a.id)
        assert timing is not None and timing.timing.model_dump() == {
            "shown": T0 + 30, "looked": T0 + 50, "answered": T0 + 60}
