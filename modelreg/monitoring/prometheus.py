"""Prometheus text exposition format 0.0.4, for the node exporter's textfile collector.

``render(rows)`` takes one row per model version::

    {"model_id": "m", "version": "3.0.1", "status": "APPROVED",
     "latency_avg_ms": 640.0 | None, "latency_p95_ms": 980.0 | None,
     "error_rate": 0.0025 | None, "drift_psi": 0.04 | None,
     "open_alerts": {"warning": 1, "critical": 0}}

and produces these gauge families, each with HELP and TYPE exactly once, in
this order (a family with no samples still gets its HELP/TYPE)::

    modelreg_version_status{model_id,version,status} 1
    modelreg_observed_latency_avg_ms{model_id,version}
    modelreg_observed_latency_p95_ms{model_id,version}
    modelreg_error_rate{model_id,version}              (fraction, 0..1)
    modelreg_drift_psi{model_id,version}
    modelreg_open_alerts{model_id,version,severity}    (info, warning, critical; 0 when absent)

None values produce no sample.  Rows are sorted by model_id, then SemVer
precedence of version, so the output is deterministic.  Label values escape
backslash, double quote and newline; HELP text escapes backslash and newline.
Values: integers as integers, floats with repr(), +Inf/-Inf/NaN spelt the
Prometheus way.

Files are written by ``textfile.write_output`` (atomically, mode 0644: a
scrape never sees half a file, and the node exporter reads it as another user).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from modelreg.errors import InvalidInput
from modelreg.monitoring.rules import parse_severity
from modelreg.policy import SEVERITIES
from modelreg.semver import SemVer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_ROW_KEYS = (
    "model_id",
    "version",
    "status",
    "latency_avg_ms",
    "latency_p95_ms",
    "error_rate",
    "drift_psi",
    "open_alerts",
)

# (metric name, row key, help)
_GAUGES = (
    (
        "modelreg_observed_latency_avg_ms",
        "latency_avg_ms",
        "Observed average latency of the latest observation window, in milliseconds.",
    ),
    (
        "modelreg_observed_latency_p95_ms",
        "latency_p95_ms",
        "Observed p95 latency of the latest observation window, in milliseconds.",
    ),
    ("modelreg_error_rate", "error_rate", "Errors divided by requests in the latest observation window (0..1)."),
    ("modelreg_drift_psi", "drift_psi", "Population stability index of the latest window against the baseline."),
)


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"metric value: expected a number, got {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{name}="{escape_label_value(value)}"' for name, value in pairs) + "}"


def _version_key(version: str) -> tuple:
    try:
        return (0, SemVer.parse(version)._key(), version)
    except InvalidInput:
        return (1, (), version)


def _check_row(row: Any, index: int) -> dict:
    if not isinstance(row, dict):
        raise InvalidInput(f"metrics row {index}: expected a mapping")
    unknown = sorted(set(row) - set(_ROW_KEYS))
    if unknown:
        raise InvalidInput(f"metrics row {index}: unknown key {unknown[0]!r} (expected: {', '.join(_ROW_KEYS)})")
    for key in ("model_id", "version", "status"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise InvalidInput(f"metrics row {index}: {key}: expected a non-empty string")
    alerts = row.get("open_alerts") or {}
    if not isinstance(alerts, dict):
        raise InvalidInput(f"metrics row {index}: open_alerts: expected a mapping severity -> count")
    counts = {severity: 0 for severity in SEVERITIES}
    for severity, count in alerts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInput(f"metrics row {index}: open_alerts[{severity!r}]: expected a non-negative integer")
        counts[parse_severity(severity)] += count
    return {**row, "open_alerts": counts}


def render(rows: list[dict]) -> str:
    checked = [_check_row(row, index) for index, row in enumerate(rows)]
    checked.sort(key=lambda r: (r["model_id"], _version_key(r["version"])))
    seen: set[tuple[str, str]] = set()
    for row in checked:
        ident = (row["model_id"], row["version"])
        if ident in seen:
            raise InvalidInput(f"metrics rows: {ident[0]}@{ident[1]} appears twice")
        seen.add(ident)

    out: list[str] = []

    def family(name: str, help_text: str) -> None:
        out.append(f"# HELP {name} {escape_help(help_text)}")
        out.append(f"# TYPE {name} gauge")

    family("modelreg_version_status", "Lifecycle status of a model version (1 for its current status).")
    for row in checked:
        labels = _labels((("model_id", row["model_id"]), ("version", row["version"]), ("status", row["status"])))
        out.append(f"modelreg_version_status{labels} 1")

    for name, key, help_text in _GAUGES:
        family(name, help_text)
        for row in checked:
            value = row.get(key)
            if value is None:
                continue
            labels = _labels((("model_id", row["model_id"]), ("version", row["version"])))
            out.append(f"{name}{labels} {format_value(value)}")

    family("modelreg_open_alerts", "Open (not resolved) alerts per model version and severity.")
    for row in checked:
        for severity in SEVERITIES:
            labels = _labels((("model_id", row["model_id"]), ("version", row["version"]), ("severity", severity)))
            out.append(f"modelreg_open_alerts{labels} {row['open_alerts'][severity]}")
    return "\n".join(out) + "\n"
