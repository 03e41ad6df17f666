"""The production-default rule (SPEC section 5), defined once.

A model's production default is the APPROVED version most recently made
default (promoted without a canary, or completed from one); failing that,
its highest APPROVED version (pre-releases only when asked for). A canary
is never the default. DEPRECATED versions stay resolvable, flagged, only
while the model has no APPROVED version at all.

Pure functions over version rows (anything with `version`, `status`,
`prerelease`, `default_since`, `version_key`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from modelreg.lifecycle.status import Status


class VersionRow(Protocol):
    version: str
    status: str
    prerelease: bool
    default_since: str | None
    version_key: str


def choose(
    candidates: Iterable[Any], canary_version: str | None, *, model_has_approved: bool, prerelease: bool = False
) -> Any | None:
    """The version of one model to serve among `candidates` (the model's
    versions that match a query). `model_has_approved`: whether the model has
    any APPROVED version at all, matching or not."""
    rows = list(candidates)
    approved = [
        v
        for v in rows
        if v.status == Status.APPROVED
        and v.version != canary_version
        and (prerelease or not v.prerelease or v.default_since)
    ]
    defaults = [v for v in approved if v.default_since]
    if defaults:
        return max(defaults, key=lambda v: (v.default_since, v.version_key))
    if approved:
        return max(approved, key=lambda v: v.version_key)
    if model_has_approved:
        return None  # DEPRECATED versions stay resolvable only while no APPROVED version exists
    deprecated = [v for v in rows if v.status == Status.DEPRECATED]
    return max(deprecated, key=lambda v: (v.default_since or "", v.version_key), default=None)


def production_default(versions: Iterable[Any], canary_version: str | None) -> Any | None:
    """The production default among all of a model's versions."""
    rows = list(versions)
    return choose(rows, canary_version, model_has_approved=any(v.status == Status.APPROVED for v in rows))


def rollout_weight(
    version: str, status: str, canary_version: str | None, canary_weight: int | None, default_version: str | None
) -> int:
    """The share of traffic (0-100) a version gets from `resolve --key`."""
    if status != Status.APPROVED and status != Status.DEPRECATED:
        return 0
    if canary_version and version == canary_version:
        return canary_weight or 0
    if version == default_version:
        return 100 - (canary_weight or 0) if canary_version else 100
    return 0
