"""Pure (database-free) alerting pieces: parsing, PSI, rules, advisories,
signing, Prometheus output, and webhook delivery against a real local receiver."""

from __future__ import annotations

import json
import math
import os
import random
import re
import stat
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelreg import version_ranges as advisories
from modelreg.errors import InvalidInput
from modelreg.monitoring import drift, prometheus, rules, signing, webhooks
from modelreg.monitoring.observations import LineError, Observation, parse_observations
from modelreg.policy import Webhook, parse_webhooks
from modelreg.textfile import write_atomic

try:
    from webhook_receiver import WebhookReceiver
except ImportError:  # tests/ is a package
    from tests.webhook_receiver import WebhookReceiver

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def record(**overrides):
    base = {
        "model": "ms-advanced-reasoning",
        "version": "3.0.1",
        "window_start": "2026-03-01T10:00:00Z",
        "window_end": "2026-03-01T11:00:00Z",
        "requests": 1200,
        "errors": 3,
        "latency_avg_ms": 640,
        "latency_p95_ms": 980,
        "cost_usd": 31.2,
        "sample": [0.1, 0.5],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def jl(*records) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


def obs(requests=1000, *, start=T0, hours=1, errors=0, avg=100.0, p95=200.0, model="m", version="1.0.0"):
    return Observation(model, version, start, start + timedelta(hours=hours), requests, errors, avg, p95, None, None)


# ======================================================================= parsing


def test_parse_good_jsonl_line():
    good, bad = parse_observations(jl(record()))
    assert bad == []
    (o,) = good
    assert o.model_id == "ms-advanced-reasoning" and o.version == "3.0.1"
    assert o.window_start == T0 and o.window_end == T0 + timedelta(hours=1)
    assert (o.requests, o.errors, o.latency_avg_ms, o.latency_p95_ms, o.cost_usd) == (1200, 3, 640.0, 980.0, 31.2)
    assert o.sample == [0.1, 0.5]
    assert o.window_key() == ("ms-advanced-reasoning", "3.0.1", T0, T0 + timedelta(hours=1))
    assert o.error_rate == pytest.approx(3 / 1200)


def test_optional_keys_and_model_id_alias():
    r = record(cost_usd=..., sample=...)
    r["model_id"] = r.pop("model")
    good, bad = parse_observations(jl(r, record(cost_usd=None, sample=None, window_start="2026-03-01T09:00:00Z")))
    assert bad == [] and len(good) == 2
    assert good[0].cost_usd is None and good[0].sample is None


BAD_CASES = [
    (record(model="Bad Model"), "model"),
    (record(version="3.0"), "version"),
    (record(window_start="yesterday"), "window_start"),
    (record(window_end="2026-03-01T09:00:00Z"), "window_end"),
    (record(window_end="2026-03-01T10:00:00Z"), "window_end"),
    (record(requests=-1), "requests"),
    (record(requests=1.5), "requests"),
    (record(requests=True), "requests"),
    (record(requests="10"), "requests"),
    (record(errors=2000), "errors"),
    (record(latency_avg_ms=-0.1), "latency_avg_ms"),
    (record(latency_p95_ms="fast"), "latency_p95_ms"),
    (record(cost_usd=-1), "cost_usd"),
    (record(sample=[1, "x"]), "sample[1]"),
    (record(sample="1,2"), "sample"),
    (record(extra=1), "unknown key 'extra'"),
    (record(requests=...), "missing required key requests"),
    ('{"model": "m", "requests": NaN}', "NaN"),
    ('{"latency_avg_ms": 1e999}', "latency_avg_ms"),
    ('{"model": "m", "model": "n"}', "duplicate key"),
    ("[1, 2]", "expected a JSON object"),
    ("{not json", "invalid JSON"),
]


@pytest.mark.parametrize("bad,needle", BAD_CASES)
def test_bad_lines_are_reported_with_line_numbers_and_key(bad, needle):
    text = jl(record(), "", bad, record(window_start="2026-03-01T08:00:00Z", window_end="2026-03-01T09:00:00Z"))
    good, errors = parse_observations(text)
    assert len(good) == 2, errors  # good lines are kept, the blank one skipped
    assert len(errors) == 1
    assert errors[0].line == 3
    assert needle in errors[0].message
    assert str(errors[0]).startswith("line 3: ")


def test_floats_rejected_where_integers_needed_but_integral_floats_accepted():
    good, bad = parse_observations(jl(record(requests=1200.0, errors=3.0)))
    assert bad == [] and good[0].requests == 1200 and isinstance(good[0].requests, int)


def test_duplicate_window_in_one_file_is_reported():
    good, bad = parse_observations(jl(record(), record(requests=5)))
    assert len(good) == 1 and good[0].requests == 1200
    assert bad == [LineError(2, "duplicate window for ms-advanced-reasoning@3.0.1 (first on line 1)")]


def test_several_problems_on_one_line_are_all_named():
    (_, [error]) = parse_observations(jl(record(model="X", requests=-1, foo=1)))
    assert "model" in error.message and "requests" in error.message and "'foo'" in error.message


def test_crlf_and_bom():
    good, bad = parse_observations("\ufeff" + jl(record()).replace("\n", "\r\n"))
    assert bad == [] and len(good) == 1


def test_json_array_is_refused_clearly():
    good, bad = parse_observations("\n[" + json.dumps(record()) + "]")
    assert good == [] and bad[0].line == 2 and "JSON lines" in bad[0].message


def test_unknown_format_is_usage_error():
    with pytest.raises(InvalidInput):
        parse_observations("", fmt="xml")


CSV_HEADER = "model,version,window_start,window_end,requests,errors,latency_avg_ms,latency_p95_ms,cost_usd,sample\n"


def test_csv_good_and_bad_rows():
    text = (
        CSV_HEADER
        + "m,1.0.0,2026-03-01T10:00:00Z,2026-03-01T11:00:00Z,100,1,50,90,0.5,0.1;0.2;0.3\n"
        + "\n"
        + 'm,1.0.0,2026-03-01T11:00:00Z,2026-03-01T12:00:00Z,100,1,50,90,,"1 2  3"\n'
        + "m,1.0.0,2026-03-01T12:00:00Z,2026-03-01T13:00:00Z,many,1,50,90,,\n"
        + "m,1.0.0,2026-03-01T13:00:00Z\n"
        + "m,1.0.0,2026-03-01T14:00:00Z,2026-03-01T15:00:00Z,100,1,50,90,nan,\n"
    )
    good, bad = parse_observations(text)
    assert [o.sample for o in good] == [[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]]
    assert good[1].cost_usd is None
    assert [(e.line, e.message.split(":")[0]) for e in bad] == [
        (5, "requests"),
        (6, "expected 10 fields as in the header, got 3"),
        (7, "cost_usd"),
    ]
    assert parse_observations(text, fmt="csv") == (good, bad)


def test_csv_minimal_columns_and_model_id_alias():
    text = "model_id,version,window_start,window_end,requests,errors,latency_avg_ms,latency_p95_ms\r\nm,2.0.0-rc.1,2026-03-01,2026-03-02,5,0,1.5,2\r\n"
    good, bad = parse_observations(text)
    assert bad == [] and good[0].version == "2.0.0-rc.1" and good[0].cost_usd is None


def test_csv_bad_header_reported_once():
    good, bad = parse_observations("model,version,when\nm,1.0.0,x\nm,1.0.0,y\n")
    assert good == [] and len(bad) == 1 and bad[0].line == 1
    assert "unknown column 'when'" in bad[0].message and "missing column 'window_start'" in bad[0].message


def test_jsonl_forced_on_csv_text_reports_every_line():
    good, bad = parse_observations("a,b\nc,d\n", fmt="jsonl")
    assert good == [] and [e.line for e in bad] == [1, 2]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400), st.sampled_from(["auto", "jsonl", "csv"]))
