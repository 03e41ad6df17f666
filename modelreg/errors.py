"""Domain errors and exit codes.

Every error the library raises on purpose is a ModelregError carrying the exit
code the CLI should use; the CLI turns it into one line on stderr in one place.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1  # a bug, or a broken audit chain
    INVALID = 2  # bad usage or invalid input
    NOT_FOUND = 3
    CONFLICT = 4  # duplicate, illegal transition, concurrent change
    REFUSED = 5  # refused by policy
    SLO_MISSED = 6  # benchmark missed its SLO / alerts at or above --fail-on
    DATABASE = 7  # unreachable, locked beyond the retry budget, schema mismatch


class ModelregError(Exception):
    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, *, details: list[str] | None = None, data: object = None):
        super().__init__(message)
        self.message = message
        # extra lines (e.g. every unmet gate) shown after the one-line message
        self.details = details or []
        # what a dry run would have done, for the caller to show (e.g. a refused plan)
        self.data = data


class InvalidInput(ModelregError):
    exit_code = ExitCode.INVALID


class NotFound(ModelregError):
    exit_code = ExitCode.NOT_FOUND


class Conflict(ModelregError):
    exit_code = ExitCode.CONFLICT


class PolicyRefused(ModelregError):
    exit_code = ExitCode.REFUSED


class AccessDenied(PolicyRefused):
    """The acting role may not do this (a missing role, separation of duties,
    an actor that is not the authenticated one)."""


class SLOMissed(ModelregError):
    exit_code = ExitCode.SLO_MISSED


class DatabaseError(ModelregError):
    exit_code = ExitCode.DATABASE


class AuditBroken(ModelregError):
    exit_code = ExitCode.UNEXPECTED
