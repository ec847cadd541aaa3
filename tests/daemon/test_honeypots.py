"""Test reviews (honeypots), attention and fatigue (issue 11) over real HTTP and SQLite.

The daemon runs on the fake backend (no X): what it was sent says what ran. The agent
and the reviewers talk to it over HTTP, and the event stream is read over a real
WebSocket, as the overlay reads it. The honeypots' chance is 1 (after every real review)
and their random choices are the first option, so each test knows what it gets.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from capture.input._base import Kind
from capture.input._fake import FakeBackend
from daemon.actions import parse_action
from daemon.api.app import create_app
from daemon.attention import Decided, attention, needed_ms, on_duty, score
from daemon.control.runtime import Runtime
from daemon.honeypot_store import answers, honeypot_ids
from daemon.review.gate import Gate, Held, Proposal
from daemon.review.policy import Ruling
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.reviewers import Reviewers
from daemon.service import Daemon
from daemon.shadow.preference import export_preference
from daemon.shadow.sft import export_sft
from daemon.store import Store
from tests.daemon.live import poll, serving
from tests.daemon.test_gate import PNG, SCREEN

T = TypeVar("T")
TOKEN = "daemon-token-honeypots-0123456789"
POLICY = """
[defaults]
tier = "auto"
rationale_required = []
honeypot_rate = 1.0

[[rule]]
name = "plain"
tier = "approve"
kinds = ["type"]
text = "^plain"
"""


class FirstChoice(random.Random):
    """Every chance taken, every choice the first: a test knows which decoy it gets."""

    def random(self) -> float:
        return 0.0

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        return seq[0]

    def shuffle(self, x: Any, random: Any = None) -> None:
        return None


class Events:
    """The event stream as the overlay reads it, collected on a thread."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://") + f"/v1/events?token={TOKEN}"
        self.seen: list[dict[str, Any]] = []
        self.ws: Any = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the event stream did not open"

    def _read(self) -> None:
        with connect(self.url, proxy=None, max_size=2**24) as ws:
            self.ws = ws
            self._ready.set()
            try:
                for raw in ws:
                    self.seen.append(json.loads(raw))
            except ConnectionClosed:
                return

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in list(self.seen) if e.get("type") == kind]

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self._thread.join(timeout=5)


class Live:
    def __init__(self, url: str, fake: FakeBackend, daemon: Daemon, data_dir: Path) -> None:
        self.url, self.fake, self.daemon, self.data_dir = url, fake, daemon, data_dir
        self.agent = ThreadPoolExecutor(4)
        self.events = Events(url)
        assert isinstance(daemon.gate, Gate)
        self.gate: Gate = daemon.gate

    def http(self, token: str = TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def act(self, body: dict[str, Any]) -> Future[httpx.Response]:
        def go() -> httpx.Response:
            with self.http() as c:
                return c.post("/v1/actions", json=body)

        return self.agent.submit(go)

    def pending(self) -> list[dict[str, Any]]:
        with self.http() as c:
            found: list[dict[str, Any]] = c.get("/v1/reviews").json()
        return found

    def new_review(self, known: set[str]) -> dict[str, Any]:
        box: list[dict[str, Any]] = []

        def arrived() -> bool:
            box[:] = [r for r in self.pending() if r["id"] not in known]
            return bool(box)

        assert poll(arrived, timeout=10), "no review came"
        return box[0]

    def decide(self, review_id: str, token: str = TOKEN, **body: Any) -> httpx.Response:
        with self.http(token) as c:
            return c.post(f"/v1/reviews/{review_id}/decision", json={"reviewer": "desk@local", **body})

    def real_review_then_test(self, token: str, trigger: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Future[httpx.Response]]:
        """A real review approved (which arms a test), then the agent's ``trigger``
        proposal, which places it: (the real review, the test review, the trigger's request)."""
        known = {r["id"] for r in self.pending()}
        first = self.act({"action": "type", "text": "plain words", "reason": "type the words the task asks for"})
        real = self.new_review(known)
        assert self.decide(real["id"], token, verdict="approve").status_code == 200
        assert first.result(timeout=30).json()["status"] == "executed"
        later = self.act(trigger)
        test = self.new_review(known | {real["id"]})
        return real, test, later


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("honeypots")
    fake = FakeBackend((1920, 1080))
    runtime = Runtime(fake, step_interval=0.0)
    store = Store(data_dir / "driverseat.db")
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, data_dir / "frames"), runtime.view.scaling,
                grab_frame=lambda: PNG)  # fmt: skip
    gate.honeypots.rng = FirstChoice()
    daemon = Daemon(runtime, store, gate)
    try:
        with serving(create_app(daemon, TOKEN)) as url:
            lv = Live(url, fake, daemon, data_dir)
            yield lv
            lv.events.close()
            lv.agent.shutdown(wait=False, cancel_futures=True)
    finally:
        runtime.close()