def test_garbage_never_raises(text, fmt):
    good, bad = parse_observations(text, fmt)
    assert all(isinstance(e, LineError) and e.line >= 1 and e.message for e in bad)
    assert all(isinstance(o, Observation) for o in good)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(record()) + ["model_id", "x"]), json_values, max_size=12))
def test_garbage_records_never_raise(fields):
    line = json.dumps({**record(), **fields})  # may contain NaN/Infinity: must be rejected, not raise
    good, bad = parse_observations(line, "jsonl")
    assert len(good) + len(bad) == 1
    for o in good:
        assert o.window_end > o.window_start and 0 <= o.errors <= o.requests
        assert all(math.isfinite(x) for x in [o.latency_avg_ms, o.latency_p95_ms, o.cost_usd or 0, *(o.sample or [])])


csv_cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "1",
            "-1",
            "1e400",
            "nan",
            "inf",
            "1.5",
            "9" * 5000,
            "2026-03-01",
            "0001-01-01T00:00:00+01:00",
            "1.0.0",
            "m",
            '"',
            "1;2 x",
        ]
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(csv_cells, min_size=8, max_size=11), max_size=4))
def test_garbage_csv_rows_never_raise(rows):
    good, bad = parse_observations(CSV_HEADER + "\n".join(",".join(r) for r in rows), "csv")
    assert all(isinstance(e, LineError) for e in bad)


