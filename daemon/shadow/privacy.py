"""What a recording must not keep: password text, and whatever a private window shows.

- Text typed while the keyboard focus is in a password field (AT-SPI role ``password
  text``, :meth:`capture.a11y.A11y.password_focused`) is stored as a ``type`` action whose
  text is :data:`daemon.commentary.MASK`, never the text, not even its length. Where the
  accessibility tree does not reach (no bus, a toolkit that exposes nothing), a password
  field cannot be told apart: the pause hotkey is the person's way out there.
- An action done while the active window's title matches one of the private patterns
  (password managers, private browsing) is not recorded at all, nor any frame read with
  such a title: recording pauses by itself while such a window is active. The patterns
  are regular expressions matched anywhere in the title, case-insensitively;
  :data:`DEFAULT_PRIVATE_TITLES` is the default list (``--private-title`` adds to it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["DEFAULT_PRIVATE_TITLES", "PrivateTitles", "title_pattern"]

DEFAULT_PRIVATE_TITLES: tuple[str, ...] = (
    r"KeePass",  # KeePass, KeePassX, KeePassXC
    r"Bitwarden",
    r"1Password",
    r"LastPass",
    r"Dashlane",
    r"Enpass",
    r"Proton Pass",
    r"Password Safe",
    r"Passwords and Keys",  # GNOME Seahorse
    r"\bSeahorse\b",
    r"KWalletManager",
    r"Private Browsing",  # Firefox: "... — Mozilla Firefox Private Browsing"
    r"\(Incognito\)|\bIncognito\b",  # Chrome, Chromium
    r"\bInPrivate\b",  # Edge
    r"Tor Browser",
)


def title_pattern(text: str) -> str:
    """``text`` if it is a regular expression (for argparse: ValueError says why not)."""
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"{text!r} is not a regular expression: {exc}") from None
    if not text:
        raise ValueError("an empty pattern would match every title")
    return text


class PrivateTitles:
    """Matches window titles against the private patterns."""

    def __init__(self, patterns: Iterable[str] = DEFAULT_PRIVATE_TITLES) -> None:
        self.patterns: Sequence[str] = tuple(patterns)
        self._re = re.compile("|".join(f"(?:{p})" for p in self.patterns), re.IGNORECASE) if self.patterns else None

    def match(self, *titles: str | None) -> bool:
        """True if any of ``titles`` is a private window's."""
        if self._re is None:
            return False
        return any(t is not None and self._re.search(t) is not None for t in titles)
