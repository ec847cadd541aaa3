"""When a review was shown, looked at and answered: reported by the overlay, kept in
SQLite across a restart, on the review's JSON; bad reports get a 4xx."""

from __future__ import annotations

from pathlib import Path

from daemon.actions import Click
from daemon.client import Client
from daemon.outcomes import DecisionRequest
from daemon.review.queue import ReviewQueue
from daemon.store import Store
from daemon.timings import record, timing
from tests.daemon.test_routes_reviews import AGENT, PNG, RECT, Live, live  # noqa: F401 - the fixture


def test_seen_is_stamped_once_on_the_review_json_and_answered_by_its_decision(live: Live) -> None:  # noqa: F811
    r = live.queue.create("a1", Click(x=1, y=1), Click(x=1, y=1), "approve", "rule", PNG, RECT, AGENT)
    assert r.timing.model_dump() == {"shown": None, "looked": None, "answered": None}
    shown = live.http.post(f"/v1/reviews/{r.id}/seen", json={"moment": "shown"})
    assert shown.status_code == 200 and shown.json()["timing"]["shown"] is not None
    again = live.http.post(f"/v1/reviews/{r.id}/seen", json={"moment": "shown"}).json()["timing"]
    assert again["shown"] == shown.json()["timing"]["shown"]  # the first report counts
    with Client(live.url, "") as c:
        looked = c.seen(r.id, "looked").timing
    assert looked.looked is not None and looked.looked >= looked.shown  # type: ignore[operator]
    assert live.http.get(f"/v1/reviews/{r.id}").json()["timing"]["looked"] == looked.looked
    done = live.queue.decide(r.id, DecisionRequest(verdict="reject", reviewer="ann"))
    assert done.timing.answered == done.decisions[-1].at
    assert live.http.get(f"/v1/reviews/{r.id}").json()["timing"]["answered"] == done.timing.answered


def test_bad_reports_are_4xx(live: Live) -> None:  # noqa: F811
    r = live.queue.create("a1", Click(x=1, y=1), Click(x=1, y=1), "approve", "rule", PNG, RECT, AGENT)
    unknown = live.http.post("/v1/reviews/nope/seen", json={"moment": "shown"})
    assert unknown.status_code == 404 and "no review" in unknown.json()["error"]
    for body in ({"moment": "answered"}, {"moment": "shown", "at": 1}, {}):
        bad = live.http.post(f"/v1/reviews/{r.id}/seen", json=body)
        assert bad.status_code == 422, bad.text


def test_timings_survive_a_restart_and_a_looked_implies_shown(tmp_path: Path) -> None:
    with Store(tmp_path / "d.db") as store:
        q = ReviewQueue(store, tmp_path / "frames")
        r = q.create("a1", Click(x=1, y=1), Click(x=1, y=1), "approve", "rule", PNG, RECT, AGENT, now=10)
        q.seen(r.id, "looked", now=12)  # an overlay elsewhere may say only this
        record(store, "question", "q1", "answered", 99.0)  # questions share the table
    with Store(tmp_path / "d.db") as store:
        again = ReviewQueue(store, tmp_path / "frames").get(r.id)
        assert again is not None and (again.timing.shown, again.timing.looked) == (12, 12)
        assert timing(store, "q1").answered == 99.0 and timing(store, "never").shown is None
