"""The errors of a question request that cannot be honoured, each with its HTTP status
(translated in :mod:`daemon.api.http`, the one place)."""

from __future__ import annotations

from daemon.errors import DaemonError

__all__ = ["BadAnswer", "QuestionConflict", "QuestionError", "QuestionsOff", "UnknownQuestion"]


class QuestionError(DaemonError):
    """A question request that cannot be honoured; ``status`` is its HTTP status."""

    status: int = 409


class UnknownQuestion(QuestionError):
    status = 404


class QuestionConflict(QuestionError):
    """No longer pending (answered, expired), or already being shown by a takeover."""


class BadAnswer(QuestionError):
    status = 422


class QuestionsOff(QuestionError):
    """Nobody can be asked: ``--policy off`` runs without the overlay."""

    status = 403