def _token(live: Live, name: str) -> str:
    return Reviewers(live.daemon.store).add(name)[1]


def _clicks(fake: FakeBackend) -> list[tuple[int, int]]:
    """Where each button press went: the pointer's last motion before it."""
    at, out = (0, 0), []
    for p in list(fake.sent):
        if p.kind == Kind.MOTION:
            at = (p.x, p.y)
        elif p.kind == Kind.BUTTON_DOWN:
            out.append(at)
    return out


def test_an_approved_honeypot_is_a_miss_runs_nothing_and_raises_the_alert(live: Live) -> None:
    alice = _token(live, "alice")
    _, test, later = live.real_review_then_test(
        alice, {"action": "click", "x": 683, "y": 384, "reason": "press the Save button"}
    )
    assert not later.done()  # the agent's click waits while the test is on the screen
    assert test["action"]["action"] == "click" and (test["action"]["x"], test["action"]["y"]) != (683, 384)
    assert test["reason"] == "press the Save button"  # the agent's words, the wrong target
    sent_before = len(live.fake.sent)
    answer = live.decide(test["id"], alice, verdict="approve")
    assert answer.status_code == 200 and answer.json()["status"] == "approved"
    missed = poll(lambda: bool(live.events.of("honeypot_missed")), timeout=10) and live.events.of("honeypot_missed")
    assert missed and missed[-1]["review_id"] == test["id"] and missed[-1]["reviewer"] == "alice"
    assert "never ran" in missed[-1]["summary"] and missed[-1]["kind"] == "displaced"
    # the agent gets its own click, as proposed, and nothing of the test
    out = later.result(timeout=30).json()
    assert out["status"] == "executed" and out.get("review_id") is None, out
    proposed = live.daemon.to_screen(parse_action({"action": "click", "x": 683, "y": 384}))
    assert _clicks(live.fake)[-1] == proposed.points()[0]
    displaced = (test["screen_action"]["x"], test["screen_action"]["y"])
    assert displaced not in _clicks(live.fake), "the test's click reached the desktop"
    assert len([p for p in live.fake.sent[sent_before:] if p.kind == Kind.BUTTON_DOWN]) == 1
    with live.http() as c:  # no action exists under the test's id: nothing to run, no outcome
        assert c.get(f"/v1/actions/{test['action_id']}").status_code == 404
    assert not [e for e in live.events.of("outcome") if e.get("review_id") == test["id"]]
    found = answers(live.daemon.store, "alice")
    assert [(a.review_id, a.caught) for a in found] == [(test["id"], False)]
    # whatever path an approved test took, the gate would not clear it
    approved = live.gate.queue.get(test["id"])
    assert approved is not None and approved.status == "approved"
    p = Proposal(approved.action_id, parse_action(approved.action), parse_action(approved.screen_action))
    assert isinstance(live.gate._answer(p, approved, Ruling("approve", "plain", "")), Held)


def test_a_rejected_or_corrected_honeypot_is_a_catch(live: Live) -> None:
    bob = _token(live, "bob")
    decisions: list[dict[str, Any]] = [{"verdict": "reject"}, {"verdict": "correct", "points": [[960, 540]]}]
    for n, decision in enumerate(decisions):
        _, test, later = live.real_review_then_test(
            bob, {"action": "click", "x": 683, "y": 384, "reason": f"press Save ({n})"}
        )
        if n == 0:  # another proposal meanwhile waits too: no real review beside the test
            other = live.act({"action": "type", "text": "plain meanwhile"})
            assert poll(lambda: len(live.gate.waiting) == 2, timeout=10)
            assert [r["id"] for r in live.pending()] == [test["id"]]
        r = live.decide(test["id"], bob, **decision)
        assert r.status_code == 200, r.text
        assert later.result(timeout=30).json()["status"] == "executed"
        test_id = test["id"]
        assert poll(lambda: any(e["review_id"] == test_id for e in live.events.of("honeypot_caught")), timeout=10)  # noqa: B023
        if n == 0:
            meanwhile = live.new_review({test["id"]})
            live.decide(meanwhile["id"], verdict="reject")
            assert other.result(timeout=30).json()["status"] == "rejected"
            live.gate.honeypots.armed = False  # that real review armed one; this test wants its own
    assert [a.caught for a in answers(live.daemon.store, "bob")] == [True, True]
    with live.http(bob) as c:
        mine = c.get("/v1/reviewers/me/attention").json()
    assert mine["honeypots"] == {"shown": 2, "caught": 2, "missed": 0}
    assert mine["signals"]["catch"] == 1.0
    with live.http() as c:  # the daemon's token says whose figures it wants, or is told to
        nameless = c.get("/v1/reviewers/me/attention")
        local = c.get("/v1/reviewers/me/attention", params={"name": "desk@local"})
    assert nameless.status_code == 422 and "?name=" in nameless.json()["error"]
    assert local.status_code == 200 and local.json()["reviewer"] == "desk@local"


