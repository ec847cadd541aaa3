"""``GET /docs``: the API reference as one self-contained HTML page, readable without a token.

FastAPI's own page loads Swagger UI from a CDN, which cannot work on an offline machine,
and would sit behind the bearer token. This page is rendered by the daemon from its own
OpenAPI document: plain HTML and inline CSS, no script, nothing fetched (its
Content-Security-Policy forbids it). It describes the routes and holds no secret: the
token is never in it, and every request a reader makes still needs the token.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

__all__ = ["DOCS_PATH", "render", "router"]

DOCS_PATH = "/docs"
_METHODS = ("get", "post", "put", "patch", "delete")
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font:13px ui-monospace,monospace;background:#f4f4f4;padding:0 .2em}
pre{padding:.5em;overflow-x:auto}.op{border-top:1px solid #ddd;padding:.4rem 0}
.m{display:inline-block;min-width:4.5em;font-weight:bold;text-transform:uppercase}
.lock{color:#a40}table{border-collapse:collapse}td,th{padding:.1em .6em;text-align:left;vertical-align:top}"""


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _type(schema: dict[str, Any]) -> str:
    """A short name for a schema: a link to a component, or its JSON type."""
    name = _ref_name(schema)
    if name is not None:
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    if schema.get("type") == "array":
        return f"array of {_type(schema.get('items') or {})}"
    if "enum" in schema:
        return " | ".join(escape(json.dumps(v)) for v in schema["enum"])
    if "const" in schema:
        return escape(json.dumps(schema["const"]))
    return escape(str(schema.get("type", "any")))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    locked = bool(op.get("security"))
    out = [
        f'<div class="op"><span class="m">{method}</span> <code>{escape(path)}</code>'
        + (' <span class="lock">(token)</span>' if locked else " (public)"),
        f"<br><b>{escape(op.get('summary', ''))}</b>",
    ]
    if op.get("description"):
        out.append(f"<p>{escape(op['description'])}</p>")
    params = op.get("parameters") or []
    if params:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p.get('in', ''))}</td>"
            f"<td>{_type(p.get('schema') or {})}</td>"
            f"<td>{'required' if p.get('required') else ''}</td></tr>"
            for p in params
        )
        out.append(f"<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>{rows}</table>")
    body = (op.get("requestBody") or {}).get("content", {})
    for media, content in body.items():
        out.append(f"<div>body ({escape(media)}): {_type(content.get('schema') or {})}</div>")
    codes = ", ".join(
        f"{escape(code)} {escape(r.get('description', ''))}"
        for code, r in (op.get("responses") or {}).items()
    )
    out.append(f"<div>responses: {codes}</div></div>")
    return "\n".join(out)


def _schema(name: str, schema: dict[str, Any]) -> str:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    rows = "".join(
        f"<tr><td><code>{escape(k)}</code></td><td>{_type(v)}</td>"
        f"<td>{'required' if k in required else ''}</td>"
        f"<td>{escape(str(v.get('description', '')))}</td></tr>"
        for k, v in props.items()
    )
    kinds = " | ".join(_type(s) for s in schema.get("oneOf") or schema.get("anyOf") or ())
    return (
        f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>'
        + (f"<p>{escape(schema['description'])}</p>" if schema.get("description") else "")
        + (f"<p>one of: {kinds}</p>" if kinds else "")
        + (f"<table>{rows}</table>" if rows else "")
    )


def render(doc: dict[str, Any]) -> str:
    """The page for an OpenAPI document."""
    info = doc.get("info") or {}
    title = f"{info.get('title', 'API')} {info.get('version', '')}".strip()
    ops = [
        _operation(path, method, item[method])
        for path, item in sorted((doc.get("paths") or {}).items())
        for method in _METHODS
        if method in item
    ]
    schemas = [_schema(n, s) for n, s in sorted(((doc.get("components") or {}).get("schemas") or {}).items())]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{escape(title)}</h1>
<p>{escape(info.get('summary', ''))}</p>
<p>Operations marked <span class="lock">(token)</span> need the header
<code>Authorization: Bearer &lt;token&gt;</code>; <code>driverseat token</code> prints the token
on the daemon's machine. This page holds no token, and reading it opens nothing.
The machine-readable document is <code>/openapi.json</code>.</p>
<h2>Operations</h2>
{''.join(ops)}
<h2>Schemas</h2>
{''.join(schemas)}
</body></html>
"""


def router(app: FastAPI) -> APIRouter:
    r = APIRouter()

    @r.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(render(app.openapi()), headers={"Content-Security-Policy": _CSP})

    return r
