"""``driverseat report``: the readiness report as one self-contained HTML page.

Everything is inline: the charts are SVG (:mod:`.svg`), the latest corrections' frames
PNG data URLs with the agent's point (red) and the person's (green) drawn on; the page
loads nothing, so it can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import time
from html import escape
from pathlib import Path
from typing import Any

import cv2

from daemon.report.attention_table import render_attention
from daemon.report.figures import OUTCOMES, Figures, Thresholds, median, p90, stage
from daemon.report.svg import line_chart, stacked_bars

__all__ = ["render"]

THUMB_W = 360
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:820px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}.muted{color:#777}
.stage{font-size:20px;font-weight:600;padding:10px 14px;border-radius:6px;display:inline-block}
.learner{background:#fbe3e3}.supervisor{background:#fdf1d6}.auditor{background:#dff1e2}
figure{display:inline-block;margin:6px 8px 6px 0;font-size:12px;max-width:360px}
"""


def _when(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def _label(t: float, size: float) -> str:
    return time.strftime("%m-%d %H:00" if size < 86400 else "%Y-%m-%d", time.gmtime(t))


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} s"


def _pct(n: int, total: int) -> float:
    return round(100 * n / total, 1) if total else 0.0


def _outcomes_table(title: str, groups: dict[str, Any]) -> str:
    head = "".join(f"<th>{s}</th>" for s in OUTCOMES)
    rows = []
    for name, c in sorted(groups.items()):
        total = sum(c.values())
        cells = "".join(f"<td>{c[s]} ({_pct(c[s], total):g} %)</td>" for s in OUTCOMES)
        rows.append(f"<tr><td>{escape(name)}</td><td>{total}</td>{cells}</tr>")
    bars = stacked_bars(
        [(name, {s: _pct(c[s], sum(c.values())) for s in OUTCOMES}) for name, c in sorted(groups.items())],
        OUTCOMES,
    )
    return (f"<h3>{title}</h3>{bars}<table><tr><th>{title.split()[-1]}</th><th>reviews</th>{head}</tr>"
            + "".join(rows) + "</table>")  # fmt: skip


