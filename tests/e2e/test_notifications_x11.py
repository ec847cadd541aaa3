"""Notifications of a real ``driverseat serve``: a notification server on a private session
bus, a webhook receiver on loopback, the overlay on the suite's Xvfb.

Every review here is rejected (through the API), so nothing the agent proposes ever runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.e2e.live_daemon import Daemon, policy_with, settled
from tests.notify.bus import Call, NotificationServer, SessionBus
from tests.notify.receiver import Receiver, receiving, valid
from tests.x11.human import SimulatedHuman

SECRET = "e2e-webhook-secret"
RULES = """
[[rule]]
name = "test-critical"
tier = "approve"
urgency = "critical"
kinds = ["type"]
text = "CRITICAL-"

[[rule]]
name = "test-normal"
tier = "approve"
kinds = ["type"]
text = "NORMAL-"
"""
ESCALATE_S = 3


class Rig:
    def __init__(self, d: Daemon, server: NotificationServer, hook: Receiver) -> None:
        self.d, self.server, self.hook = d, server, hook
        self.opened: list[str] = []  # the reviews opened so far, by id

    def open_review(self, text: str) -> tuple[dict[str, Any], Any]:
        """Propose typing ``text`` (held by a rule); the review and the agent's pending call."""
        before = {r["id"] for r in self.d.pending()}
        call = self.d.post_later("/v1/actions", {"action": "type", "text": text, "reason": "fill <the> form"})
        review = settled(lambda: next((r for r in self.d.pending() if r["id"] not in before), None),
                         what="the review")  # fmt: skip
        self.opened.append(review["id"])
        return review, call

    def deliveries_done(self) -> None:
        """Wait until every review decided so far has had its ``resolved`` delivery: the
        webhook delivers one at a time, in order, so none of theirs is still to come (a
        late one would meet the receiver's next planned failure instead)."""
        pending = {r["id"] for r in self.d.pending()}
        decided = [rid for rid in self.opened if rid not in pending]
        settled(lambda: all(self.delivered(rid, "resolved") for rid in decided),
                what="the earlier reviews' resolved deliveries")  # fmt: skip

    def notified(self, rule: str, *, escalated: bool = False) -> list[Call]:
        return [c for c in self.server.of("Notify")
                if f"rule {rule!r}" in c.text and c.summary.startswith("Still waiting") == escalated]  # fmt: skip

    def delivered(self, review_id: str, event: str = "opened") -> list[Any]:
        with self.hook.lock:
            return [d for d in self.hook.deliveries
                    if d.json["id"] == review_id and d.json["event"] == event]  # fmt: skip


