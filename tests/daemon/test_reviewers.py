"""Reviewers with identities and roles (issue 11), over real HTTP and real SQLite.

The daemon runs on the fake backend (no X): an agent's action is held for review, and
reviewers decide it with their own tokens (made by ``driverseat reviewer add`` on the
daemon's own database while it runs). What the fake backend was sent says whether the
action ran.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.cli import main
from daemon.control.runtime import Runtime
from daemon.review.gate import Gate
from daemon.review.policy import PolicyError
from daemon.review.policy_file import parse_policy
from daemon.review.queue import ReviewQueue
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import poll, serving
from tests.daemon.test_gate import PNG, SCREEN

TOKEN = "daemon-token-0123456789abcdef"
POLICY = """
[defaults]
tier = "auto"
rationale_required = []

[[rule]]
name = "pay"
tier = "approve"
kinds = ["type"]
text = "^pay"
approve_by = ["finance"]

[[rule]]
name = "wire"
tier = "approve2"
kinds = ["type"]
text = "^wire"
approve_by = ["finance", "audit"]

[[rule]]
name = "delete"
tier = "approve"
kinds = ["type"]
text = "^delete"
rationale_min_length = 20

[[rule]]
name = "pick"
tier = "approve"
kinds = ["type"]
text = "^pick"
rationale = "list"

