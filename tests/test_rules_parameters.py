"""A parameter's default lies within its bounds: at each bound it is accepted,
just below or above it refused (issue 17: only random draws ever tried a
default below its range). Checked where a manifest is parsed, where the
library registers, and on the command line."""

from __future__ import annotations

import pytest
from conftest import register_flags

from modelreg.errors import InvalidInput
from modelreg.manifest import parse_param_flag, parse_version_spec

# (parameter spec, accepted?)
CASES = [
    # range [0, 1]: at, between, below and above each bound
    ({"default": 0, "range": [0, 1]}, True),
    ({"default": 1, "range": [0, 1]}, True),
    ({"default": 0.5, "range": [0, 1]}, True),
    ({"default": -0.001, "range": [0, 1]}, False),
    ({"default": -1, "range": [0, 1]}, False),
    ({"default": 1.001, "range": [0, 1]}, False),
    ({"default": 2, "range": [0, 1]}, False),
    # negative and degenerate ranges
    ({"default": -5, "range": [-10, -5]}, True),
    ({"default": -10, "range": [-10, -5]}, True),
    ({"default": -10.5, "range": [-10, -5]}, False),
    ({"default": -4.5, "range": [-10, -5]}, False),
    ({"default": 3, "range": [3, 3]}, True),
    ({"default": 2.999, "range": [3, 3]}, False),
    ({"default": 3.001, "range": [3, 3]}, False),
    ({"default": 0.5, "range": [1, 0]}, False),  # low above high
    # max: at, below and above it (no lower bound)
    ({"default": 2048, "max": 2048}, True),
    ({"default": 2047, "max": 2048}, True),
    ({"default": -3, "max": 2048}, True),
    ({"default": 2049, "max": 2048}, False),
    ({"default": 2048.5, "max": 2048}, False),
    ({"default": 0, "max": 0}, True),
    ({"default": 0.001, "max": 0}, False),
    # no bound at all
    ({"default": -1e9}, True),
    # malformed
    ({"default": 0.5, "range": [0]}, False),
    ({"default": 0.5, "range": [0, 1], "max": 1}, False),
    ({"range": [0, 1]}, False),
    ({"default": True, "range": [0, 1]}, False),
    ({"default": 0.5, "min": 0}, False),
]


def manifest(parameter: dict) -> dict:
    return {
        "provider": "p",
        "modelId": "m",
        "version": "1.0.0",
        "capabilities": ["c"],
        "parameters": {"t": parameter},
        "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
    }


@pytest.mark.parametrize("parameter, accepted", CASES, ids=[f"{p}-{'ok' if ok else 'refused'}" for p, ok in CASES])
def test_parameter_default_at_below_and_above_each_bound(parameter, accepted):
    if accepted:
        parsed = parse_version_spec(manifest(parameter)).parameters["t"]
        assert parsed.to_dict() == parameter
        return
    with pytest.raises(InvalidInput) as refused:
        parse_version_spec(manifest(parameter))
    assert "'parameters'.t" in str(refused.value)


def test_the_refusal_names_the_bound(registry):
    with pytest.raises(InvalidInput, match=r"'parameters'\.t\.default: -0\.5 is outside its range \[0, 1\]"):
        registry.register(manifest({"default": -0.5, "range": [0, 1]}))
    with pytest.raises(InvalidInput, match=r"'parameters'\.t\.default: 4097 is above its max 4096"):
        registry.register(manifest({"default": 4097, "max": 4096}))
    with pytest.raises(InvalidInput, match=r"'parameters'\.t\.range: low 2 is above high 1"):
        registry.register(manifest({"default": 1, "range": [2, 1]}))
    assert registry.find_models(include_retired=True) == []  # nothing was written
    stored = registry.register(manifest({"default": 0, "range": [0, 1]}))
    assert stored["parameters"] == {"t": {"default": 0, "range": [0, 1]}}


@pytest.mark.parametrize(
    "flag, exit_code",
    [
        ("t=0:0..1", 0),
        ("t=1:0..1", 0),
        ("t=-0.01:0..1", 2),
        ("t=1.01:0..1", 2),
        ("t=2048:max=2048", 0),
        ("t=2049:max=2048", 2),
        ("t=-7:max=2048", 0),
    ],
)
def test_parameter_flags_at_below_and_above_each_bound(cli, flag, exit_code):
    r = cli(*register_flags("m", "1.0.0", "--param", flag))
    assert r.exit_code == exit_code, r.stderr
    if exit_code:
        assert "--param.t.default" in r.stderr, r.stderr


def test_parameter_flag_syntax():
    assert parse_param_flag("temperature=0.7:0..1") == ("temperature", {"default": 0.7, "range": [0, 1]})
    assert parse_param_flag("tokens=1024:max=2048") == ("tokens", {"default": 1024, "max": 2048})
    assert parse_param_flag("t=1") == ("t", {"default": 1})
    assert parse_param_flag("t=1.0:-2..-1.5") == ("t", {"default": 1.0, "range": [-2, -1.5]})
    for bad in ("t", "t=x", "t=1:0..", "t=1:max=", "t=inf", "t=1:0..nan"):
        with pytest.raises(InvalidInput):
            parse_param_flag(bad)