def _thumb(data_dir: Path, c: dict[str, Any]) -> str:
    """A correction's frame, scaled, with the proposed and corrected points drawn on."""
    img = cv2.imread(str(data_dir / "frames" / str(c["frame"])), cv2.IMREAD_COLOR)
    if img is None:
        return ""
    review = c["review"]
    left, top = review["screen_rect"][:2]
    scale = THUMB_W / img.shape[1]
    img = cv2.resize(img, (THUMB_W, max(1, round(img.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    act = review.get("screen_action", {})
    mine = act.get("path", [[act.get("x"), act.get("y")]])[0]

    def at(p: Any) -> tuple[int, int]:
        return round((int(p[0]) - left) * scale), round((int(p[1]) - top) * scale)

    if mine[0] is not None:
        cv2.circle(img, at(mine), 7, (40, 40, 220), 2)
    for p in c["points"]:
        cv2.circle(img, at(p), 7, (60, 170, 60), 2)
    ok, png = cv2.imencode(".png", img)
    if not ok:
        return ""
    src = "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()
    caption = f"{escape(review.get('rule', '?'))}: {escape(str(review['action'].get('action')))} at {_when(review['created'])}"
    return f'<figure><img src="{src}" width="{img.shape[1]}" alt="corrected review"><figcaption>{caption}</figcaption></figure>'


def render(f: Figures, t: Thresholds, data_dir: Path, hourly_cost: float | None = None) -> str:
    """The whole page for ``f``, judged against ``t``."""
    name, why = stage(f, t)
    labels = [_label(b.start, f.bucket_s) for b in f.buckets]
    curve = line_chart(labels, {
        "interventions": [b.per_1000(b.interventions) for b in f.buckets],
        "corrections": [b.per_1000(b.corrections) for b in f.buckets],
        "questions": [b.per_1000(b.questions) for b in f.buckets],
    }) if f.buckets else '<p class="muted">No agent actions in this period.</p>'  # fmt: skip
    lat = f.latency
    lat_rows = "".join(
        f"<tr><td>{what}</td><td>{len(xs)}</td><td>{_secs(median(xs))}</td><td>{_secs(p90(xs))}</td></tr>"
        for what, xs in (("decided - created", lat.total),
                         ("waiting (until looked at, else shown)", lat.waiting),
                         ("deciding (looked at - decided)", lat.deciding))
    )  # fmt: skip
    split = stacked_bars(
        [("median", {"waiting": round(median(lat.waiting) or 0, 1), "deciding": round(median(lat.deciding) or 0, 1)}),
         ("90th percentile", {"waiting": round(p90(lat.waiting) or 0, 1), "deciding": round(p90(lat.deciding) or 0, 1)})],
        ("waiting", "deciding"), unit=" s",
    ) if lat.deciding else (
        '<p class="muted">No review carried the overlay\'s shown or looked-at time: waiting and '
        "deciding cannot be told apart.</p>"
    )  # fmt: skip
    reviewed = _pct(f.reviews, f.actions)
    parts = [
        (f"<!doctype html><html><head><meta charset='utf-8'><title>driverseat readiness</title>"
        f"<style>{_CSS}</style></head><body>"),
        "<h1>driverseat readiness report</h1>",
        (f'<p class="muted">{_period(f)} (UTC), generated {_when(time.time())}.</p>'),
        f'<p><span class="stage {name}" id="stage">{name}</span></p><p>{escape(why)}.</p>',
        (f"<p>Thresholds (fixes per 1,000 agent actions; a fix is a correction, an edit, a rejection "
        f"or an intervention): supervisor at or below {t.supervisor_per_1000:g}, auditor at or below "
        f"{t.auditor_per_1000:g}, at least {t.min_actions} agent actions to leave learner "
        "(<code>--supervisor-at</code>, <code>--auditor-at</code>, <code>--min-actions</code>).</p>"),
        "<table>",
        f"<tr><td>agent actions</td><td id='actions'>{f.actions}</td></tr>",
        f"<tr><td>reviews (share of actions)</td><td>{f.reviews} ({reviewed:g} %)</td></tr>",
        (f"<tr><td>interventions: takeovers / stops</td><td>{f.interventions['takeover']} / "
        f"{f.interventions['stop']}</td></tr>"),
        f"<tr><td>corrections (corrected + edited)</td><td>{f.corrections}</td></tr>",
        f"<tr><td>fixes per 1,000 agent actions</td><td id='fix-rate'>{f.per_1000(f.fixes) or 0:g}</td></tr>",
        "</table>",
        f"<h2>Interventions, corrections and questions per 1,000 agent actions</h2>"
        f'<p class="muted">Per {"hour" if f.bucket_s < 86400 else "day" if f.bucket_s == 86400 else "week"}'
        " (UTC), the periods with any activity; the learning curve should fall. A gap is a period "
        "with interventions or corrections but no agent action.</p>" + curve,
        "<h2>Questions the agent asked</h2>",
        _questions(f),
        "<h2>Review latency</h2><table><tr><th>span</th><th>reviews</th><th>median</th><th>90th pct</th></tr>"
        + lat_rows + "</table>" + split,
        "<h2>Outcomes of reviews</h2>",
        _outcomes_table("By tier", f.by_tier) if f.by_tier else '<p class="muted">No reviews in this period.</p>',
        _outcomes_table("By rule", f.by_rule) if f.by_rule else "",
        "<h2>Agent agreement during shadowing</h2>",
        _agreement(f),
        render_attention(f.attention),
        "<h2>Cost per correction</h2>",
        _cost(f, hourly_cost),
    ]
    thumbs = "".join(_thumb(data_dir, c) for c in f.corrected_frames)
    if thumbs:
        parts.append("<h2>Latest corrections</h2><p class='muted'>Red: the agent's point; green: the person's.</p>"
                     + thumbs)  # fmt: skip
    parts.append("</body></html>")
    return "\n".join(parts)


def _questions(f: Figures) -> str:
    """What the agent asked the person (ask_human, POST /v1/questions) and how it ended:
    supervision the agent asked for, apart from the fixes it was given."""
    asked = sum(f.questions.values())
    if not asked:
        return '<p class="muted">The agent asked no questions in this period.</p>'
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(f.answers.items())) or "none"
    rate = f.per_1000(asked)
    rows = [
        ("asked", f"<span id='questions'>{asked}</span>"
                  + (f" ({rate:g} per 1,000 agent actions)" if rate is not None else "")),
        ("answered (by: option, text, secret, point, takeover)", f"{f.questions['answered']} ({kinds})"),
        ("expired (nobody answered in time)", str(f.questions["expired"])),
        ("withdrawn (the agent gave up waiting)", str(f.questions["withdrawn"])),
        ("pending", str(f.questions["pending"])),
        ("asked -> answered: median / 90th pct", f"{_secs(median(f.answer_waits))} / {_secs(p90(f.answer_waits))}"),
    ]  # fmt: skip
    return "<table>" + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _agreement(f: Figures) -> str:
    """Per session: how often the agent's prediction matched what the person did (its
    knowledge gap is the rest), as bars and a table."""
    if not f.agreement:
        return (f"<p>No agreement data: {f.shadow_sessions} recorded session(s) with {f.shadow_actions} "
                "action(s) of the person's, and no agent commentary on them (an agent comments with "
                "<code>POST /v1/shadow/commentary</code> while <code>serve --shadow</code> records).</p>")  # fmt: skip
    bars = stacked_bars(
        [(a.session, {"agreed": 100 * a.agreed / a.scored, "disagreed": 100 * (a.scored - a.agreed) / a.scored})
         for a in f.agreement if a.scored],
        ("agreed", "disagreed"),
    )  # fmt: skip
    rows = "".join(
        f"<tr><td>{escape(a.session)}</td><td>{a.actions}</td><td>{a.commented}</td><td>{a.scored}</td>"
        f"<td>{a.agreed}</td><td class='agreement'>{'-' if a.rate is None else f'{100 * a.rate:.0f} %'}</td></tr>"
        for a in f.agreement
    )
    return (
        "<p class='muted'>A prediction agrees as offline GUI benchmarks score one: a click inside the "
        "element the person clicked (ScreenSpot), or within 14 % of the screen when no box is known "
        "(AitW, AndroidControl); typed text at 0.8 edit-distance similarity or more; the same keys; the "
        "same scroll direction; another kind of action disagrees. Text typed into a password field is "
        "not scored.</p>" + bars
        + "<table><tr><th>session</th><th>person's actions</th><th>commented</th><th>scored</th>"
        "<th>agreed</th><th>agreement</th></tr>" + rows + "</table>"
    )


def _period(f: Figures) -> str:
    if f.first is None:
        return "Nothing recorded" + (f" since {_when(f.since)}" if f.since is not None else "")
    return f"From {_when(f.since if f.since is not None else f.first)} to {_when(f.last)}"


def _cost(f: Figures, hourly: float | None) -> str:
    if hourly is None:
        return '<p class="muted">Give <code>--hourly-cost</code> (a reviewer\'s cost an hour) to see it.</p>'
    lat = f.latency
    # deciding time where the overlay reported it, else the whole latency (an upper bound):
    # a review with a shown time has total = waiting + deciding, so this is total - waiting
    seconds = max(0.0, sum(lat.total) - sum(lat.waiting))
    cost = hourly * seconds / 3600
    per = f"{cost / f.corrections:.2f}" if f.corrections else "-"
    per_review = f"{cost / len(lat.total):.2f}" if lat.total else "-"
    return (
        f"<table><tr><td>reviewer time</td><td>{seconds / 60:.1f} min</td></tr>"
        f"<tr><td>at {hourly:g} an hour</td><td>{cost:.2f}</td></tr>"
        f"<tr><td>per review</td><td>{per_review}</td></tr>"
        f"<tr><td>per correction</td><td id='cost-per-correction'>{per}</td></tr></table>"
        '<p class="muted">Reviewer time is the deciding time where the overlay reported when it showed '
        "the review, else the whole latency (an upper bound).</p>"
    )
