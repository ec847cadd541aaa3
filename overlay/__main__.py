"""``python -m overlay``: the review overlay process (see :mod:`overlay.app`)."""

import sys

from overlay.app import main

if __name__ == "__main__":
    sys.exit(main())