def test_out_of_range_times_are_line_errors():
    good, bad = parse_observations(jl(record(window_start="0001-01-01T00:00:00+01:00")))
    assert good == [] and "window_start" in bad[0].message


def test_deep_nesting_does_not_raise():
    good, bad = parse_observations("{" + '"a":[' * 100000 + "\n")
    assert good == [] and len(bad) == 1


# ======================================================================= drift / PSI


def test_psi_no_shift_stays_below_warning():
    rng = random.Random(1234)
    for _ in range(5):
        a = [rng.gauss(0, 1) for _ in range(2000)]
        b = [rng.gauss(0, 1) for _ in range(2000)]
        psi = drift.population_stability_index(a, b)
        assert 0 <= psi <= 0.1
        assert drift.drift_severity(psi) is None


def test_psi_two_sigma_shift_is_critical():
    rng = random.Random(42)
    a = [rng.gauss(0, 1) for _ in range(2000)]
    b = [rng.gauss(2, 1) for _ in range(2000)]
    psi = drift.population_stability_index(a, b)
    assert psi > 0.25
    assert drift.drift_severity(psi) == "critical"


def test_psi_moderate_shift_is_warning_and_identical_is_zero():
    rng = random.Random(7)
    a = [rng.gauss(0, 1) for _ in range(5000)]
    b = [rng.gauss(0.5, 1) for _ in range(5000)]
    assert drift.drift_severity(drift.population_stability_index(a, b)) == "warning"
    assert drift.population_stability_index(a, a) == 0.0


def test_psi_small_samples_are_skipped_and_bad_input_rejected():
    assert drift.population_stability_index([1.0] * 499, [1.0] * 1000) is None
    assert drift.population_stability_index([1.0] * 1000, [1.0] * 10) is None
    assert drift.population_stability_index([1.0, 2.0], [5.0], min_baseline=1, min_latest=1) > 0.25
    assert drift.drift_severity(None) is None
    with pytest.raises(InvalidInput):
        drift.population_stability_index([1.0] * 600, [float("nan")] * 600)
    with pytest.raises(InvalidInput):
        drift.population_stability_index([1.0] * 600, [1.0] * 600, bins=1)


def test_psi_tied_baseline_and_empty_bins_are_finite():
    base = [0.0] * 900 + [1.0] * 100
    psi = drift.population_stability_index(base, [5.0] * 600)
    assert math.isfinite(psi) and psi > 0.25


def test_severity_thresholds():
    assert drift.drift_severity(0.1) is None
    assert drift.drift_severity(0.1001) == "warning"
    assert drift.drift_severity(0.25) == "warning"
    assert drift.drift_severity(0.2501) == "critical"


# ======================================================================= rules


def test_severity_helpers():
    assert rules.severity_rank("info") < rules.severity_rank("warning") < rules.severity_rank("critical")
    assert rules.severity_rank(" Critical ") == 2
    assert rules.at_least("critical", "warning") and not rules.at_least("info", "warning")
    for bad in ["high", "", None, 3]:
        with pytest.raises(InvalidInput):
            rules.severity_rank(bad)


