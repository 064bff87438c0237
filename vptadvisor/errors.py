"""Errors a user can cause, each with the exit code the CLI documents.

Exit codes: 0 ok, 1 a gate failed, 2 usage or configuration error, 3 could not measure (also: a
result that could not be written, and internal errors, whose traceback goes to a log file), 130
interrupted (SIGINT), 143 terminated (SIGTERM). See vptadvisor/cli/guard.py.
Messages are one sentence that says what to do; the CLI prints them without a traceback.
"""

from __future__ import annotations

INTERNAL_ERROR_EXIT = 3  # a bug: the CLI logs the traceback and says where; never 1 (gate failed)


class VptAdvisorError(Exception):
    """Base class: a failure the user can act on."""

    exit_code = 3

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UsageError(VptAdvisorError):
    """Bad path, bad option, bad config file: exit code 2."""

    exit_code = 2


class MeasureError(VptAdvisorError):
    """The measurement could not be made (too few images, no weights...): exit code 3."""

    exit_code = 3


class GateFailed(VptAdvisorError):
    """A CI gate did not hold: exit code 1."""

    exit_code = 1
