"""Bench helper: ``driverseat serve`` whose screenshots skip the grab (a diagnostic).

``python -m bench._still serve ...`` runs the daemon as ``python -m daemon.cli serve ...``
does, except that each screenshot grabber grabs and encodes once and then answers every
later call with that first picture. Nothing else changes: the request, the policy, the
executor's queue and thread, the records, the answer of the same size. A screenshot's
overhead there is the daemon's own handling of a screenshot answer, without what the
grab leaves behind it (the caches it emptied: its ~28 MB of pixels moved through a
1 MB L2); ``bench/api_latency.py`` subtracts one from the other (``grab_aftermath``).
Never a product path: only this launcher patches the grabber.
"""

from __future__ import annotations

import sys
from typing import Any

from daemon.control.screenshots import ScreenGrabber


def _still() -> None:
    grab = ScreenGrabber.__call__

    def first_picture(self: ScreenGrabber) -> Any:
        kept = self.__dict__.get("_still")
        if kept is None:
            kept = self.__dict__["_still"] = grab(self)
        return kept

    ScreenGrabber.__call__ = first_picture  # type: ignore[method-assign]


if __name__ == "__main__":
    from daemon.cli import main

    _still()
    sys.exit(main())