def test_latency_regression_levels():
    assert rules.latency_regression("m", "1.0.0", 100, 200, obs(avg=100, p95=200)) == []
    (c,) = rules.latency_regression("m", "1.0.0", 100, 200, obs(avg=120, p95=150))
    assert (c.kind, c.severity, c.dedup_key) == ("latency", "warning", "latency:m@1.0.0")
    assert "avg 120 ms" in c.message
    (c,) = rules.latency_regression("m", "1.0.0", 100, 200, obs(avg=120, p95=301))
    assert c.severity == "critical" and "p95 301 ms" in c.message
    (c,) = rules.latency_regression("m", "1.0.0", 100, None, obs(avg=151, p95=99999))
    assert c.severity == "critical" and "p95" not in c.message
    # dedup key is independent of values and severity
    assert rules.latency_regression("m", "1.0.0", 100, 200, obs(avg=500))[0].dedup_key == c.dedup_key
    with pytest.raises(InvalidInput):
        rules.latency_regression("m", "1.0.0", -1, 200, obs())


def test_error_rate_breach():
    assert rules.error_rate_breach("m", "1.0.0", 0.01, obs(1000, errors=10)) == []
    (c,) = rules.error_rate_breach("m", "1.0.0", 0.01, obs(1000, errors=11))
    assert (c.kind, c.severity, c.dedup_key) == ("error_rate", "warning", "error_rate:m@1.0.0")
    assert "1.10%" in c.message
    assert rules.error_rate_breach("m", "1.0.0", 0.01, obs(1000, errors=60))[0].severity == "critical"
    assert rules.error_rate_breach("m", "1.0.0", 0.01, obs(10, errors=5)) == []  # too few requests
    assert rules.error_rate_breach("m", "1.0.0", 0.01, obs(0)) == []
    with pytest.raises(InvalidInput):
        rules.error_rate_breach("m", "1.0.0", 5, obs())


def series(counts, hours=1):
    return [obs(c, start=T0 + timedelta(hours=i * hours), hours=hours) for i, c in enumerate(counts)]


def test_usage_anomaly():
    rng = random.Random(3)
    trailing = [int(rng.gauss(1000, 30)) for _ in range(24)]
    assert rules.usage_anomaly("m", "1.0.0", series(trailing + [1040])) == []
    (c,) = rules.usage_anomaly("m", "1.0.0", series(trailing + [1600]))
    assert (c.kind, c.severity, c.dedup_key) == ("usage", "warning", "usage:m@1.0.0")
    assert "spike" in c.message
    assert rules.usage_anomaly("m", "1.0.0", series(trailing + [5000]))[0].severity == "critical"
    (c,) = rules.usage_anomaly("m", "1.0.0", series(trailing + [0]))
    assert c.severity == "critical" and "drop" in c.message
    # order of input does not matter
    assert rules.usage_anomaly("m", "1.0.0", list(reversed(series(trailing + [0]))))[0].severity == "critical"


def test_usage_flat_series_does_not_alert_on_noise():
    assert rules.usage_anomaly("m", "1.0.0", series([1000] * 12 + [1010])) == []
    assert rules.usage_anomaly("m", "1.0.0", series([1000, 1001] * 6 + [1100])) == []
    assert rules.usage_anomaly("m", "1.0.0", series([1000] * 12 + [3000]))[0].severity == "critical"


def test_usage_needs_enough_windows_and_normalises_by_duration():
    assert rules.usage_anomaly("m", "1.0.0", series([1000] * 5 + [9000])) == []
    assert rules.usage_anomaly("m", "1.0.0", series([0] * 10 + [50])) == []
    windows = series([1000] * 10)
    windows.append(obs(2000, start=windows[-1].window_end, hours=2))  # same rate, longer window
    assert rules.usage_anomaly("m", "1.0.0", windows) == []
    other = [obs(1, start=T0 + timedelta(hours=20 + i), model="other") for i in range(3)]
    assert rules.usage_anomaly("m", "1.0.0", series([1000] * 10) + other) == []


