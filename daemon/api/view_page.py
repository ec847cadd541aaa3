"""What the live view sends a browser: the page, its script, and the page that refuses.

The page is plain HTML; its script (served from ``/view/app.js``, so that the page's
Content-Security-Policy needs no inline script) drives noVNC's RFB client over the
daemon's ``/view/websocket``, shows who is in control from the event stream, and offers
Stop and Resume. The token comes in the page's address (``/view?token=...``): the script
keeps it in memory and takes it out of the address bar at once, so it stays out of the
browser's history and of a shared screen.
"""

from __future__ import annotations

from html import escape

__all__ = ["APP_JS", "CSP", "page", "refusal"]

# noVNC draws on a canvas, sets its cursor from a data: URL and talks over a WebSocket to
# this same origin ('self' covers ws: to the same host and port in CSP Level 3)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

_STYLE = """html,body{margin:0;height:100%;background:#222;color:#eee;font:14px system-ui,sans-serif}
body{display:flex;flex-direction:column}
#bar{display:flex;gap:1em;align-items:center;padding:.35em .8em;background:#333}
#bar .who{font-weight:bold}#bar .grow{flex:1}
body[data-control=human] .who{color:#fc6}body[data-control=stopped] .who{color:#f66}
#screen{flex:1;overflow:hidden;position:relative}
button{font:inherit}"""


def page(version: str) -> str:
    """The viewer: a bar (connection, control, reviews, buttons) above the desktop."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>driverseat live view</title>
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">
<style>{_STYLE}</style></head>
<body data-connected="0" data-control="">
<div id="bar">
  <span>driverseat {escape(version)}</span>
  <span id="link">connecting...</span>
  <span class="who" id="who"></span>
  <span id="reviews"></span>
  <span class="grow"></span>
  <label title="look without touching: the page sends no input, so it never takes control">
    <input type="checkbox" id="watch"> watch only</label>
  <button id="stop" title="stop the agent until Resume (the kill switch)">Stop agent</button>
  <button id="resume">Resume agent</button>
</div>
<div id="screen"></div>
<script type="module" src="/view/app.js"></script>
</body></html>
"""


APP_JS = """import RFB from "/view/novnc/core/rfb.js";

const token = new URLSearchParams(location.search).get("token") || "";
// out of the address bar and the history: the token stays in this page's memory only
history.replaceState(null, "", location.pathname);
const wsBase = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
const q = "?token=" + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);
let rfb = null;

function connect() {
  rfb = new RFB($("screen"), wsBase + "/view/websocket" + q, {wsProtocols: ["binary"]});
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.focusOnClick = true;
  rfb.viewOnly = $("watch").checked;
  rfb.addEventListener("connect", () => {
    document.body.dataset.connected = "1";
    $("link").textContent = "connected";
  });
  rfb.addEventListener("disconnect", (e) => {
    document.body.dataset.connected = "0";
    $("link").textContent = e.detail.clean ? "disconnected" : "connection lost: retrying";
    setTimeout(connect, 2000);
  });
}

const words = {agent: "the agent is driving", human: "you have control", stopped: "the agent is stopped"};
let pending = new Set();
function showReviews() {
  $("reviews").textContent = pending.size ? pending.size + " review(s) on the screen: answer there" : "";
}
function events() {
  const ws = new WebSocket(wsBase + "/v1/events" + q);
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    const state = msg.type === "state" ? msg.control : msg.type === "control" ? msg.to : null;
    if (state) {
      document.body.dataset.control = state;
      $("who").textContent = words[state] || state;
    }
    if (msg.type === "review" && msg.review) pending.add(msg.review.id);
    if (msg.type === "review_resolved") pending.delete(msg.id);
    if (msg.type === "review_decided" && msg.review && msg.review.status !== "pending") pending.delete(msg.review.id);
    showReviews();
  };
  ws.onclose = () => setTimeout(events, 2000);
}

async function control(what) {
  await fetch("/v1/control/" + what, {method: "POST", headers: {Authorization: "Bearer " + token}});
}

$("watch").addEventListener("change", () => { if (rfb) rfb.viewOnly = $("watch").checked; });
$("stop").addEventListener("click", () => control("stop"));
$("resume").addEventListener("click", () => control("resume"));
connect();
events();
"""


def refusal(reason: str) -> str:
    """The page without the token: what to do instead, and a field to paste it into."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>driverseat live view: token needed</title>
<meta name="referrer" content="no-referrer">
<style>body{{font:15px system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}</style>
</head><body>
<h1>The live view needs the daemon's token</h1>
<p>{escape(reason)}</p>
<p>On the daemon's machine, <code>driverseat view</code> prints this page's address with the
token, and <code>driverseat token</code> prints the token alone.</p>
<form method="get" action="/view"><label>Token <input name="token" type="password"
autocomplete="off" size="48"></label> <button>Open</button></form>
</body></html>
"""
