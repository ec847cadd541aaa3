"""JSON answers that carry a screenshot: its base64 spliced in, not escaped char by char.

A real desktop's screenshot at 1366x768 is a PNG of a few hundred kB, about 1 MB of
base64 in the answer. Encoders look at every character of a string for what needs
escaping: for 1 MB, pydantic's ``model_dump_json`` takes 1.5 ms, and ``json.dumps`` (what
Starlette's ``JSONResponse`` renders with) 4.3 ms, on this machine. Base64 needs no
escaping, so the answer is made with a short marker where the image goes, and the base64
put in its place: ~0.1 ms for the same 1 MB. The bytes are those the encoder would have
made (``tests/daemon/test_jsonsplice.py`` compares them).

A string is spliced only when it is long (:data:`SPLICE_MIN`), ASCII (a flag of Python's
``str``: free), and holds no ``"``, no ``\\`` and no control character (what JSON escapes;
two searches and numpy's ``min``, ~0.1 ms for 1 MB), so its characters are written as the
encoder would write them. Anything else is encoded the usual way.

The check itself is most of what is left (0.2 ms for a real screen's 367 kB of base64,
where the splice's copy takes 0.02), and it is needless for a string whose maker knows
it is plain: the screen grabber's base64, a string :func:`loads` cut out after checking
it. Such a maker vouches for it with its bytes (:func:`vouch`); an answer holding that very
string object (``is``, not ``==``) splices those bytes unchecked. The last two are kept.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from daemon.outcomes import Outcome

__all__ = ["SPLICE_MIN", "json_verbatim", "loads", "outcome_json", "render", "vouch"]

SPLICE_MIN = 4096  # shorter strings cost the encoders less than the splice's own work

# a marker no answer holds by chance: 128 random bits, new in every process
_MARK = f"driverseat-splice-{secrets.token_hex(16)}"
_MARKED = json.dumps(_MARK)  # the marker as it is written in the JSON, quotes included


VOUCHED_KEPT = 2  # a screenshot's answer and the one before it: ~1.5 MB held at most
# id(string) -> (the string, its bytes): the string is held, so its id is not reused
_vouched: dict[int, tuple[str, bytes]] = {}
_vouched_lock = threading.Lock()


def vouch(s: str, raw: bytes) -> str:
    """Remember that ``raw`` is ``s`` as bytes and that JSON writes it unchanged (the
    caller knows: base64 it made, bytes :func:`_plain` passed); returns ``s``. Only for
    strings of :data:`SPLICE_MIN` characters or more (shorter ones are never spliced)."""
    if len(s) >= SPLICE_MIN:
        with _vouched_lock:
            _vouched[id(s)] = (s, raw)
            while len(_vouched) > VOUCHED_KEPT:
                del _vouched[next(iter(_vouched))]
    return s


def json_verbatim(s: str) -> bytes | None:
    """``s`` as bytes, if JSON writes it unchanged between its quotes, else None."""
    known = _vouched.get(id(s))
    if known is not None and known[0] is s:
        return known[1]
    if not s.isascii():
        return None
    raw = s.encode("ascii")
    return raw if _plain(raw) else None


def _plain(raw: bytes) -> bool:
    """``raw`` is what a JSON string holds unescaped and decodes as itself: ASCII, no
    ``"``, no ``\\``, no control character (what every encoder escapes)."""
    if b'"' in raw or b"\\" in raw:
        return False
    import numpy as np  # here: the clients import this module, and few answers need it

    codes = np.frombuffer(raw, np.uint8)
    return not len(codes) or bool(codes.min() >= 0x20 and codes.max() < 0x80)


def _spliceable(s: str) -> bytes | None:
    """``s`` as the bytes JSON writes between its quotes, if it is long and that is ``s``."""
    return json_verbatim(s) if len(s) >= SPLICE_MIN else None


