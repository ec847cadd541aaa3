"""The machine's senses and hands: screens, coordinates, input, vision.

``capture`` knows nothing of agents, policy or the daemon. Every error it raises
is a :class:`CaptureError`.
"""

from capture.errors import CaptureError, UnsupportedPlatform

__all__ = ["CaptureError", "UnsupportedPlatform"]
