"""What an accessibility lookup answers: an element and the windows around it."""

from __future__ import annotations

from dataclasses import dataclass

from capture.coords import Rect

# The AT-SPI roles of a field whose text must never be recorded or shown (GTK, Qt and the
# browsers all map their password inputs onto ATSPI_ROLE_PASSWORD_TEXT).
PASSWORD_ROLES = frozenset({"password text"})


@dataclass(frozen=True, slots=True)
class Ancestor:
    """A parent of an element: its role ("filler", "dialog", "frame") and name."""

    role: str
    name: str


@dataclass(frozen=True, slots=True)
class Element:
    """One accessible element on the screen, as its application describes it.

    ``box`` is its exact extent in screen pixels; ``parents`` run from the nearest parent
    up to and including its window (the last one). ``states`` are AT-SPI state names in
    lower case ("focused", "enabled", "showing", ...).
    """

    role: str
    name: str
    description: str
    states: frozenset[str]
    box: Rect | None  # None when the application gives no extent (off screen, zero size)
    parents: tuple[Ancestor, ...] = ()
    application: str = ""
    pid: int | None = None

    @property
    def focused(self) -> bool:
        return "focused" in self.states

    @property
    def enabled(self) -> bool:
        return "enabled" in self.states or "sensitive" in self.states

    @property
    def password(self) -> bool:
        """A password (protected) field: its contents must not be recorded."""
        return self.role in PASSWORD_ROLES

    @property
    def window(self) -> Ancestor | None:
        """The window (dialog, frame...) the element is in; None for a window itself."""
        return self.parents[-1] if self.parents else None

    def describe(self) -> str:
        """ "the push button 'Escalate'", "the label 'Due date'", "a filler" (for a person or
        a model; names quoted as the application gives them)."""
        return f"the {self.role} {self.name!r}" if self.name else f"a {self.role}"
