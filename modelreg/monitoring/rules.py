"""Alert rules: pure functions from observations to ``AlertCandidate`` lists.

Each rule returns a list (empty: nothing to raise).  The caller upserts each
candidate by ``dedup_key``: the key names the rule and the target, never the
observed values or the severity, so re-running a check never duplicates an
open alert; a candidate whose key already has an open alert refreshes it
(last_seen, message, and severity - a warning can escalate to critical).

Dedup keys::

    latency:MODEL@VERSION
    error_rate:MODEL@VERSION
    usage:MODEL@VERSION
    drift:MODEL@VERSION
    security:ADVISORY_ID:MODEL@VERSION

Thresholds
    latency     observed avg (p95) > SLO avg (p95): warning; > 1.5 x SLO: critical.
                The worse of the two decides; an SLO of None is not checked.
    error rate  errors/requests > threshold: warning; > 5 x threshold
                (ERROR_CRITICAL_FACTOR): critical.  Windows with fewer than
                ERROR_MIN_REQUESTS (50) requests are skipped: 1 error in 3
                requests is noise, not a 33% error rate.
    usage       request *rate* (requests / window seconds, so windows of
                different lengths compare fairly) of the latest window against
                the trailing windows (up to USAGE_MAX_TRAILING = 24, at least
                USAGE_MIN_TRAILING = 6, else skipped):
                warning  when |z| >= 3 and |latest - mean| >= 50% of the mean;
                critical when |z| >= 5 and |latest - mean| >= 100% of the mean
                         (traffic doubled, or dropped to zero).
                The relative floor keeps a flat series (tiny std) from alerting
                on noise: 1000 -> 1010 requests has a huge z but is no anomaly.
                A zero std counts as an infinite z once the floor is met.  An
                all-zero trailing series is skipped (no mean to be relative to).
    drift       PSI (see drift.py): > 0.1 warning, > 0.25 critical; samples
                below the drift minimum sizes are skipped.
    security    an affected APPROVED or DEPRECATED version: critical (it is
                live); an affected TESTING or EXPERIMENTAL version: info
                (promotion is blocked by the gate, nobody is exposed yet);
                RETIRED and REJECTED: nothing.  The caller decides "affected"
                with advisories.affects().
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from modelreg.errors import InvalidInput
from modelreg.lifecycle.status import ARCHIVED, LIVE, STATUSES
from modelreg.monitoring.drift import drift_severity, population_stability_index
from modelreg.monitoring.observations import Observation
from modelreg.policy import SEVERITIES

_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

LATENCY_CRITICAL_FACTOR = 1.5
ERROR_CRITICAL_FACTOR = 5.0
ERROR_MIN_REQUESTS = 50
USAGE_MIN_TRAILING = 6
USAGE_MAX_TRAILING = 24
USAGE_Z_WARNING = 3.0
USAGE_Z_CRITICAL = 5.0
USAGE_REL_WARNING = 0.5
USAGE_REL_CRITICAL = 1.0


@dataclass(frozen=True)
class AlertCandidate:
    kind: str
    severity: str
    model_id: str
    version: str | None
    dedup_key: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def parse_severity(text: str) -> str:
    """Normalise a severity name (info|warning|critical); InvalidInput otherwise."""
    value = text.strip().lower() if isinstance(text, str) else None
    if value not in _RANK:
        raise InvalidInput(f"invalid severity {text!r}: expected one of {', '.join(SEVERITIES)}")
    return value


def severity_rank(severity: str) -> int:
    """info=0 < warning=1 < critical=2; InvalidInput for anything else."""
    return _RANK[parse_severity(severity)]


def at_least(severity: str, minimum: str) -> bool:
    return severity_rank(severity) >= severity_rank(minimum)


def max_severity(*severities: str | None) -> str | None:
    present = [s for s in severities if s is not None]
    return max(present, key=severity_rank) if present else None


def dedup_key(kind: str, model_id: str, version: str, *, qualifier: str | None = None) -> str:
    target = f"{model_id}@{version}"
    return f"{kind}:{qualifier}:{target}" if qualifier else f"{kind}:{target}"


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- latency


def _latency_level(observed: float, slo: float | None) -> str | None:
    if slo is None:
        return None
    if observed > LATENCY_CRITICAL_FACTOR * slo:
        return "critical"
    if observed > slo:
        return "warning"
    return None


def latency_regression(
    model_id: str, version: str, slo_avg_ms: float | None, slo_p95_ms: float | None, latest: Observation
) -> list[AlertCandidate]:
    for name, slo in (("slo_avg_ms", slo_avg_ms), ("slo_p95_ms", slo_p95_ms)):
        if slo is not None and (
            isinstance(slo, bool) or not isinstance(slo, (int, float)) or not math.isfinite(slo) or slo < 0
        ):
            raise InvalidInput(f"{name}: expected a non-negative number or None, got {slo!r}")
    avg_level = _latency_level(latest.latency_avg_ms, slo_avg_ms)
    p95_level = _latency_level(latest.latency_p95_ms, slo_p95_ms)
    severity = max_severity(avg_level, p95_level)
    if severity is None:
        return []
    parts = []
    if avg_level and slo_avg_ms is not None:
        parts.append(
            f"avg {_fmt(latest.latency_avg_ms)} ms > SLO {_fmt(slo_avg_ms)} ms ({latest.latency_avg_ms / slo_avg_ms if slo_avg_ms else math.inf:.2f}x)"
        )
    if p95_level and slo_p95_ms is not None:
        parts.append(
            f"p95 {_fmt(latest.latency_p95_ms)} ms > SLO {_fmt(slo_p95_ms)} ms ({latest.latency_p95_ms / slo_p95_ms if slo_p95_ms else math.inf:.2f}x)"
        )
    message = (
        f"latency regression on {model_id}@{version}: "
        + ", ".join(parts)
        + f" in window ending {_iso(latest.window_end)}"
    )
    return [AlertCandidate("latency", severity, model_id, version, dedup_key("latency", model_id, version), message)]


# ---------------------------------------------------------------- error rate


def error_rate_breach(
    model_id: str,
    version: str,
    threshold: float,
    latest: Observation,
    *,
    min_requests: int = ERROR_MIN_REQUESTS,
) -> list[AlertCandidate]:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (0 <= threshold <= 1):
        raise InvalidInput(f"error rate threshold: expected a fraction between 0 and 1 (0.01 = 1%), got {threshold!r}")
    if latest.requests <= 0 or latest.requests < min_requests:
        return []
    rate = latest.errors / latest.requests
    if rate <= threshold:
        return []
    severity = "critical" if rate > ERROR_CRITICAL_FACTOR * threshold else "warning"
    message = (
        f"error rate {rate:.2%} ({latest.errors}/{latest.requests}) on {model_id}@{version} "
        f"above threshold {threshold:.2%} in window ending {_iso(latest.window_end)}"
    )
    return [
        AlertCandidate("error_rate", severity, model_id, version, dedup_key("error_rate", model_id, version), message)
    ]


# ---------------------------------------------------------------- usage


def usage_anomaly(
    model_id: str,
    version: str,
    windows: Sequence[Observation],
    *,
    min_trailing: int = USAGE_MIN_TRAILING,
    max_trailing: int = USAGE_MAX_TRAILING,
) -> list[AlertCandidate]:
    """Latest window's request rate far from the trailing windows' mean (see module doc)."""
    by_key: dict[tuple, Observation] = {}
    for window in windows:
        if window.model_id == model_id and window.version == version and window.duration_s > 0:
            by_key[window.window_key()] = window  # duplicates: the last one wins
    ordered = sorted(by_key.values(), key=lambda w: (w.window_end, w.window_start))
    if len(ordered) < min_trailing + 1:
        return []
    latest = ordered[-1]
    trailing = ordered[-1 - max_trailing : -1] if max_trailing > 0 else ordered[:-1]
    if len(trailing) < min_trailing:
        return []
    rates = [w.requests / w.duration_s for w in trailing]
    mean = statistics.fmean(rates)
    if mean <= 0:
        return []
    # statistics.stdev sums exactly: a flat series has a std of exactly 0 (a naive sum of squares
    # leaves ~1e-16 of rounding, and the z of a doubling becomes 2e16 instead of infinite)
    std = statistics.stdev(rates) if len(rates) > 1 else 0.0
    current = latest.requests / latest.duration_s
    delta = current - mean
    relative = abs(delta) / mean
    if std > 0:
        z = delta / std
    else:
        z = math.copysign(math.inf, delta) if delta else 0.0
    if abs(z) >= USAGE_Z_CRITICAL and relative >= USAGE_REL_CRITICAL:
        severity = "critical"
    elif abs(z) >= USAGE_Z_WARNING and relative >= USAGE_REL_WARNING:
        severity = "warning"
    else:
        return []
    direction = "spike" if delta > 0 else "drop"
    expected_requests = mean * latest.duration_s
    message = (
        f"usage {direction} on {model_id}@{version}: {latest.requests} requests in window ending "
        f"{_iso(latest.window_end)}, trailing mean {expected_requests:.0f} over {len(trailing)} windows "
        f"({relative:.0%} {'above' if delta > 0 else 'below'}, z={z:+.1f})"
    )
    return [AlertCandidate("usage", severity, model_id, version, dedup_key("usage", model_id, version), message)]


# ---------------------------------------------------------------- drift


def drift(
    model_id: str,
    version: str,
    baseline_sample: Sequence[float],
    latest_sample: Sequence[float],
    *,
    bins: int = 10,
    **psi_options,
) -> list[AlertCandidate]:
    psi = population_stability_index(baseline_sample, latest_sample, bins, **psi_options)
    severity = drift_severity(psi)
    if severity is None:
        return []
    message = (
        f"drift on {model_id}@{version}: PSI {psi:.3f} between baseline ({len(baseline_sample)} values) "
        f"and latest window ({len(latest_sample)} values); > 0.1 warning, > 0.25 critical"
    )
    return [AlertCandidate("drift", severity, model_id, version, dedup_key("drift", model_id, version), message)]


# ---------------------------------------------------------------- security


def security(advisory_id: str, severity: str, model_id: str, version: str, status: str) -> list[AlertCandidate]:
    """An advisory affecting model@version (the caller checked the range)."""
    if not isinstance(advisory_id, str) or not advisory_id.strip():
        raise InvalidInput("advisory id: expected a non-empty string such as CVE-2026-1234")
    advisory_severity = severity.strip().lower() if isinstance(severity, str) else ""
    if advisory_severity not in ("low", "medium", "high", "critical", "info", "warning"):
        raise InvalidInput(f"invalid advisory severity {severity!r}: expected one of low, medium, high, critical")
    state = status.strip().upper() if isinstance(status, str) else ""
    if state not in STATUSES:
        raise InvalidInput(f"invalid status {status!r}: expected one of {', '.join(STATUSES)}")
    if state in ARCHIVED:
        return []
    advisory_id = advisory_id.strip()
    key = dedup_key("security", model_id, version, qualifier=advisory_id)
    if state in LIVE:
        message = f"{advisory_id} ({advisory_severity}) affects {state} {model_id}@{version}, which is live"
        return [AlertCandidate("security", "critical", model_id, version, key, message)]
    message = f"{advisory_id} ({advisory_severity}) affects {state} {model_id}@{version}; promotion is blocked"
    return [AlertCandidate("security", "info", model_id, version, key, message)]
