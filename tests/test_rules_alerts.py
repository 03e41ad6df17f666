"""The alert rules pinned by behaviour (issue 17): each rule's whole
candidate (kind, severity, target, dedup key, message) at the edges of its
thresholds, the windows a usage rule counts, and the exact refusal of each
bad argument. Pure: no database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from modelreg.errors import InvalidInput
from modelreg.monitoring import rules
from modelreg.monitoring.observations import Observation
from modelreg.monitoring.rules import AlertCandidate

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def window(requests=1000, *, index=0, seconds=3600, errors=0, avg=100.0, p95=200.0, model="m", version="1.0.0"):
    start = T0 + timedelta(seconds=seconds * index)
    return Observation(model, version, start, start + timedelta(seconds=seconds), requests, errors, avg, p95)


def series(requests, *, seconds=3600, **kwargs):
    return [window(r, index=i, seconds=seconds, **kwargs) for i, r in enumerate(requests)]


def only(candidates):
    assert len(candidates) == 1, candidates
    return candidates[0]


# ---------------------------------------------------------------- severities


def test_candidate_as_dict():
    candidate = AlertCandidate("usage", "warning", "m", "1.0.0", "usage:m@1.0.0", "text")
    assert candidate.as_dict() == {
        "kind": "usage", "severity": "warning", "model_id": "m", "version": "1.0.0",
        "dedup_key": "usage:m@1.0.0", "message": "text",
    }  # fmt: skip


def test_unknown_severity_lists_the_known_ones():
    with pytest.raises(InvalidInput, match=r"^invalid severity 'loud': expected one of info, warning, critical$"):
        rules.parse_severity("loud")
    assert rules.parse_severity(" Critical ") == "critical"


# ---------------------------------------------------------------- latency


def test_latency_candidate_in_full():
    latest = window(avg=160.0, p95=450.0)
    assert only(rules.latency_regression("m", "1.0.0", 100.0, 300.0, latest)) == AlertCandidate(
        "latency", "critical", "m", "1.0.0", "latency:m@1.0.0",
        "latency regression on m@1.0.0: avg 160 ms > SLO 100 ms (1.60x), p95 450 ms > SLO 300 ms (1.50x)"
        " in window ending 2026-03-01T11:00:00Z",
    )  # fmt: skip


def test_latency_names_only_the_slo_it_missed():
    message = only(rules.latency_regression("m", "1.0.0", 100.0, 300.0, window(avg=90.0, p95=310.0))).message
    assert message.startswith("latency regression on m@1.0.0: p95 310 ms > SLO 300 ms (1.03x) in window")
    message = only(rules.latency_regression("m", "1.0.0", 100.0, 300.0, window(avg=110.0, p95=290.0))).message
    assert message.startswith("latency regression on m@1.0.0: avg 110 ms > SLO 100 ms (1.10x) in window")


def test_latency_thresholds_are_strict():
    def severity(avg):
        found = rules.latency_regression("m", "1.0.0", 100.0, None, window(avg=avg))
        return found[0].severity if found else None

    assert [severity(a) for a in (100.0, 100.5, 150.0, 150.5)] == [None, "warning", "warning", "critical"]


def test_a_zero_slo_is_a_bound_not_a_division():
    candidate = only(rules.latency_regression("m", "1.0.0", 0, 0.5, window(avg=1.0, p95=1.0)))
    assert candidate.severity == "critical"
    assert "avg 1 ms > SLO 0 ms (infx), p95 1 ms > SLO 0.5 ms (2.00x)" in candidate.message
    candidate = only(rules.latency_regression("m", "1.0.0", None, 0, window(p95=1.0)))
    assert "p95 1 ms > SLO 0 ms (infx)" in candidate.message


@pytest.mark.parametrize("bad", [True, "100", math.nan, math.inf, -1, -0.001])
@pytest.mark.parametrize("name", ["slo_avg_ms", "slo_p95_ms"])
def test_bad_slo_is_refused_by_name(name, bad):
    slos = {"slo_avg_ms": 100.0, "slo_p95_ms": 200.0, name: bad}
    with pytest.raises(InvalidInput, match=rf"^{name}: expected a non-negative number or None, got {bad!r}$"):
        rules.latency_regression("m", "1.0.0", slos["slo_avg_ms"], slos["slo_p95_ms"], window())


# ---------------------------------------------------------------- error rate


def test_error_rate_candidate_in_full():
    assert only(rules.error_rate_breach("m", "1.0.0", 0.01, window(1000, errors=20))) == AlertCandidate(
        "error_rate", "warning", "m", "1.0.0", "error_rate:m@1.0.0",
        "error rate 2.00% (20/1000) on m@1.0.0 above threshold 1.00% in window ending 2026-03-01T11:00:00Z",
    )  # fmt: skip


def test_error_rate_edges():
    def severity(requests, errors, threshold=0.1, **kwargs):
        found = rules.error_rate_breach("m", "1.0.0", threshold, window(requests, errors=errors), **kwargs)
        return found[0].severity if found else None

    assert severity(100, 10) is None  # at the threshold
    assert severity(100, 11) == "warning"
    assert severity(100, 50) == "warning"  # at 5 x the threshold
    assert severity(100, 51) == "critical"
    assert severity(50, 50) == "critical"  # exactly the minimum of requests counts
    assert severity(49, 49) is None
    assert severity(1, 1, min_requests=1) == "critical"
    assert severity(0, 0, min_requests=0) is None  # no requests: no rate, no division
    assert severity(100, 1, threshold=0) == "critical"  # 0 and 1 are both allowed thresholds
    assert severity(100, 100, threshold=1) is None


@pytest.mark.parametrize("bad", [True, "0.1", -0.01, 1.01, 1.5, 2])
def test_bad_error_threshold_is_refused(bad):
    pattern = rf"^error rate threshold: expected a fraction between 0 and 1 \(0\.01 = 1%\), got {bad!r}$"
    with pytest.raises(InvalidInput, match=pattern):
        rules.error_rate_breach("m", "1.0.0", bad, window())


# ---------------------------------------------------------------- usage


def test_usage_spike_in_full():
    # hourly windows: trailing 3600 x 6 with a sample std of 0 would be infinite; these vary
    found = only(rules.usage_anomaly("m", "1.0.0", series([3400, 3800, 3600, 3400, 3800, 3600, 9000])))
    # rates per second 0.9444, 1.0556, 1, ...: mean 1, sample std 0.0497; the latest 2.5/s
    assert found == AlertCandidate(
        "usage", "critical", "m", "1.0.0", "usage:m@1.0.0",
        "usage spike on m@1.0.0: 9000 requests in window ending 2026-03-01T17:00:00Z, trailing mean 3600"
        " over 6 windows (150% above, z=+30.2)",
    )  # fmt: skip


def test_usage_spike_of_less_than_one_request_a_second_is_above():
    found = only(rules.usage_anomaly("m", "1.0.0", series([3400, 3800, 3600, 3400, 3800, 3600, 7000])))
    assert found.severity == "warning"
    assert found.message.endswith("trailing mean 3600 over 6 windows (94% above, z=+19.0)")


def test_usage_drop_in_full():
    found = only(rules.usage_anomaly("m", "1.0.0", series([3400, 3800, 3600, 3400, 3800, 3600, 1000])))
    assert found.severity == "warning"  # 72% below: past the warning floor, short of the critical one
    assert found.message == (
        "usage drop on m@1.0.0: 1000 requests in window ending 2026-03-01T17:00:00Z, trailing mean 3600"
        " over 6 windows (72% below, z=-14.5)"
    )


def test_usage_from_a_flat_series_has_an_infinite_z():
    spike = only(rules.usage_anomaly("m", "1.0.0", series([100] * 6 + [300], seconds=60)))
    assert spike.severity == "critical" and spike.message.endswith("6 windows (200% above, z=+inf)")
    drop = only(rules.usage_anomaly("m", "1.0.0", series([100] * 6 + [0], seconds=60)))
    assert drop.severity == "critical" and drop.message.endswith("6 windows (100% below, z=-inf)")
    assert rules.usage_anomaly("m", "1.0.0", series([100] * 7, seconds=60)) == []


def test_usage_z_and_relative_edges_are_inclusive():
    # one-second windows: requests are rates; trailing [8, 8, 10, 12, 12]: mean 10, sample std 2
    def severity(latest, trailing=(8, 8, 10, 12, 12)):
        found = rules.usage_anomaly("m", "1.0.0", series([*trailing, latest], seconds=1), min_trailing=5)
        return found[0].severity if found else None

    assert severity(20) == "critical"  # z = 5 and 100% above: both edges of critical
    assert severity(19) == "warning"  # z = 4.5
    assert severity(16) == "warning"  # z = 3 and 60% above
    assert severity(15) is None  # z = 2.5
    # trailing [9, 9, 10, 11, 11]: std 1; 50% above is the warning floor, included
    assert severity(15, (9, 9, 10, 11, 11)) == "warning"
    assert severity(14, (9, 9, 10, 11, 11)) is None


def test_usage_needs_its_trailing_windows():
    spike = [100, 100, 100, 100, 100, 100, 300]
    assert rules.usage_anomaly("m", "1.0.0", series(spike, seconds=60)) != []  # 6 trailing: enough
    assert rules.usage_anomaly("m", "1.0.0", series(spike[1:], seconds=60)) == []  # 5: skipped
    assert rules.usage_anomaly("m", "1.0.0", series(spike, seconds=60), min_trailing=7) == []
    assert rules.usage_anomaly("m", "1.0.0", series([0] * 6 + [300], seconds=60)) == []  # no mean to compare
    assert rules.usage_anomaly("m", "1.0.0", [], min_trailing=0) == []  # nothing at all


def test_usage_counts_the_latest_max_trailing_windows():
    # older windows at 400 would hide the spike; only the 6 newest (100 each) count
    windows = series([400, 400, 100, 100, 100, 100, 100, 100, 400], seconds=60)
    found = only(rules.usage_anomaly("m", "1.0.0", windows, max_trailing=6))
    assert found.message.endswith("trailing mean 100 over 6 windows (300% above, z=+inf)")
    # 0: every earlier window; mean 175, std 139, so 400 is no anomaly (z = 1.6)
    assert rules.usage_anomaly("m", "1.0.0", windows, max_trailing=0) == []
    flat = series([100] * 8 + [400], seconds=60)
    assert only(rules.usage_anomaly("m", "1.0.0", flat, max_trailing=0)).message.endswith(
        "over 8 windows (300% above, z=+inf)"
    )
    # one trailing window: its std is 0 (no spread), not a division by zero
    one = only(rules.usage_anomaly("m", "1.0.0", series([400, 100, 400], seconds=60), min_trailing=1, max_trailing=1))
    assert one.message.endswith("trailing mean 100 over 1 windows (300% above, z=+inf)")
    # two trailing windows have a spread
    two = rules.usage_anomaly("m", "1.0.0", series([100, 110, 400], seconds=60), min_trailing=2, max_trailing=2)
    assert only(two).message.endswith("over 2 windows (281% above, z=+41.7)")


def test_usage_ignores_other_targets_and_empty_windows():
    windows = series([100] * 6 + [300], seconds=1)
    assert only(rules.usage_anomaly("m", "1.0.0", windows)).severity == "critical"  # one-second windows count
    noise = [window(5000, index=6, model="other"), window(5000, index=6, version="2.0.0")]
    assert rules.usage_anomaly("m", "1.0.0", series([100] * 7, seconds=1) + noise) == []
    assert rules.usage_anomaly("other", "1.0.0", series([100] * 6 + [300], seconds=1, model="other")) != []
    empty = Observation("m", "1.0.0", T0 + timedelta(days=1), T0 + timedelta(days=1), 50, 0, 1.0, 1.0)
    assert rules.usage_anomaly("m", "1.0.0", [*series([100] * 7, seconds=1), empty]) == []  # zero length: skipped


# ---------------------------------------------------------------- drift


def test_drift_candidate_in_full():
    baseline = [float(v) for v in range(1000)]
    latest = [float(v) for v in range(300, 1300)]
    # edges 99, 199, ..., 899: the baseline 0.1 in each bin; the latest empty in the 3 lowest (floored
    # at 1e-4), 0.1 in the next 6 and 0.4 above 899: 3 x (1e-4 - 0.1) ln(1e-3) + 0.3 ln 4 = 2.486
    assert only(rules.drift("m", "1.0.0", baseline, latest)) == AlertCandidate(
        "drift", "critical", "m", "1.0.0", "drift:m@1.0.0",
        "drift on m@1.0.0: PSI 2.486 between baseline (1000 values) and latest window (1000 values);"
        " > 0.1 warning, > 0.25 critical",
    )  # fmt: skip


def test_drift_passes_bins_and_sample_minimums_on():
    baseline, latest = [1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 4.0]
    assert rules.drift("m", "1.0.0", baseline, latest) == []  # below the default minimum sample sizes
    # two bins split at 2: the baseline half and half, the latest 3/4 and 1/4 (ten bins would give 4.46)
    found = only(rules.drift("m", "1.0.0", baseline, latest, bins=2, min_baseline=1, min_latest=1))
    assert (found.severity, "PSI 0.275 " in found.message) == ("critical", True)


# ---------------------------------------------------------------- security


def test_security_candidates_in_full():
    live = only(rules.security(" CVE-2026-1234 ", "High", "m", "1.0.0", "approved"))
    assert live == AlertCandidate(
        "security", "critical", "m", "1.0.0", "security:CVE-2026-1234:m@1.0.0",
        "CVE-2026-1234 (high) affects APPROVED m@1.0.0, which is live",
    )  # fmt: skip
    assert only(rules.security("CVE-2026-1234", "low", "m", "1.0.0", "TESTING")) == AlertCandidate(
        "security", "info", "m", "1.0.0", "security:CVE-2026-1234:m@1.0.0",
        "CVE-2026-1234 (low) affects TESTING m@1.0.0; promotion is blocked",
    )  # fmt: skip
    assert rules.security("CVE-2026-1234", "low", "m", "1.0.0", "RETIRED") == []


@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical", "info", "warning", " MEDIUM "])
def test_every_advisory_severity_is_accepted(severity):
    assert only(rules.security("GHSA-1", severity, "m", "1.0.0", "DEPRECATED")).severity == "critical"


def test_bad_security_arguments_are_refused():
    for advisory in (None, "", "   "):
        with pytest.raises(InvalidInput, match=r"^advisory id: expected a non-empty string such as CVE-2026-1234$"):
            rules.security(advisory, "low", "m", "1.0.0", "APPROVED")  # type: ignore[arg-type]
    for severity in (None, "severe"):
        pattern = rf"^invalid advisory severity {severity!r}: expected one of low, medium, high, critical$"
        with pytest.raises(InvalidInput, match=pattern):
            rules.security("CVE-1", severity, "m", "1.0.0", "APPROVED")  # type: ignore[arg-type]
    for status in (None, "LIVE"):
        pattern = (
            rf"^invalid status {status!r}: expected one of "
            r"EXPERIMENTAL, TESTING, APPROVED, DEPRECATED, RETIRED, REJECTED$"
        )
        with pytest.raises(InvalidInput, match=pattern):
            rules.security("CVE-1", "low", "m", "1.0.0", status)  # type: ignore[arg-type]
