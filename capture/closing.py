"""One way for a resource to be a context manager: ``with obj:`` closes it on the way out.

It lives in ``capture``, the leaf every other room may import (``capture`` may import no
other room), so that daemon and capture classes share it. ``contextlib.AbstractContextManager``
gives the same ``__enter__`` but leaves ``__exit__`` to write again in every class.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Self

__all__ = ["Closing", "die_with_parent", "end_process"]

def die_with_parent(argv: list[str]) -> list[str]:
    """``argv`` run so that it gets SIGTERM when the process that started it dies, by any
    signal (kill -9 too): a virtual display or a bus never outlives its daemon. util-linux's
    ``setpriv --pdeathsig`` sets the signal and execs the command (same process, no
    ``preexec_fn`` in a threaded parent); without setpriv (not Linux) ``argv`` as it is."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    return [setpriv, "--pdeathsig", "TERM", *argv] if setpriv else argv


def end_process(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    """Ask a child process to end (SIGTERM), and kill it if it has not after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Closing(ABC):
    """Mixin: ``with obj as o`` gives ``obj`` and calls :meth:`close` however the block ends.

    A class that must do something on entry (connect, start) overrides ``__enter__`` and
    returns ``self``. ``__exit__`` returns None, so an exception from the block goes on.
    """

    __slots__ = ()

    @abstractmethod
    def close(self) -> None:
        """Release what the object holds; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
