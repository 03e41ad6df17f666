"""Advisory ranges and severities, pinned by behaviour (issue 17): which
versions a range affects (pre-releases included), and the one-line refusals
that tell an operator what to write instead."""

from __future__ import annotations

import pytest

from modelreg.errors import InvalidInput
from modelreg.version_ranges import affects, parse_advisory_severity, parse_affected

EXPECTED = "expected a PEP 440 specifier set such as '>=3.0.0,<3.0.2'"


@pytest.mark.parametrize(
    "spec, version, hit",
    [
        (">=3.0.0,<3.0.2", "3.0.1", True),
        (">=3.0.0,<3.0.2", "3.0.1-rc.1", True),  # a pre-release inside the range is affected
        (">=3.0.0,<3.0.2", "3.0.2", False),
        (">=3.0.0", "3.0.0-rc.1", False),  # a pre-release comes before its release
        ("<3.0.2rc999", "3.0.2-rc.1", True),
        ("<3.0.2rc999", "3.0.2", False),
        (">=0", "0.0.1-alpha", True),
    ],
)
def test_which_versions_a_range_affects(spec, version, hit):
    assert affects(spec, version) is hit
    assert affects(parse_affected(spec), version) is hit


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            "",
            "invalid affected range: empty (expected a PEP 440 specifier set such as '>=3.0.0,<3.0.2'; '>=0' for every version)",
        ),
        (
            "  ",
            "invalid affected range: empty (expected a PEP 440 specifier set such as '>=3.0.0,<3.0.2'; '>=0' for every version)",
        ),
        ("3.0.1", f"invalid affected range '3.0.1': {EXPECTED}; did you mean '==3.0.1'?"),
        ("3.0.1-beta.x.7", f"invalid affected range '3.0.1-beta.x.7': {EXPECTED}; did you mean '==3.0.1b7'?"),
        ("3.0", f"invalid affected range '3.0': {EXPECTED}; did you mean '==3.0'?"),  # PEP 440, not SemVer
        ("abc", f"invalid affected range 'abc': {EXPECTED}"),
    ],
)
def test_a_bad_range_is_refused_with_what_to_write(spec, message):
    with pytest.raises(InvalidInput) as refused:
        parse_affected(spec)
    assert str(refused.value) == message


@pytest.mark.parametrize("text, value", [("high", "high"), (" Critical\n", "critical"), ("LOW", "low")])
def test_severities_in_any_case(text, value):
    assert parse_advisory_severity(text) == value


@pytest.mark.parametrize("text", ["severe", "", 3, None, ["high"]])
def test_other_severities_are_refused_naming_the_four(text):
    with pytest.raises(InvalidInput) as refused:
        parse_advisory_severity(text)
    assert str(refused.value) == f"invalid advisory severity {text!r}: expected one of low, medium, high, critical"