def test_a_honeypot_never_comes_while_a_real_review_waits_nor_twice_in_a_row(live: Live) -> None:
    carol = _token(live, "carol")
    _, test, later = live.real_review_then_test(carol, {"action": "key", "keys": "Return"})
    assert test["action"]["action"] == "key"  # nothing else fits a key press: a destructive combo
    live.decide(test["id"], carol, verdict="reject")
    assert later.result(timeout=30).json()["status"] == "executed"
    # only a real review arms one: the next proposals find no test
    for _ in range(2):
        assert live.act({"action": "key", "keys": "Tab"}).result(timeout=30).json()["status"] == "executed"
    assert not live.gate.honeypots.armed
    # two real reviews at once; the first answered arms a test while the second waits
    known = {r["id"] for r in live.pending()}
    one = live.act({"action": "type", "text": "plain one"})
    first = live.new_review(known)
    two = live.act({"action": "type", "text": "plain two"})
    second = live.new_review(known | {first["id"]})
    live.decide(first["id"], carol, verdict="approve")
    one.result(timeout=30)
    assert live.gate.honeypots.armed
    # a proposal now places no test: a real review waits
    assert live.act({"action": "key", "keys": "Tab"}).result(timeout=30).json()["status"] == "executed"
    assert [r["id"] for r in live.pending()] == [second["id"]]
    live.decide(second["id"], carol, verdict="reject")
    assert two.result(timeout=30).json()["status"] == "rejected"
    # nothing waits any more: the next proposal places it
    third = live.act({"action": "key", "keys": "Tab"})
    test2 = live.new_review(known | {first["id"], second["id"]})
    assert test2["id"] in honeypot_ids(live.daemon.store)
    live.decide(test2["id"], carol, verdict="reject")
    assert third.result(timeout=30).json()["status"] == "executed"
    assert not live.gate.honeypots.armed


def test_a_replayed_test_is_the_agents_own_corrected_proposal_on_its_frame(live: Live) -> None:
    hana = _token(live, "hana")
    live.gate.policy = parse_policy(POLICY.replace("honeypot_rate = 1.0", 'honeypot_rate = 1.0\nhoneypot_kinds = ["replay"]')
                                    + '[[rule]]\nname = "unsure"\ntier = "approve"\nkinds = ["click"]\nconfidence_below = 0.5\n')  # fmt: skip
    live.gate.honeypots.armed = False
    try:
        known = {r["id"] for r in live.pending()}
        fut = live.act({"action": "click", "x": 100, "y": 100, "confidence": 0.2, "reason": "open the menu"})
        real = live.new_review(known)
        assert live.decide(real["id"], hana, verdict="correct", points=[[300, 200]]).status_code == 200
        assert fut.result(timeout=30).json()["status"] == "corrected"
        later = live.act({"action": "key", "keys": "Tab"})
        test = live.new_review(known | {real["id"]})
        assert test["id"] in honeypot_ids(live.daemon.store)
        assert test["action"] == real["action"] and test["screen_action"] == real["screen_action"]
        with live.http(hana) as c:
            frames = [c.get(f"/v1/reviews/{r}/screenshot").content for r in (real["id"], test["id"])]
        assert frames[0] == frames[1]
        live.decide(test["id"], hana, verdict="reject")
        assert later.result(timeout=30).json()["status"] == "executed"
    finally:
        live.gate.policy = parse_policy(POLICY)
        live.gate.honeypots.armed = False


