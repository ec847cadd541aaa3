"""The readiness report's section on reviewer attention (docs/reviewers.md, "Attention score")."""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING, Any

from daemon.attention import attention, decided, reviewers_seen

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = ["gather_attention", "render_attention"]


def gather_attention(store: Store, now: float | None = None) -> list[dict[str, Any]]:
    """Each reviewer's figures (``Attention.as_json``), by name."""
    now = time.time() if now is None else now
    return [
        attention(label, decided(store, rid, name), now).as_json()
        for rid, name, label in reviewers_seen(store)
    ]


def _cell(v: Any, suffix: str = "") -> str:
    return "-" if v is None else f"{v:g}{suffix}" if isinstance(v, float | int) else escape(str(v))


def render_attention(rows: list[dict[str, Any]]) -> str:
    """One table: score, catch rate, unread approvals, streak, median decision time, on duty."""
    head = "<h2>Reviewer attention</h2>"
    if not rows:
        return head + '<p class="muted">No decisions yet.</p>'
    lines = "".join(
        "<tr>"
        f"<td>{escape(r['reviewer'])}</td><td class='score'>{_cell(r['score'])}</td>"
        f"<td>{r['honeypots']['caught']} / {r['honeypots']['shown']}</td>"
        f"<td>{r['unread_approvals']} / {r['approvals_timed']}</td><td>{r['streak']}</td>"
        f"<td>{_cell(r['median_decision_ms'], ' ms')}</td><td>{_cell(round(r['on_duty_s'] / 3600, 1), ' h')}</td>"
        "</tr>"
        for r in rows
    )
    return (
        head + '<p class="muted">Score 0-100: test reviews caught (0.4), approvals given the time '
        "their words need to be read (0.3), no long streak of approvals (0.2), corrections that move "
        "to another element of the accessibility tree (0.1), over the signals with data.</p>"
        "<table><tr><th>reviewer</th><th>score</th><th>tests caught</th><th>unread approvals</th>"
        "<th>approval streak</th><th>median decision</th><th>on duty</th></tr>" + lines + "</table>"
    )
