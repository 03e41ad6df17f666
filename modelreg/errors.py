"""Domain errors and exit codes.

Every error the library raises on purpose is a ModelregError carrying the exit
code the CLI should use; the CLI turns it into one line on stderr in one place.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
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


def did_you_mean(given: str, candidates: Iterable[str], *, most: int = 3) -> str:
    """The "; did you mean 'x'?" naming the nearest of `candidates` by difflib's
    ratio (as click does for an unknown command), and up to `most` about as
    near, or "" when none is near. The caller fetches the candidates with one
    bounded query (never the registry)."""
    scored = []
    for name in dict.fromkeys(candidates):
        matcher = difflib.SequenceMatcher(None, given, name)
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6 and matcher.ratio() >= 0.6:
            scored.append((-matcher.ratio(), name))
    if not scored:
        return ""
    scored.sort(key=lambda pair: pair[0])  # stable: ties keep the candidates' order (newest first)
    best = scored[0][0]
    near = [name for score, name in scored[:most] if score - best <= 0.05]
    quoted = [f"'{name}'" for name in near]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"; did you mean {listed}?"


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