def test_exports_and_the_audit_leave_honeypots_out(live: Live, tmp_path: Path) -> None:
    from daemon.reviewers import audit

    tests = honeypot_ids(live.daemon.store)
    assert tests, "the tests above made some"
    sft = export_sft(live.daemon.store, live.data_dir, [], tmp_path / "sft", approvals=True)
    rows = [json.loads(line) for line in (tmp_path / "sft" / "train" / "metadata.jsonl").read_text().splitlines()]
    assert rows and not {r.get("review_id") for r in rows} & tests, sft
    try:
        export_preference(live.daemon.store, live.data_dir, tmp_path / "pref")
        pref = [json.loads(line) for line in (tmp_path / "pref" / "train" / "metadata.jsonl").read_text().splitlines()]
    except LookupError:  # the only corrected review was a test: nothing to pair
        pref = []
    assert not {str(r.get("review_id")) for r in pref} & tests
    assert not {row["review_id"] for row in audit(live.daemon.store)} & tests
    # the readiness report counts real reviews only, and shows each reviewer's attention
    from daemon.report.figures import Thresholds, gather
    from daemon.report.page import render

    figures = gather(live.daemon.store)
    with live.daemon.store.locked() as db:
        real = db.execute("SELECT COUNT(*) FROM reviews WHERE id NOT IN (SELECT review_id FROM honeypots)").fetchone()[0]
    assert figures.reviews == real
    alice = next(a for a in figures.attention if a["reviewer"] == "alice")
    assert alice["honeypots"] == {"shown": 1, "caught": 0, "missed": 1}
    page = render(figures, Thresholds(), live.data_dir)
    assert "Reviewer attention" in page and "<td>alice</td>" in page


def test_under_the_attention_threshold_an_approval_needs_a_second_reviewer(live: Live) -> None:
    dave, erin = _token(live, "dave"), _token(live, "erin")
    live.gate.policy = parse_policy(POLICY.replace("honeypot_rate = 1.0", "attention_threshold = 50"))
    live.gate.honeypots.armed = False
    try:
        # dave rubber-stamps a long reason in no time: the reading signal falls to 0
        reason = " ".join(["word"] * 40)
        for i in range(2):
            known = {r["id"] for r in live.pending()}
            fut = live.act({"action": "type", "text": f"plain {i}", "reason": reason})
            review = live.new_review(known)
            # shown just now: decided within milliseconds of being shown
            r = live.decide(review["id"], dave, verdict="approve", shown_at=time.time())
            assert r.status_code == 200
            if i == 0:
                assert r.json()["status"] == "approved"  # no signal yet before this one
                fut.result(timeout=30)
        # the second: dave's score is now under 50, so his approval is the first of two
        assert r.json()["status"] == "pending" and r.json()["needed"] == 2, r.json()
        assert not fut.done()
        again = live.decide(review["id"], dave, verdict="approve")
        assert again.status_code == 409  # not dave again
        assert live.decide(review["id"], erin, verdict="approve").json()["status"] == "approved"
        assert fut.result(timeout=30).json()["status"] == "executed"
    finally:
        live.gate.policy = parse_policy(POLICY)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_past_the_duty_limit_the_overlay_is_told_and_another_reviewer_must_approve(live: Live) -> None:
    frank = _token(live, "frank")
    clock = FakeClock(live.gate.queue.clock())
    live.gate.queue.clock = clock
    live.gate.policy = parse_policy(POLICY.replace("honeypot_rate = 1.0", 'duty_limit_hours = 1\non_fatigue = "other_reviewer"'))
    live.gate.honeypots.armed = False
    try:
        # frank decides every 20 minutes for an hour (a fake hour)
        for i in range(4):
            known = {r["id"] for r in live.pending()}
            fut = live.act({"action": "type", "text": f"plain duty {i}"})
            review = live.new_review(known)
            r = live.decide(review["id"], frank, verdict="approve")
            if i < 3:
                assert r.status_code == 200, r.text
                fut.result(timeout=30)
                clock.now += 20 * 60
        assert r.status_code == 403 and "another reviewer must approve" in r.json()["error"], r.text
        assert not [e for e in live.events.of("reviewer_fatigue") if e["reviewer"] == "frank"]
        assert live.decide(review["id"], frank, verdict="reject").status_code == 200  # stopping still counts

        def told() -> list[dict[str, Any]]:
            return [e for e in live.events.of("reviewer_fatigue") if e["reviewer"] == "frank"]

        assert poll(lambda: bool(told()), timeout=10), "no fatigue notice"
        assert told()[-1]["on_duty_s"] >= 3600 and told()[-1]["limit_s"] == 3600
        assert fut.result(timeout=30).json()["status"] == "rejected"
        with live.http(frank) as c:
            assert c.get("/v1/reviewers/me/attention").json()["on_duty_s"] >= 3600
        # a break longer than 30 minutes resets the duty
        clock.now += 31 * 60
        known = {r["id"] for r in live.pending()}
        fut = live.act({"action": "type", "text": "plain rested"})
        review = live.new_review(known)
        assert live.decide(review["id"], frank, verdict="approve").status_code == 200
        fut.result(timeout=30)
    finally:
        live.gate.queue.clock = time.time
        live.gate.policy = parse_policy(POLICY)