[[rule]]
name = "plain"
tier = "approve"
kinds = ["type"]
text = "^plain"
"""


class Live:
    def __init__(self, url: str, fake: FakeBackend, data_dir: Path) -> None:
        self.url, self.fake, self.data_dir = url, fake, data_dir
        self.agent = ThreadPoolExecutor(4)

    def http(self, token: str = TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def propose(self, text: str) -> tuple[Future[httpx.Response], dict[str, Any]]:
        """The agent types ``text`` (held by the policy); returns its request and the review."""
        known = {r["id"] for r in self.pending()}
        request = self.agent.submit(self._act, text)
        found: list[dict[str, Any]] = []

        def arrived() -> bool:
            found[:] = [r for r in self.pending() if r["id"] not in known]
            return bool(found)

        assert poll(arrived, timeout=10), f"no review for {text!r}"
        return request, found[0]

    def _act(self, text: str) -> httpx.Response:
        with self.http() as c:
            return c.post("/v1/actions", json={"action": "type", "text": text})

    def pending(self) -> list[dict[str, Any]]:
        with self.http() as c:
            reviews: list[dict[str, Any]] = c.get("/v1/reviews").json()
        return reviews

    def decide(self, token: str, review_id: str, **body: Any) -> httpx.Response:
        with self.http(token) as c:
            return c.post(f"/v1/reviews/{review_id}/decision", json={"reviewer": "mallory", **body})


def add_reviewer(data_dir: Path, name: str, *roles: str) -> str:
    """``driverseat reviewer add`` as a person runs it; returns the token it printed."""
    role_args = [a for r in roles for a in ("--role", r)]
    done = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "reviewer", "add", name, *role_args,
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    token = done.stdout.strip()
    assert token.startswith("dsr_") and "\n" not in token, done.stdout  # the token alone
    assert token not in done.stderr and f"reviewer {name!r} added" in done.stderr
    return token


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("reviewers")
    fake = FakeBackend((1366, 768))
    runtime = Runtime(fake, step_interval=0.0)
    store = Store(data_dir / "driverseat.db")  # where `driverseat reviewer add` writes
    gate = Gate(parse_policy(POLICY), ReviewQueue(store, data_dir / "frames"), SCREEN, grab_frame=lambda: PNG)
    try:
        with serving(create_app(Daemon(runtime, store, gate), TOKEN)) as url:
            lv = Live(url, fake, data_dir)
            yield lv
            lv.agent.shutdown(wait=False, cancel_futures=True)
    finally:
        runtime.close()
        store.close()


@pytest.fixture(scope="module")
def tokens(live: Live) -> dict[str, str]:
    return {
        "alice": add_reviewer(live.data_dir, "alice", "finance"),
        "bob": add_reviewer(live.data_dir, "bob"),
        "carol": add_reviewer(live.data_dir, "carol", "audit", "ops"),
    }


def _typed(fake: FakeBackend, text: str) -> bool:
    return text in fake.typed()


def test_a_decision_without_the_role_is_refused_and_one_with_it_counts(
    live: Live, tokens: dict[str, str]
) -> None:
    request, review = live.propose("pay 1200 EUR")
    assert review["roles_required"] == ["finance"]
    refused = live.decide(tokens["bob"], review["id"], verdict="approve")
    assert refused.status_code == 403
    assert refused.json()["error"] == (
        "rule 'pay' needs an approver with the role finance; reviewer 'bob' holds no role"
    )
    # the daemon's token is the local reviewer's (the desktop overlay): it holds no role
    local = live.decide(TOKEN, review["id"], verdict="approve")
    assert local.status_code == 403 and "the desktop overlay" in local.json()["error"]
    assert not request.done() and not _typed(live.fake, "pay 1200")
    ok = live.decide(tokens["alice"], review["id"], verdict="approve", shown_at=review["created"])
    assert ok.status_code == 200, ok.text
    decision = ok.json()["decisions"][-1]
    # attributed to the token's reviewer, not to the name the body claims ("mallory")
    assert (decision["reviewer"], decision["roles"]) == ("alice", ["finance"])
    assert decision["reviewer_id"] not in ("", "local") and decision["latency_ms"] >= 0
    assert [d["verdict"] for d in ok.json()["decisions"]] == ["approve"]  # refusals leave none
    assert request.result(timeout=30).json()["status"] == "executed"
    assert _typed(live.fake, "pay 1200")


def test_anyone_may_stop_a_role_rule_and_the_local_reviewer_keeps_its_name(
    live: Live, tokens: dict[str, str]
) -> None:
    request, review = live.propose("pay 5 EUR to the wrong account")
    r = live.decide(TOKEN, review["id"], verdict="reject", reviewer="ann@desk", rationale="wrong payee")
    assert r.status_code == 200, r.text
    d = r.json()["decisions"][-1]
    assert (d["reviewer"], d["reviewer_id"], d["roles"]) == ("ann@desk", "local", [])
    assert request.result(timeout=30).json()["status"] == "rejected"
    assert not _typed(live.fake, "wrong account")


def test_approve2_needs_two_distinct_reviewers_of_listed_roles(
    live: Live, tokens: dict[str, str]
) -> None:
    request, review = live.propose("wire 90000 EUR")
    first = live.decide(tokens["alice"], review["id"], verdict="approve")
    assert first.status_code == 200 and first.json()["status"] == "pending"
    again = live.decide(tokens["alice"], review["id"], verdict="approve")
    assert again.status_code == 409 and "another reviewer" in again.json()["error"]
    # bob claims to be carol in the body: the token says who he is, and he holds no role
    bob = live.decide(tokens["bob"], review["id"], verdict="approve", reviewer="carol")
    assert bob.status_code == 403 and "finance or audit" in bob.json()["error"]
    assert not request.done()
    second = live.decide(tokens["carol"], review["id"], verdict="approve")
    assert second.status_code == 200 and second.json()["status"] == "approved"
    who = [(d["reviewer"], d["roles"]) for d in second.json()["decisions"]]
    assert who == [("alice", ["finance"]), ("carol", ["audit", "ops"])]
    assert request.result(timeout=30).json()["status"] == "executed"


def test_a_rule_with_a_minimum_rationale_refuses_a_bare_approval(
    live: Live, tokens: dict[str, str]
) -> None:
    request, review = live.propose("delete the old backups")
    assert review["rationale_min_length"] == 20 and not review["rationales_required"]
    bare = live.decide(TOKEN, review["id"], verdict="approve", reviewer="ann@desk")
    assert bare.status_code == 422
    assert bare.json()["error"] == (
        "rule 'delete' needs a rationale of at least 20 characters to approve (got none): "
        "say why this action is right"
    )
    short = live.decide(TOKEN, review["id"], verdict="approve", reviewer="ann@desk", rationale="ok fine")
    assert short.status_code == 422 and "(got 7)" in short.json()["error"]
    why = "the backups moved to the new disk on Monday"
    ok = live.decide(TOKEN, review["id"], verdict="approve", reviewer="ann@desk", rationale=why)
    assert ok.status_code == 200 and ok.json()["decisions"][-1]["rationale"] == why
    assert request.result(timeout=30).json()["status"] == "executed"


def test_a_rule_with_a_rationale_list_refuses_a_bare_approval(live: Live) -> None:
    request, review = live.propose("pick the first result")
    assert review["rationales_required"] and review["rationales"]
    bare = live.decide(TOKEN, review["id"], verdict="approve")
    assert bare.status_code == 422 and "rule 'pick'" in bare.json()["error"]
    ok = live.decide(TOKEN, review["id"], verdict="approve", rationale=review["rationales"][0])
    assert ok.status_code == 200
    assert request.result(timeout=30).json()["status"] == "executed"


def test_a_reviewer_token_opens_the_review_routes_only(live: Live, tokens: dict[str, str]) -> None:
    with live.http(tokens["bob"]) as c:
        assert c.get("/v1/reviews").status_code == 200
        for method, path in (("GET", "/v1/state"), ("POST", "/v1/control/stop"), ("POST", "/v1/control/resume"), ("POST", "/v1/actions")):
            r = c.request(method, path, json={"action": "type", "text": "x"})
            assert r.status_code == 403, (path, r.text)
            assert "accepted on /v1/reviews only" in r.json()["error"]
        assert c.get("/v1/reviewsX").status_code == 403  # a prefix of a path is not the path
    with live.http(tokens["bob"] + "x") as c:
        assert c.get("/v1/reviews").status_code == 401


def test_a_removed_reviewer_token_stops_working_at_once(live: Live) -> None:
    token = add_reviewer(live.data_dir, "dave", "finance")
    with live.http(token) as c:
        assert c.get("/v1/reviews").status_code == 200
    assert main(["reviewer", "remove", "dave", "--data-dir", str(live.data_dir)]) == 0
    with live.http(token) as c:
        assert c.get("/v1/reviews").status_code == 401


def test_tokens_never_rest_in_clear(live: Live, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    files = [p for p in live.data_dir.iterdir() if p.name.startswith("driverseat.db")]
    assert files  # the database, its WAL and shared memory: all of them
    raw = b"".join(p.read_bytes() for p in files)
    for token in tokens.values():
        assert token.encode() not in raw
        assert token.split("_", 1)[1].encode() not in raw  # not even without its prefix
    assert hashlib.sha256(tokens["alice"].encode()).hexdigest().encode() in raw  # the hash does rest
    assert main(["reviewer", "list", "--json", "--data-dir", str(live.data_dir)]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    roles = {r["name"]: r["roles"] for r in listed}
    assert [roles[n] for n in ("alice", "bob", "carol")] == [["finance"], [], ["audit", "ops"]]
    assert not any(t in json.dumps(listed) for t in tokens.values())


def test_audit_lists_the_decisions_with_filters(
    live: Live, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    request, review = live.propose("plain words")
    assert live.decide(tokens["carol"], review["id"], verdict="approve").status_code == 200
    request.result(timeout=30)
    capsys.readouterr()
    args = ["--data-dir", str(live.data_dir)]
    assert main(["audit", "--json", "--reviewer", "carol", *args]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and {r["reviewer"] for r in rows} == {"carol"}
    last = rows[-1]
    assert (last["review_id"], last["verdict"], last["rule"], last["tier"], last["kind"]) == (
        review["id"], "approve", "plain", "approve", "type"
    )
    assert last["roles"] == ["audit", "ops"] and last["reviewer_id"] not in ("", "local")
    assert main(["audit", "--json", "--verdict", "reject", *args]) == 0
    rejected = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rejected and {r["verdict"] for r in rejected} == {"reject"}
    assert {r["reviewer_id"] for r in rejected} == {"local"}
    assert main(["audit", "--json", "--since", "2999-01-01", *args]) == 0
    assert capsys.readouterr().out == ""
    assert main(["audit", *args]) == 0  # the table: a header, then one line per decision
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["TIME", "(UTC)", "REVIEWER", "ROLES"]
    assert any("carol" in line and "audit, ops" in line and "plain" in line for line in table[1:])
    assert not any(t in "\n".join(table) for t in tokens.values())


@pytest.mark.parametrize(
    ("rule", "line", "why"),
    [
        ('approve_by = ["finance", "no spaces"]', 5, "approve_by: role 'no spaces' needs a name"),
        ('rationale = "text"', 5, 'rationale must be "list"'),
        ("rationale_min_length = 0", 5, "rationale_min_length must be a whole number from 1 to 2000"),
        ('rationale = "list"\nrationale_min_length = 9', 6, "not both"),
    ],
)
def test_the_new_policy_keys_are_checked_with_their_line(rule: str, line: int, why: str) -> None:
    text = f'[[rule]]\nname = "x"\ntier = "approve"\nkinds = ["type"]\n{rule}\n'
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "p.toml")
    assert str(err.value).startswith(f"p.toml:{line}: rule 'x': "), str(err.value)
    assert why in str(err.value)


def test_approval_demands_on_a_rule_that_asks_for_no_approval_are_refused() -> None:
    with pytest.raises(PolicyError, match=r"^p.toml:4: rule 'x': approve_by applies to approvals, and a notify"):
        parse_policy('[[rule]]\nname = "x"\ntier = "notify"\napprove_by = "finance"\n', "p.toml")


def test_a_v3_database_gains_the_reviewers(tmp_path: Path) -> None:
    import sqlite3

    from daemon.store import _MIGRATIONS

    db = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    for migrate in _MIGRATIONS[:3]:
        migrate(db)
    db.execute("INSERT INTO decisions VALUES ('d1', 'r1', 1.0, 'ann', 'approve', '{}')")
    db.execute("PRAGMA user_version = 3")
    db.close()
    with Store(tmp_path / "old.db") as store, store.locked() as conn:
        row = conn.execute("SELECT reviewer, reviewer_id FROM decisions").fetchone()
        assert tuple(row) == ("ann", "local")  # decided before identities: the local reviewer's
        assert conn.execute("SELECT count(*) FROM reviewers").fetchone()[0] == 0


def test_reviewer_names_and_roles_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--data-dir", str(tmp_path)]
    assert main(["reviewer", "list", *args]) == 0  # nobody yet, and how to add one
    assert capsys.readouterr().out.startswith("no reviewers yet")
    assert main(["reviewer", "add", "local", *args]) == 2
    assert "the desktop overlay's name" in capsys.readouterr().err
    assert main(["reviewer", "add", "eve", "--role", "fin ance", *args]) == 2
    assert "the role 'fin ance' is not usable" in capsys.readouterr().err
    assert main(["reviewer", "add", "eve", "--role", "ops", "--role", "ops", *args]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["reviewer", "add", "eve", *args]) == 2
    assert "exists; remove it first" in capsys.readouterr().err
    assert main(["reviewer", "list", *args]) == 0
    listed = capsys.readouterr().out
    assert "eve" in listed and "ops" in listed and "ops, ops" not in listed and token not in listed
    assert main(["reviewer", "remove", "nobody", *args]) == 2
    assert "no reviewer named 'nobody'" in capsys.readouterr().err


def test_the_python_client_decides_with_a_reviewer_token(live: Live, tokens: dict[str, str]) -> None:
    from daemon.client import Client, ClientError

    request, review = live.propose("pay the invoice 42")
    with Client(live.url, tokens["bob"]) as bob, Client(live.url, tokens["alice"]) as alice:
        assert [r.id for r in bob.reviews()] == [review["id"]]
        with pytest.raises(ClientError, match="needs an approver with the role finance") as err:
            bob.decide(review["id"], {"verdict": "approve", "reviewer": "bob"})
        assert err.value.details["status"] == 403
        done = alice.decide(review["id"], {"verdict": "approve", "reviewer": "whoever"})
    assert done.status == "approved" and done.decisions[-1].reviewer == "alice"
    assert request.result(timeout=30).json()["status"] == "executed"