def test_drift_rule():
    rng = random.Random(9)
    base = [rng.gauss(0, 1) for _ in range(2000)]
    assert rules.drift("m", "1.0.0", base, [rng.gauss(0, 1) for _ in range(2000)]) == []
    (c,) = rules.drift("m", "1.0.0", base, [rng.gauss(2, 1) for _ in range(2000)])
    assert (c.kind, c.severity, c.dedup_key) == ("drift", "critical", "drift:m@1.0.0")
    assert rules.drift("m", "1.0.0", base, [5.0] * 10) == []  # too small: skipped


def test_security_rule():
    (c,) = rules.security("CVE-2026-1234", "high", "m", "3.0.1", "APPROVED")
    assert (c.kind, c.severity, c.dedup_key) == ("security", "critical", "security:CVE-2026-1234:m@3.0.1")
    assert rules.security("CVE-2026-1234", "low", "m", "3.0.1", "DEPRECATED")[0].severity == "critical"
    (c,) = rules.security("CVE-2026-1234", "high", "m", "3.0.1", "TESTING")
    assert c.severity == "info" and "blocked" in c.message
    assert rules.security("CVE-2026-1234", "high", "m", "3.0.1", "RETIRED") == []
    with pytest.raises(InvalidInput):
        rules.security("CVE-1", "catastrophic", "m", "3.0.1", "APPROVED")
    with pytest.raises(InvalidInput):
        rules.security("CVE-1", "high", "m", "3.0.1", "LIVE")


# ======================================================================= advisories


@pytest.mark.parametrize(
    "spec,version,expected",
    [
        (">=3.0.0,<3.0.2", "3.0.0", True),
        (">=3.0.0,<3.0.2", "3.0.1", True),
        (">=3.0.0,<3.0.2", "3.0.2", False),
        (">=3.0.0,<3.0.2", "2.9.9", False),
        (">=3.0.0,<3.0.2", "3.0.1+build.5", True),
        (">=3.0.0,<3.0.2", "3.0.1-rc.1", True),
        (">=3.0.0,<3.0.2", "3.0.2-rc.1", False),  # PEP 440: <V excludes V's pre-releases
        (">=3.0.0,<3.0.2rc999", "3.0.2-rc.1", True),
        (">=3.0.0,<3.0.2rc999", "3.0.2", False),
        (">=3.0.0", "3.0.0-rc.1", False),  # pre-release precedes its release
        (">=3.0.0rc0", "3.0.0-rc.1", True),
        ("==3.0.1-rc.1", "3.0.1-rc.1", True),
        ("==3.0.1-beta.2", "3.0.1-beta.2", True),
        ("==3.0.1a1", "3.0.1-alpha.1", True),
        (">=3.0.0,<3.0.1a0", "3.0.1-snapshot", True),  # other pre-releases map to .dev0, before alphas
        ("<3.0.1", "3.0.1-snapshot", False),  # <V excludes every pre-release of V
        (">=0", "0.0.1-alpha", True),
        ("~=3.0", "3.9.0", True),
    ],
)
def test_affects(spec, version, expected):
    assert advisories.affects(spec, version) is expected


@pytest.mark.parametrize("spec", ["", "   ", "3.0.1", "latest", ">=3.0.0;<4", ">>3"])
def test_bad_affected_specs(spec):
    with pytest.raises(InvalidInput) as info:
        advisories.parse_affected(spec)
    assert "affected range" in info.value.message
    if spec == "3.0.1":
        assert "==3.0.1" in info.value.message


def test_affects_rejects_non_semver_version():
    with pytest.raises(InvalidInput):
        advisories.affects(">=1", "1.0")


# ======================================================================= signing


def test_sign_and_verify():
    body = b'{"a":1}'
    header = signing.sign(body, "s3cret")
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", header)
    assert header == "sha256=" + __import__("hmac").new(b"s3cret", body, "sha256").hexdigest()
    assert signing.verify(body, "s3cret", header)
    assert signing.verify(body, "s3cret", header.encode())
    assert not signing.verify(body + b" ", "s3cret", header)
    assert not signing.verify(body, "other", header)
    assert not signing.verify(body, "s3cret", None)
    assert not signing.verify(body, "s3cret", "sha256=ü")
    assert not signing.verify(body, "", header)
    with pytest.raises(InvalidInput):
        signing.sign(body, "")


# ======================================================================= prometheus