def test_a_honeypot_left_by_a_restart_is_withdrawn_and_never_runs(tmp_path: Path) -> None:
    store = Store(tmp_path / "driverseat.db")
    fake = FakeBackend((1920, 1080))
    runtime = Runtime(fake, step_interval=0.0)
    try:
        gate = Gate(parse_policy(POLICY), ReviewQueue(store, tmp_path / "frames"), SCREEN, grab_frame=lambda: PNG)
        gate.honeypots.rng = FirstChoice()
        daemon = Daemon(runtime, store, gate)
        with serving(create_app(daemon, TOKEN)) as url:
            lv = Live(url, fake, daemon, tmp_path)
            _, test, later = lv.real_review_then_test(TOKEN, {"action": "click", "x": 100, "y": 100})
            lv.events.close()
        # the daemon stopped with the test pending; a new one on the same store withdraws it
        assert later.result(timeout=30).json()["status"] == "error"  # shut down, said so
        again = Gate(parse_policy(POLICY), ReviewQueue(store, tmp_path / "frames"), SCREEN, grab_frame=lambda: PNG)
        assert again.adopt() == []  # nothing to wait for, nothing to run
        withdrawn = again.queue.get(test["id"])
        assert withdrawn is not None and withdrawn.status == "expired"
        assert (test["screen_action"]["x"], test["screen_action"]["y"]) not in _clicks(fake)
    finally:
        runtime.close()
        store.close()


# -- the score on fixed data ------------------------------------------------------------------

def test_the_attention_score_follows_its_documented_formula() -> None:
    assert needed_ms(40) == 1000 + 40 * 240  # 250 words a minute and a second to look
    rubber = [Decided(at=i, verdict="approve", tier="approve", latency_ms=300, words=40) for i in range(30)]
    rubber += [Decided(at=30, verdict="approve", tier="approve", latency_ms=300, words=40, honeypot=True, caught=False)]
    a = attention("rubber", rubber)
    # catch 0/1, reading 0/31, streak 20/31, no correction: 100 * (0.4*0 + 0.3*0 + 0.2*20/31) / 0.9
    assert a.signals == {"catch": 0.0, "reading": 0.0, "streak": round(20 / 31, 3), "agreement": None}
    assert a.score == round(100 * (0.2 * 20 / 31) / 0.9, 1) == 14.3
    careful = [Decided(at=i * 60, verdict="approve", tier="approve", latency_ms=8000, words=20) for i in range(5)]
    careful += [Decided(at=400, verdict="correct", tier="approve", latency_ms=9000, words=20, moved_element=True),
                Decided(at=500, verdict="reject", tier="approve2", latency_ms=9000, words=5, honeypot=True, caught=True)]  # fmt: skip
    b = attention("careful", careful, now=560)
    assert b.signals == {"catch": 1.0, "reading": 1.0, "streak": 1.0, "agreement": 1.0} and b.score == 100.0
    assert b.approval_rate_by_tier == {"approve": round(5 / 6, 3), "approve2": 0.0}
    assert b.on_duty_s == 560  # decisions a minute or two apart since t=0
    assert score({"catch": None, "reading": None, "streak": None, "agreement": None}) is None
    # half the reading time is the line: 20 words need 5.8 s, so 2 s is unread and 3 s read
    skim = [Decided(at=0, verdict="approve", tier="approve", latency_ms=ms, words=20) for ms in (2000, 3000)]
    assert attention("skim", skim).unread_approvals == 1
    assert on_duty([0, 100, 5000], 5100) == 100  # a gap over 30 minutes starts a new stretch
    assert on_duty([0, 100], 100 + 31 * 60) == 0  # rested


