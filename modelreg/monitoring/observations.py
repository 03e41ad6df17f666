"""Parse observation windows (production metrics) from JSON lines or CSV.

One observation per line (JSON lines) or per row (CSV with a header row)::

    {"model": "ms-advanced-reasoning", "version": "3.0.1",
     "window_start": "2026-03-01T10:00:00Z", "window_end": "2026-03-01T11:00:00Z",
     "requests": 1200, "errors": 3, "latency_avg_ms": 640, "latency_p95_ms": 980,
     "cost_usd": 31.2, "sample": [0.12, 0.5, ...]}

Keys
    model (alias model_id; give one, not both)   slug [a-z0-9][a-z0-9._-]{0,63}
    version                                      Semantic Versioning 2.0.0
    window_start, window_end                     ISO 8601 (naive means UTC); end > start
    requests, errors                             integers >= 0, errors <= requests
    latency_avg_ms, latency_p95_ms               finite numbers >= 0
    cost_usd          (optional, null allowed)   finite number >= 0
    sample            (optional, null allowed)   list of finite numbers (drift input),
                                                 at most MAX_SAMPLE values
    consumer          (optional)                 the application the requests came from:
                                                 a new window adds its requests to that
                                                 consumer's usage of the version

Unknown keys, duplicate keys, booleans where numbers are expected, NaN and
Infinity are rejected.  Integral floats (``1200.0``) are accepted as counts.

In CSV the same names are the header; an empty cell is "absent" (allowed
only for cost_usd and sample); ``sample`` is a list separated by ``;`` or
whitespace (``"0.1;0.5;0.7"`` or ``"0.1 0.5 0.7"``).

Parsing never raises for bad *content*: every bad line becomes a
``LineError(line, message)`` with its 1-based physical line number (all the
problems of one line in one message), and good lines are returned.  Blank
lines are skipped.  The same window (``Observation.window_key()``) twice in
one input is an error on the later line.  Only an unknown ``fmt`` raises
(InvalidInput): that is a usage error, not a bad line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelreg.clock import parse_instant
from modelreg.errors import InvalidInput
from modelreg.names import is_consumer
from modelreg.semver import SemVer

SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_COUNT = 2**63 - 1  # fits a signed 64-bit database column
MAX_SAMPLE = 100_000  # values per line

REQUIRED = ("model", "version", "window_start", "window_end", "requests", "errors", "latency_avg_ms", "latency_p95_ms")
OPTIONAL = ("cost_usd", "sample", "consumer")
KNOWN = frozenset(REQUIRED + OPTIONAL + ("model_id",))
FORMATS = ("auto", "jsonl", "json", "csv")


@dataclass
class Observation:
    model_id: str
    version: str
    window_start: datetime
    window_end: datetime
    requests: int
    errors: int
    latency_avg_ms: float
    latency_p95_ms: float
    cost_usd: float | None = None
    sample: list[float] | None = None
    consumer: str | None = None  # the application these requests came from (counted as its usage)
    line: int = field(default=0, compare=False)  # where it was read, for error messages

    def window_key(self) -> tuple[str, str, datetime, datetime]:
        """Identity of the window, for idempotent re-ingest (upsert on this key)."""
        return (self.model_id, self.version, self.window_start, self.window_end)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def duration_s(self) -> float:
        return (self.window_end - self.window_start).total_seconds()


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class _Bad(Exception):
    """One problem with one field (collected, never escapes this module)."""


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"{shown!r}"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# ---------------------------------------------------------------- field checks


def _slug(key: str, value: Any) -> str:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise _Bad(f"{key}: expected a model id slug [a-z0-9][a-z0-9._-]{{0,63}}, got {_describe(value)}")
    return value


def _version(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{key}: expected a Semantic Version string like 3.0.1, got {_describe(value)}")
    try:
        SemVer.parse(value)
    except InvalidInput:
        raise _Bad(
            f"{key}: expected Semantic Versioning MAJOR.MINOR.PATCH[-pre][+build], got {_describe(value)}"
        ) from None
    return value


def _instant(key: str, value: Any) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{key}: expected an ISO 8601 time like 2026-03-01T10:00:00Z, got {_describe(value)}")
    try:
        return parse_instant(value, what=key)
    except (InvalidInput, ValueError, OverflowError):
        raise _Bad(f"{key}: expected an ISO 8601 time like 2026-03-01T10:00:00Z, got {_describe(value)}") from None


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"{key}: expected a non-negative integer, got {_describe(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise _Bad(f"{key}: expected a non-negative integer, got {_describe(value)}")
        value = int(value)
    if value < 0 or value > MAX_COUNT:
        raise _Bad(f"{key}: expected a non-negative integer (at most 2^63-1), got {_describe(value)}")
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"{key}: expected a non-negative number, got {_describe(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise _Bad(f"{key}: expected a finite number, got a number too large") from None
    if not math.isfinite(number):
        raise _Bad(f"{key}: expected a finite number, got {_describe(value)}")
    if number < 0:
        raise _Bad(f"{key}: expected a non-negative number, got {_describe(value)}")
    return number


def _sample(key: str, value: Any) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _Bad(f"{key}: expected a list of numbers or null, got {_describe(value)}")
    if len(value) > MAX_SAMPLE:
        raise _Bad(f"{key}: expected at most {MAX_SAMPLE} values, got {len(value)}")
    out: list[float] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise _Bad(f"{key}[{index}]: expected a finite number, got {_describe(item)}")
        try:
            number = float(item)
        except OverflowError:
            raise _Bad(f"{key}[{index}]: expected a finite number, got a number too large") from None
        if not math.isfinite(number):
            raise _Bad(f"{key}[{index}]: expected a finite number, got {_describe(item)}")
        out.append(number)
    return out


def _build(record: dict[str, Any]) -> Observation:
    """Validate one decoded record; raise _Bad with every problem joined."""
    problems: list[str] = []
    unknown = sorted(k for k in record if k not in KNOWN)
    for key in unknown:
        problems.append(f"unknown key {_describe(key)} (expected: {', '.join(REQUIRED + OPTIONAL)})")
    if "model" in record and "model_id" in record:
        problems.append("give 'model' or its alias 'model_id', not both")
    values: dict[str, Any] = {}
    if "model_id" in record and "model" not in record:
        record = {**record, "model": record["model_id"]}
    checks = {
        "model": _slug,
        "version": _version,
        "window_start": _instant,
        "window_end": _instant,
        "requests": _count,
        "errors": _count,
        "latency_avg_ms": _number,
        "latency_p95_ms": _number,
    }
    missing = [key for key in checks if key not in record]
    if missing:
        problems.append(f"missing required key{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    for key, check in checks.items():
        if key not in record:
            continue
        try:
            values[key] = check(key, record[key])
        except _Bad as bad:
            problems.append(str(bad))
    cost = record.get("cost_usd")
    if cost is not None:
        try:
            values["cost_usd"] = _number("cost_usd", cost)
        except _Bad as bad:
            problems.append(str(bad))
    try:
        values["sample"] = _sample("sample", record.get("sample"))
    except _Bad as bad:
        problems.append(str(bad))
    consumer = record.get("consumer")
    if consumer not in (None, ""):
        if is_consumer(consumer):
            values["consumer"] = consumer
        else:
            problems.append(f"consumer: expected 1 to 128 printable ASCII characters, got {_describe(consumer)}")
    if "window_start" in values and "window_end" in values and values["window_end"] <= values["window_start"]:
        problems.append("window_end: expected a time after window_start")
    if "requests" in values and "errors" in values and values["errors"] > values["requests"]:
        problems.append(f"errors: expected at most requests ({values['requests']}), got {values['errors']}")
    if problems:
        raise _Bad("; ".join(problems))
    return Observation(
        model_id=values["model"],
        version=values["version"],
        window_start=values["window_start"],
        window_end=values["window_end"],
        requests=values["requests"],
        errors=values["errors"],
        latency_avg_ms=values["latency_avg_ms"],
        latency_p95_ms=values["latency_p95_ms"],
        cost_usd=values.get("cost_usd"),
        sample=values.get("sample"),
        consumer=values.get("consumer"),
    )


# ---------------------------------------------------------------- formats


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (finite numbers only)")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _parse_jsonl(lines: list[str]) -> list[tuple[int, dict[str, Any] | str]]:
    records: list[tuple[int, dict[str, Any] | str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
        except RecursionError:
            records.append((number, "invalid JSON: nested too deeply"))
            continue
        except ValueError as exc:  # JSONDecodeError, duplicate key, NaN, int digits limit
            records.append((number, f"invalid JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            records.append((number, f"expected a JSON object, got {_describe(value)}"))
            continue
        records.append((number, value))
    return records


def _csv_cell(key: str, cell: str) -> Any:
    """CSV text -> the JSON-like value the shared validator expects."""
    text = cell.strip()
    if text == "":
        return None
    if key in ("requests", "errors", "latency_avg_ms", "latency_p95_ms", "cost_usd"):
        return _csv_number(key, text)
    if key == "sample":
        parts = [p for p in re.split(r"[;\s]+", text) if p]
        return [_csv_number(f"sample[{i}]", p) for i, p in enumerate(parts)]
    return text


def _csv_number(key: str, text: str) -> Any:
    if re.fullmatch(r"[+-]?\d+", text):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts
            raise _Bad(f"{key}: expected a number, got a number too long") from None
    try:
        number = float(text)
    except ValueError:
        raise _Bad(f"{key}: expected a number, got {_describe(text)}") from None
    if not math.isfinite(number) or not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        raise _Bad(f"{key}: expected a finite number, got {_describe(text)}")
    return number


def _parse_csv(text: str) -> list[tuple[int, dict[str, Any] | str]]:
    records: list[tuple[int, dict[str, Any] | str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    last_line = 0
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if reader.line_num == last_line:  # no progress: give up on the rest
                records.append((start, f"invalid CSV: {exc}"))
                break
            last_line = reader.line_num
            records.append((start, f"invalid CSV: {exc}"))
            continue
        last_line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lstrip("\ufeff") for cell in row]
            problems = []
            for name in header:
                if name not in KNOWN:
                    problems.append(f"unknown column {_describe(name)}")
            seen = set()
            for name in header:
                if name in seen:
                    problems.append(f"duplicate column {name!r}")
                seen.add(name)
            if "model" not in header and "model_id" not in header:
                problems.append("missing column 'model'")
            for name in REQUIRED[1:]:
                if name not in header:
                    problems.append(f"missing column {name!r}")
            if problems:
                records.append(
                    (
                        start,
                        "bad CSV header: "
                        + "; ".join(problems)
                        + f" (expected columns: {', '.join(REQUIRED + OPTIONAL)})",
                    )
                )
                return records  # every row would fail the same way
            continue
        if len(row) != len(header):
            records.append((start, f"expected {len(header)} fields as in the header, got {len(row)}"))
            continue
        record: dict[str, Any] = {}
        problems = []
        for name, cell in zip(header, row):
            try:
                value = _csv_cell(name, cell)
            except _Bad as bad:
                problems.append(str(bad))
                continue
            if value is not None:
                record[name] = value
        if problems:
            records.append((start, "; ".join(problems)))
            continue
        records.append((start, record))
    if header is None and not records:
        return []
    return records


def detect_format(text: str) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    return "jsonl" if stripped.startswith("{") else "csv"


def parse_observations(text: str, fmt: str = "auto") -> tuple[list[Observation], list[LineError]]:
    """Parse observations; return (good observations, errors of bad lines)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"invalid format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if text.startswith("\ufeff"):
        text = text[1:]
    if fmt == "auto":
        stripped = text.lstrip(" \t\r\n")
        if stripped.startswith("["):
            line = text[: len(text) - len(stripped)].count("\n") + 1
            return [], [
                LineError(
                    line,
                    "a JSON array is not supported: expected JSON lines (one object per line) or CSV with a header row",
                )
            ]
        fmt = detect_format(text)
    if fmt in ("jsonl", "json"):
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
        records = _parse_jsonl(lines)
    else:
        records = _parse_csv(text)

    observations: list[Observation] = []
    errors: list[LineError] = []
    first_seen: dict[tuple, int] = {}
    for number, record in records:
        if isinstance(record, str):
            errors.append(LineError(number, record))
            continue
        try:
            observation = _build(record)
        except _Bad as bad:
            errors.append(LineError(number, str(bad)))
            continue
        key = observation.window_key()
        if key in first_seen:
            errors.append(
                LineError(
                    number,
                    f"duplicate window for {observation.model_id}@{observation.version} (first on line {first_seen[key]})",
                )
            )
            continue
        first_seen[key] = number
        observation.line = number
        observations.append(observation)
    return observations, errors