SAMPLE_LINE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r'\{(?P<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\}'
    r" (?P<value>[-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|Inf|NaN))$"
)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def parse_exposition(text: str):
    """A strict little parser of text format 0.0.4; returns {(name, labels): value}."""
    assert text.endswith("\n")
    samples, helped, typed, seen_families = {}, set(), set(), []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in helped, f"HELP twice for {name}"
            helped.add(name)
            seen_families.append(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in typed and kind == "gauge"
            typed.add(name)
        else:
            match = SAMPLE_LINE.match(line)
            assert match, f"bad sample line {line!r}"
            name = match["name"]
            assert name == seen_families[-1], "samples of a family must be contiguous, after its HELP/TYPE"
            labels = tuple((k, unescape(v)) for k, v in LABEL.findall(match["labels"]))
            key = (name, labels)
            assert key not in samples, f"duplicate series {key}"
            samples[key] = float(match["value"].replace("Inf", "inf").replace("NaN", "nan"))
    assert helped == typed
    return samples


def test_prometheus_render_round_trips():
    rows = [
        {
            "model_id": "m",
            "version": "1.10.0",
            "status": "APPROVED",
            "latency_avg_ms": 640.5,
            "latency_p95_ms": 980,
            "error_rate": 0.0025,
            "drift_psi": 0.04,
            "open_alerts": {"warning": 2, "critical": 1},
        },
        {
            "model_id": "m",
            "version": "1.2.0",
            "status": "DEPRECATED",
            "latency_avg_ms": None,
            "latency_p95_ms": None,
            "error_rate": None,
            "drift_psi": None,
            "open_alerts": {},
        },
        {"model_id": 'we"ird\\id\nx', "version": "2.0.0-rc.1", "status": "TESTING", "drift_psi": float("inf")},
    ]
    text = prometheus.render(rows)
    assert text == prometheus.render(list(reversed(rows)))  # deterministic
    samples = parse_exposition(text)
    assert samples[("modelreg_version_status", (("model_id", "m"), ("version", "1.10.0"), ("status", "APPROVED")))] == 1
    assert samples[("modelreg_observed_latency_avg_ms", (("model_id", "m"), ("version", "1.10.0")))] == 640.5
    assert samples[("modelreg_observed_latency_p95_ms", (("model_id", "m"), ("version", "1.10.0")))] == 980
    assert samples[("modelreg_error_rate", (("model_id", "m"), ("version", "1.10.0")))] == 0.0025
    assert samples[("modelreg_open_alerts", (("model_id", "m"), ("version", "1.10.0"), ("severity", "critical")))] == 1
    assert samples[("modelreg_open_alerts", (("model_id", "m"), ("version", "1.2.0"), ("severity", "info")))] == 0
    assert samples[("modelreg_drift_psi", (("model_id", 'we"ird\\id\nx'), ("version", "2.0.0-rc.1")))] == math.inf
    assert ("modelreg_observed_latency_avg_ms", (("model_id", "m"), ("version", "1.2.0"))) not in samples
    # SemVer order within a model: 1.2.0 before 1.10.0
    lines = [line for line in text.splitlines() if line.startswith('modelreg_version_status{model_id="m"')]
    assert "1.2.0" in lines[0] and "1.10.0" in lines[1]


def test_prometheus_empty_and_invalid():
    assert parse_exposition(prometheus.render([])) == {}
    row = {"model_id": "m", "version": "1.0.0", "status": "APPROVED"}
    with pytest.raises(InvalidInput):
        prometheus.render([row, dict(row)])
    with pytest.raises(InvalidInput):
        prometheus.render([{**row, "bogus": 1}])
    with pytest.raises(InvalidInput):
        prometheus.render([{**row, "open_alerts": {"fatal": 1}}])


def test_write_atomic(tmp_path):
    target = tmp_path / "modelreg.prom"
    write_atomic(target, "a 1\n", mode=0o644)
    write_atomic(target, "b 2\n", mode=0o644)
    assert target.read_text() == "b 2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["modelreg.prom"]  # no temp files left
    with pytest.raises(InvalidInput):
        write_atomic(tmp_path / "missing" / "x.prom", "", mode=0o644)


# ======================================================================= webhooks

SECRET = "canary-7f3a9c1e-do-not-leak"
ENV = {"MODELREG_WEBHOOK_SECRET": SECRET}
PAYLOAD = {
    "event": "alert",
    "alert": {
        "id": 7,
        "kind": "latency",
        "severity": "critical",
        "model_id": "m",
        "version": "1.0.0",
        "message": "slow ✓",
        "first_seen": T0,
    },
}


def target(url, min_severity="warning"):
    return Webhook(url, "MODELREG_WEBHOOK_SECRET", min_severity)


def assert_no_leak(outcome):
    assert SECRET not in repr(outcome) and SECRET not in str(outcome.error)


def test_webhook_delivers_signed_compact_sorted_json():
    with WebhookReceiver(secret=SECRET, script=[200]) as rx:
        outcome = webhooks.deliver(target(rx.url), PAYLOAD, environ=ENV)
    assert outcome == webhooks.DeliveryOutcome(True, 1, 200, None)
    (req,) = rx.requests
    assert req.method == "POST" and req.path == "/hook"
    assert req.signature_ok
    assert signing.verify(req.body, SECRET, req.headers["X-Modelreg-Signature"])
    assert req.headers["Content-Type"] == "application/json"
    assert abs(int(req.headers["X-Modelreg-Timestamp"]) - time.time()) < 60
    assert (
        req.body == json.dumps(json.loads(req.body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert json.loads(req.body)["alert"]["first_seen"] == "2026-03-01T10:00:00Z"
    assert SECRET.encode() not in req.body


def test_webhook_retries_5xx_then_succeeds():
    with WebhookReceiver(secret=SECRET, script=[500, 500, 200]) as rx:
        started = time.monotonic()
        outcome = webhooks.deliver(target(rx.url), PAYLOAD, environ=ENV, backoff_s=0.05)
        elapsed = time.monotonic() - started
    assert outcome.ok and outcome.attempts == 3 and outcome.status == 200
    assert len(rx.requests) == 3 and all(r.signature_ok for r in rx.requests)
    assert len({r.headers["X-Modelreg-Delivery"] for r in rx.requests}) == 1
    assert len({r.body for r in rx.requests}) == 1
    assert elapsed >= 0.05 + 0.1  # exponential backoff slept


def test_webhook_gives_up_after_attempts_on_5xx():
    with WebhookReceiver(secret=SECRET, script=[503]) as rx:
        outcome = webhooks.deliver(target(rx.url), PAYLOAD, environ=ENV, attempts=2, backoff_s=0.01)
    assert outcome == webhooks.DeliveryOutcome(False, 2, 503, "HTTP 503")
    assert len(rx.requests) == 2


def test_webhook_does_not_retry_4xx_nor_follow_redirects():
    with WebhookReceiver(secret=SECRET, script=[400]) as rx:
        outcome = webhooks.deliver(target(rx.url), PAYLOAD, environ=ENV, backoff_s=0.01)
    assert (outcome.ok, outcome.attempts, outcome.status) == (False, 1, 400) and len(rx.requests) == 1
    with WebhookReceiver(secret=SECRET, script=[("redirect", 307, "/elsewhere"), 200]) as rx:
        outcome = webhooks.deliver(target(rx.url), PAYLOAD, environ=ENV, backoff_s=0.01)
    assert (outcome.ok, outcome.attempts, outcome.status) == (False, 1, 307)
    assert "redirect" in outcome.error and [r.path for r in rx.requests] == ["/hook"]


def test_webhook_timeout_ends_promptly_and_does_not_leak():
    with WebhookReceiver(secret=SECRET, script=[("hang", 30)]) as rx:
        started = time.monotonic()
        outcome = webhooks.deliver(target(rx.url), PAYLOAD, environ=ENV, timeout=0.3, attempts=2, backoff_s=0.05)
        elapsed = time.monotonic() - started
    assert not outcome.ok and outcome.attempts == 2 and outcome.status is None
    assert "timed out" in outcome.error
    assert elapsed < 3
    assert all(r.signature_ok for r in rx.requests)
    assert_no_leak(outcome)


def test_webhook_slow_drip_receiver_is_cut_off_at_the_total_deadline():
    # One byte of the status line every 0.2 s: every read finishes well inside
    # any per-read timeout, so only a deadline per attempt ends the delivery.
    with WebhookReceiver(secret=SECRET, script=[("drip", 0.2)]) as rx:
        started = time.monotonic()
        outcome = webhooks.deliver(target(rx.url), PAYLOAD, environ=ENV, timeout=1.0, attempts=2, backoff_s=0.05)
        elapsed = time.monotonic() - started
    assert not outcome.ok and outcome.attempts == 2 and "timed out" in outcome.error
    assert elapsed < 4, elapsed  # 2 attempts x 1 s deadline (+ backoff); the drip alone would take 8 s each
    assert_no_leak(outcome)


def test_webhook_connection_refused_is_retried_and_reported():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = webhooks.deliver(target(f"http://127.0.0.1:{port}/hook"), PAYLOAD, environ=ENV, backoff_s=0.01)
    assert not outcome.ok and outcome.attempts == 3 and outcome.status is None
    assert "ConnectError" in outcome.error
    assert_no_leak(outcome)


def test_webhook_missing_secret_names_variable_and_sends_nothing(caplog):
    with WebhookReceiver(secret=SECRET) as rx:
        outcome = webhooks.deliver(target(rx.url), PAYLOAD, environ={})
        empty = webhooks.deliver(target(rx.url), PAYLOAD, environ={"MODELREG_WEBHOOK_SECRET": ""})
    assert rx.requests == []
    assert not outcome.ok and outcome.attempts == 0 and "MODELREG_WEBHOOK_SECRET" in outcome.error
    assert not empty.ok and "MODELREG_WEBHOOK_SECRET" in empty.error


def test_webhook_secret_never_logged(caplog):
    caplog.set_level("DEBUG")
    with WebhookReceiver(secret=SECRET, script=[500, 200]) as rx:
        webhooks.deliver(target(rx.url + "?token=abc"), PAYLOAD, environ=ENV, backoff_s=0.01)
    assert SECRET not in caplog.text  # all loggers, httpx/httpcore DEBUG included
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("modelreg")]
    assert ours and not any("token=abc" in m for m in ours)  # our logs show the URL without its query


def test_webhook_bad_payload_is_an_outcome_not_an_exception():
    outcome = webhooks.deliver(target("http://127.0.0.1:9/x"), {"x": float("nan")}, environ=ENV)
    assert not outcome.ok and outcome.attempts == 0 and "JSON" in outcome.error


def test_webhook_targets_from_the_policy_document():
    (t,) = parse_webhooks([{"url": "https://hooks.example/x", "secret_env": "S", "min_severity": "critical"}])
    assert t.min_severity == "critical" and t.events == ("*",) and t.wants_event("version.approved")
    assert parse_webhooks([]) == ()
    assert parse_webhooks([{"url": "https://h/x", "secret_env": "S"}])[0].min_severity == "warning"
    for bad, needle in [
        ([{"url": "ftp://h/x", "secret_env": "S"}], "url"),
        ([{"url": "https://h/x"}], "secret_env"),
        ([{"url": "https://h/x", "secret_env": "S", "secret": "x"}], "unknown key 'secret'"),
        ([{"url": "https://h/x", "secret_env": "S", "min_severity": "loud"}], "severity"),
        ([{"url": "https://h/x", "secret_env": "S", "events": ["version.eaten"]}], "events"),
        ({"url": "https://h/x"}, "array"),
    ]:
        with pytest.raises(InvalidInput) as info:
            parse_webhooks(bad)
        assert needle in info.value.message


def test_pure_monitoring_modules_import_no_cli_or_database_modules():
    import subprocess
    import sys

    code = (
        "import sys; import modelreg.monitoring.observations, modelreg.monitoring.drift, modelreg.monitoring.rules, "
        "modelreg.version_ranges, modelreg.monitoring.signing, modelreg.monitoring.webhooks, "
        "modelreg.monitoring.prometheus; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'sqlmodel', 'sqlalchemy', 'httpx')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__))
    )
    assert result.returncode == 0, result.stdout + result.stderr