def test_reviewer_score_prints_the_figures_and_refuses_an_unknown_name(live: Live) -> None:
    import subprocess
    import sys

    def score_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "daemon.cli", "reviewer", "score", *args,
                               "--data-dir", str(live.data_dir)], capture_output=True, text=True, timeout=60, check=False)  # fmt: skip

    one = score_cli("alice", "--json")
    assert one.returncode == 0, one.stderr
    (alice,) = [json.loads(line) for line in one.stdout.splitlines()]
    assert alice["reviewer"] == "alice" and alice["honeypots"]["missed"] == 1 and alice["score"] is not None
    table = score_cli()
    assert table.returncode == 0 and "SCORE" in table.stdout and "alice" in table.stdout
    unknown = score_cli("nobody")
    assert unknown.returncode == 2 and "no decisions by 'nobody'" in unknown.stderr


def test_a_v5_database_gains_the_honeypot_tables(tmp_path: Path) -> None:
    import sqlite3

    from daemon.store import SCHEMA_VERSION

    path = tmp_path / "driverseat.db"
    with Store(path):
        pass
    db = sqlite3.connect(path)
    db.execute("DROP TABLE honeypots")
    db.execute("DROP TABLE honeypot_answers")
    db.execute("DROP TABLE questions")  # v7 comes after: a v5 database has neither
    db.execute("PRAGMA user_version = 5")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 7
        assert honeypot_ids(store) == frozenset() and answers(store) == []


# -- the wrong proposals ------------------------------------------------------------------------

class _Box:
    def __init__(self, left: int, top: int, width: int, height: int) -> None:
        self.left, self.top, self.width, self.height = left, top, width, height


def test_a_displaced_click_lands_on_another_element_the_tree_names() -> None:
    from capture.coords import Rect, Scaling
    from daemon.review import decoys

    save, delete = _Box(900, 520, 120, 40), _Box(1044, 520, 120, 40)

    class El:
        def __init__(self, name: str, box: _Box) -> None:
            self.role, self.name, self.box = "push button", name, box

    def element_at(x: int, y: int) -> Any:
        for name, b in (("Save", save), ("Delete", delete)):
            if b.left <= x < b.left + b.width and b.top <= y < b.top + b.height:
                return El(name, b)
        return None

    scaling = Scaling(Rect(0, 0, 1920, 1080), 1920, 1080)
    p = parse_action({"action": "click", "x": 960, "y": 540, "reason": "save the form", "space": "screen"})
    d = decoys.displaced(p, p, scaling, None, element_at, FirstChoice())
    assert d is not None and d.kind == "displaced"
    assert (d.screen_action["x"], d.screen_action["y"]) == (1044, 540)  # just past Save's right edge
    assert "push button 'Save'" in d.wrong and "push button 'Delete'" in d.wrong
    assert d.action["reason"] == "save the form"


def test_an_amount_is_ten_times_larger_and_a_combo_loses_work() -> None:
    from daemon.review import decoys

    t = parse_action({"action": "type", "text": "pay 120 EUR", "reason": "pay the invoice"})
    d = decoys.amount(t, t.model_copy(update={"space": "screen"}))
    assert d is not None and d.action["text"] == "pay 1200 EUR" and d.screen_action["space"] == "screen"
    assert decoys.amount(parse_action({"action": "type", "text": "no digits"}), t) is None
    k = decoys.destructive(t, FirstChoice())
    assert k.action["action"] == "key" and k.action["keys"] == "ctrl+w" and k.action["reason"] == "pay the invoice"


def test_a_correction_agrees_with_the_tree_when_it_moves_to_another_element() -> None:
    from daemon.attention import _moved

    def outcome(chose: dict[str, Any] | None, had: dict[str, Any] | None) -> str:
        return json.dumps({"feedback": {"element": chose, "proposed_element": had}})

    save = {"source": "a11y", "box": [0, 0, 10, 10], "name": "Save"}
    delete = {"source": "a11y", "box": [20, 0, 30, 10], "name": "Delete"}
    assert _moved(outcome(delete, save)) is True
    assert _moved(outcome(save, save)) is False  # "corrected" onto the element the agent named
    assert _moved(outcome({**delete, "source": "vision"}, save)) is None  # pixels say nothing here
    assert _moved(outcome(None, save)) is None and _moved(None) is None