@pytest.fixture(scope="module")
def rig(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    data = tmp_path_factory.mktemp("notify")
    policy = data / "policy.toml"
    policy.write_text(policy_with(RULES, defaults={"escalate_after_seconds": str(ESCALATE_S)}))
    bus = SessionBus()
    server = NotificationServer(bus.address)
    with receiving() as hook:
        env = {**bus.env(), "DRIVERSEAT_WEBHOOK_SECRET": SECRET}
        d = Daemon(xserver, data, policy, overlay=True, args=["--webhook", hook.url], env=env)
        try:
            d.out.wait_line(r"overlay: +started", 30)
            yield Rig(d, server, hook)
        finally:
            d.reject_all_pending()
            d.close()
            server.close()
            bus.close()


def test_a_review_notifies_the_desktop_and_the_webhook_and_its_decision_withdraws(rig: Rig) -> None:
    review, call = rig.open_review("CRITICAL-hunter2")
    first = settled(lambda: rig.notified("test-critical"), what="the desktop notification")[0]
    assert first.summary == "driverseat: a type waits for you to approve it"
    assert first.urgency == 2 and first.actions == ["default", "Open review", "open", "Open review"]
    assert first.text == "rule 'test-critical': fill &lt;the&gt; form"
    d = settled(lambda: rig.delivered(review["id"]), what="the webhook")[0]
    assert valid(SECRET.encode(), d)
    body = d.json
    assert (body["kind"], body["urgency"], body["rule"], body["escalated"]) == ("review", "critical", "test-critical", False)
    assert body["link"] == f"{rig.d.url}/v1/reviews/{review['id']}" and body["created"] == review["created"]
    assert "hunter2" not in first.summary + first.text and b"hunter2" not in d.body  # never what it types
    assert review["urgency"] == "critical"
    # the overlay showed it, and nobody has turned to it yet
    shown = settled(lambda: rig.d.http.get(f"/v1/reviews/{review['id']}").json()["timing"]["shown"],
                    what="the overlay's report that it showed the review")  # fmt: skip
    assert rig.d.http.get(f"/v1/reviews/{review['id']}").json()["timing"]["looked"] is None
    # the person clicks "Open review": the overlay comes up (and says the person looked)
    with connect(rig.d.ws_url, open_timeout=10) as ws:
        rig.server.invoke(first.nid, "open")
        raised = settled(lambda: _next_of(ws, "overlay_raise"), what="the raise event")
    assert {k: v for k, v in raised.items() if k != "seq"} == {"type": "overlay_raise", "kind": "review", "id": review["id"]}
    looked = settled(lambda: rig.d.http.get(f"/v1/reviews/{review['id']}").json()["timing"]["looked"],
                     what="the overlay's report that the person looked")  # fmt: skip
    assert rig.d.decide(review["id"], "reject").status_code == 200
    assert call.result(timeout=30).json()["status"] == "rejected"
    settled(lambda: first.nid in [c.body[0] for c in rig.server.of("CloseNotification")],
            what="CloseNotification")  # fmt: skip
    settled(lambda: rig.delivered(review["id"], "resolved"), what="the webhook's resolved")
    timing = rig.d.http.get(f"/v1/reviews/{review['id']}").json()["timing"]
    assert review["created"] <= shown <= looked <= timing["answered"]


def _next_of(ws: Any, kind: str) -> dict[str, Any] | None:
    msg = json.loads(ws.recv(timeout=10))
    return msg if msg.get("type") == kind else None


def test_a_normal_review_is_notified_at_urgency_1_once(rig: Rig) -> None:
    review, call = rig.open_review("NORMAL-text")
    n = settled(lambda: rig.notified("test-normal"), what="the desktop notification")[0]
    assert n.urgency == 1 and review["urgency"] == "normal"
    settled(lambda: rig.delivered(review["id"]), what="the webhook")
    rig.d.decide(review["id"], "reject")
    assert call.result(timeout=30).json()["status"] == "rejected"


def test_the_persons_pointer_on_the_overlay_is_looking(rig: Rig, human: SimulatedHuman) -> None:
    review, call = rig.open_review("NORMAL-look")
    path = f"/v1/reviews/{review['id']}"
    settled(lambda: rig.d.http.get(path).json()["timing"]["shown"], what="shown")
    assert rig.d.http.get(path).json()["timing"]["looked"] is None
    human.move(700, 400)
    human.move(720, 410)  # the person's hand on the mouse, over the overlay
    looked = settled(lambda: rig.d.http.get(path).json()["timing"]["looked"], what="looked")
    rig.d.decide(review["id"], "reject")
    assert call.result(timeout=30).json()["status"] == "rejected"
    timing = rig.d.http.get(path).json()["timing"]
    assert timing["shown"] <= looked <= timing["answered"]


def test_the_webhook_is_retried_when_the_receiver_fails_first(rig: Rig) -> None:
    rig.deliveries_done()  # the failure planned next must meet this review's delivery
    with rig.hook.lock:
        rig.hook.answers = [500]
    review, call = rig.open_review("NORMAL-retry")
    tries = settled(lambda: (x := rig.delivered(review["id"])) and len(x) == 2 and x, what="the retry")
    assert [t.answered for t in tries] == [500, 200] and tries[0].body == tries[1].body
    assert all(valid(SECRET.encode(), t) for t in tries)
    rig.d.decide(review["id"], "reject")
    assert call.result(timeout=30).json()["status"] == "rejected"


def test_an_unanswered_critical_review_is_notified_again_escalated(rig: Rig) -> None:
    review, call = rig.open_review("CRITICAL-escalate")
    again = settled(lambda: [c for c in rig.notified("test-critical", escalated=True)
                             if c.at >= review["created"]], ESCALATE_S + 20, "the escalation")  # fmt: skip
    assert again[0].urgency == 2
    esc = settled(lambda: rig.delivered(review["id"], "escalated"), what="the escalated webhook")[0]
    assert esc.json["escalated"] is True and valid(SECRET.encode(), esc)
    rig.d.decide(review["id"], "reject")
    assert call.result(timeout=30).json()["status"] == "rejected"
    # withdrawn: both of its notifications
    nids = {c.nid for c in rig.notified("test-critical") + again if c.at >= review["created"]}
    settled(lambda: nids <= {c.body[0] for c in rig.server.of("CloseNotification")}, what="both closed")


def test_nothing_waits_for_a_hung_receiver_or_a_hung_notification_server(rig: Rig) -> None:
    # the hang must meet this review's delivery: one still queued from an earlier test
    # would hang instead (5 s a try, six tries) and hold this one behind it, in order
    rig.deliveries_done()
    rig.hook.hang.set()
    rig.server.hang.set()
    try:
        review, call = rig.open_review("NORMAL-hung")  # the review opens: the agent's call waits for it
        settled(lambda: rig.delivered(review["id"]), what="the delivery the receiver hangs on")
        assert rig.d.decide(review["id"], "reject").status_code == 200
        assert call.result(timeout=30).json()["status"] == "rejected"  # the usual answer
        more, call2 = rig.open_review("NORMAL-hung-again")
        rig.d.decide(more["id"], "reject")
        assert call2.result(timeout=30).json()["status"] == "rejected"
    finally:
        rig.server.hang.clear()
        rig.hook.hang.clear()
        rig.hook.release.set()


def test_serve_says_how_it_notifies_and_never_the_secret(rig: Rig) -> None:
    said = "\n".join(rig.d.out.lines)
    assert "notify:     desktop (session bus), webhook http://127.0.0.1:" in said
    assert f"critical ones escalated after {ESCALATE_S} s" in said
    assert SECRET not in said and "T0K3N" not in said and "also-secret" not in said
