"""The accessibility tree: what element is at a point, and which one has the focus.

On Linux desktops applications describe their widgets over AT-SPI (a D-Bus protocol):
role, name, states and exact screen extents. :class:`A11y` asks it without ever making
its caller wait longer than a bounded timeout; anything it cannot tell is None, and the
caller falls back to locating from pixels (:mod:`capture.vision`).

>>> with A11y() as a11y:  # doctest: +SKIP
...     el = a11y.element_at(1000, 570)
...     el.describe(), el.box, el.window
("the push button 'Escalate'", Rect(962, 559, 97, 34), Ancestor('dialog', 'Ticket 4411'))
"""

from capture.a11y._atspi import AtspiError
from capture.a11y._element import PASSWORD_ROLES, Ancestor, Element
from capture.a11y._lookup import DEFAULT_TIMEOUT, A11y

__all__ = ["DEFAULT_TIMEOUT", "PASSWORD_ROLES", "A11y", "Ancestor", "AtspiError", "Element"]