def _json(content: Any) -> str:
    """As Starlette's ``JSONResponse`` renders (compact, UTF-8, no NaN)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def _joined(text: str, strings: list[bytes]) -> bytes | None:
    """``text`` with each marker replaced by the next of ``strings`` (None if the markers
    do not come out one for one: then the caller renders the slow way)."""
    parts = text.split(_MARKED)
    if len(parts) != len(strings) + 1:
        return None
    out = [parts[0].encode("utf-8")]
    for raw, part in zip(strings, parts[1:], strict=True):
        out += (b'"', raw, b'"', part.encode("utf-8"))
    return b"".join(out)


def render(content: Any) -> bytes:
    """``content`` as Starlette's ``JSONResponse`` renders it, long base64-safe strings
    spliced in (dicts, lists and tuples are walked; nothing else is)."""
    found: list[bytes] = []

    def marked(value: Any) -> Any:
        if isinstance(value, str):
            raw = _spliceable(value)
            if raw is not None:
                found.append(raw)
                return _MARK
            return value
        if isinstance(value, dict):
            return {k: marked(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [marked(v) for v in value]
        return value

    skeleton = marked(content)
    if found:
        spliced = _joined(_json(skeleton), found)
        if spliced is not None:
            return spliced
    return _json(content).encode("utf-8")


def outcome_json(outcome: Outcome) -> bytes:
    """pydantic's JSON of ``outcome`` (``model_dump_json``), its screenshot's base64 spliced."""
    shot = outcome.screenshot
    raw = _spliceable(shot.data) if shot is not None else None
    if shot is not None and raw is not None:
        bare = outcome.model_copy(update={"screenshot": shot.model_copy(update={"data": _MARK})})
        spliced = _joined(bare.model_dump_json(), [raw])
        if spliced is not None:
            return spliced
    return outcome.model_dump_json().encode("utf-8")


def loads(raw: bytes) -> Any:
    """``json.loads(raw)``, long plain strings cut out first and put back after.

    The decoder, too, looks at every character of a string: ~0.45 ms for a real screen's
    367 kB answer, most of what the MCP proxy spent on a screenshot. A string value starts
    right after ``:"`` (that pair never occurs inside a string, where a quote is escaped);
    if the next ``"`` comes after :data:`SPLICE_MIN` bytes with no ``\\`` before it, that
    quote ends the string, and its bytes are the string itself when they are plain
    ASCII. Those are replaced by markers for the decoder and put back in its result.
    Anything else (and any body below a few kB) is decoded as it is, so a body the decoder
    would refuse is refused the same; one nested too deeply to decode is a ValueError too
    (the decoder's RecursionError got past every ``except ValueError`` of its callers)."""
    try:
        return _loads(raw)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply to decode") from None


def _loads(raw: bytes) -> Any:
    if len(raw) < 4 * SPLICE_MIN:
        return json.loads(raw)
    cut: list[str] = []
    parts: list[bytes] = []
    at = 0
    pos = raw.find(b':"')
    while pos != -1:
        start = pos + 2
        end = raw.find(b'"', start)
        if end == -1:
            break
        segment = raw[start:end]
        if end - start >= SPLICE_MIN and _plain(segment):
            parts += (raw[at:start], f"{_MARK}-{len(cut)}".encode("ascii"))
            cut.append(vouch(segment.decode("ascii"), segment))  # for an answer that passes it on
            at = end
        pos = raw.find(b':"', end + 1)
    if not cut:
        return json.loads(raw)
    parts.append(raw[at:])
    value = json.loads(b"".join(parts))
    back = {f"{_MARK}-{i}": s for i, s in enumerate(cut)}

    def restored(v: Any) -> Any:
        if isinstance(v, str):
            return back.get(v, v)
        if isinstance(v, dict):
            return {k: restored(x) for k, x in v.items()}
        if isinstance(v, list):
            return [restored(x) for x in v]
        return v

    return restored(value)

