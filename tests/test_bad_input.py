"""Generated bad input never hurts: across register flags, TOML and JSON
manifests and the arguments of find/show/resolve/promote/deprecate/review/
fallback/rollout/history, the exit code is 2 (or the documented 3/4/5 when
well-formed input names unknown things or is refused), stderr is one line
starting with `error:` (promote's exit 5 may list gates below it), no
traceback, and the SQLite database bytes (main file and -wal) do not change.

In-process (run_cli) for speed; a subprocess sample checks real exit codes."""

from __future__ import annotations

import json
import re
import string
from datetime import date, timedelta
from pathlib import Path

import pytest
import tomli_w
from conftest import GUIDE_MANIFEST, approve, new_registry, run_cli, run_process
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

ADV = "ms-advanced-reasoning@3.0.1"  # APPROVED in the fixture
STD = "ms-standard"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

# independent oracles (spec §3), deliberately not modelreg's own code
SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)


def is_slug(text: str) -> bool:
    return bool(SLUG.fullmatch(text))


def is_slug_any_case(text: str) -> bool:
    """Providers, capabilities, domains, residencies: A-Z fold to a-z (and only they)."""
    return is_slug(text.translate(str.maketrans(string.ascii_uppercase, string.ascii_lowercase)))


def is_semver(text: str) -> bool:
    return bool(SEMVER.fullmatch(text)) and len(text) <= 128


# -- strategies --------------------------------------------------------------------------------------------
chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
junk = st.text(chars, max_size=40)
huge = st.builds(lambda s, n: (s or "x") * n, st.text(chars, min_size=1, max_size=5), st.integers(2000, 20000))
tricky = st.sampled_from(
    [
        "",
        " ",
        "-",
        "--",
        "@",
        "@@",
        "a@",
        "@1.0.0",
        "A",
        "Model",
        "m m",
        "m\n",
        "m\t",
        "ÄÖÜ",
        "m/../x",
        "m;drop table model",
        "'",
        '"',
        "%",
        "_",
        "*",
        "\u202e",
        "\ufeffm",
        "\u0130",
        "1.0",
        "01.0.0",
        "1.0.0-",
        "1.0.0+",
        "v1.0.0",
        " 1.0.0",
        "1.0.0\n",
        "1.0.0-01",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "-1",
        "0x10",
        "1,5",
        "1_000",
        "９",
    ]
)
text_arg = st.one_of(junk, huge, tricky)
bad_slug = text_arg.filter(lambda s: not is_slug(s))
bad_version = text_arg.filter(lambda s: not is_semver(s))
bad_attribute = text_arg.filter(lambda s: not is_slug_any_case(s))  # provider, capability, residency, domain
good_unknown_version = st.sampled_from(["9.9.9", "0.0.0", "1.0.0-rc.1+build.5", "3.0.1-beta"])
bad_target = st.one_of(
    bad_slug,
    st.builds(lambda m, v: f"{m}@{v}", bad_slug, st.sampled_from(["1.0.0", "3.0.1"])),
    st.builds(lambda v: f"ms-advanced-reasoning@{v}", bad_version),
)


def bad_number(*, negative_is_bad: bool = True):
    numbers = st.floats(max_value=-1e-6, allow_nan=False).map(repr) if negative_is_bad else st.nothing()
    words = text_arg.filter(lambda s: not _parses_as_finite(s))
    return st.one_of(numbers, words, st.sampled_from(["nan", "inf", "-inf", "1e400", "-1e400"]))


def _maybe_percent(text: str) -> bool:
    """Could a lax number parser read this as 1..99 (e.g. '1.0', ' 5')?"""
    try:
        return 1 <= float(text) <= 99
    except ValueError:
        return _int_or_none(text) is not None and 1 <= int(text) <= 99


def _int_or_none(text: str):
    """Python's int() is laxer than a strict oracle ('0_0', ' +5', '٥'); such input may be taken."""
    try:
        return int(text) if int(text) >= 0 else None
    except ValueError:
        return None


def _parses_as_finite(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return value == value and abs(value) != float("inf")


# -- the database and its bytes -------------------------------------------------------------------------------
@pytest.fixture
def seeded(tmp_path, monkeypatch):
    path = tmp_path / "registry.db"
    url = new_registry(f"sqlite:///{path}")
    monkeypatch.setenv("MODELREG_DB", url)
    from modelreg import Registry
    from modelreg.manifest import load_manifest_file

    reg = Registry.open(url)
    reg.register_many(load_manifest_file(str(GUIDE_MANIFEST)))
    approve(reg, ADV)
    reg.close()
    assert run_cli("find").exit_code == 0
    baseline = db_bytes(path)
    assert baseline[""]  # the main file has the data: no WAL left behind to hide changes in
    return Seeded(path, baseline)


class Seeded(tuple):
    """(path, baseline bytes) with a short repr for hypothesis reports."""

    def __new__(cls, path, baseline):
        return super().__new__(cls, (path, baseline))

    def __repr__(self) -> str:
        return f"Seeded({self[0].name})"


def db_bytes(path: Path) -> dict[str, bytes]:
    out = {}
    for suffix in ("", "-wal"):
        file = Path(str(path) + suffix)
        out[suffix] = file.read_bytes() if file.exists() else b""
    return out


def check(seeded, args: list, expected: set[int]) -> None:
    path, baseline = seeded
    r = run_cli(*args)
    shown = [a if len(str(a)) < 80 else str(a)[:80] + "..." for a in args]
    assert r.exit_code in expected, (shown, r.exit_code, r.stderr[:500])
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    if r.exit_code != 0:
        lines = r.stderr.splitlines()
        assert lines and lines[0].startswith("error: "), (shown, r.stderr[:500])
        if r.exit_code == 5 and args and "promote" in args:
            assert all(line.startswith("  - ") for line in lines[1:]), r.stderr
        else:
            assert len(lines) == 1, (shown, r.stderr[:500])
        assert "unexpected error" not in r.stderr
    assert db_bytes(path) == baseline, f"{shown} changed the database (exit {r.exit_code})"


def register_flags(**over) -> list[str]:
    flags = {
        "model": "fresh-model",
        "--version": "1.0.0",
        "--provider": "acme",
        "--capability": "chat",
        "--avg-latency": "10",
        "--p95-latency": "20",
        "--cost": "0.01",
    }
    flags.update(over)
    args = ["register", flags.pop("model")]
    for key, value in flags.items():
        if value is not None:
            args += [key, value]
    return args


# -- register from flags --------------------------------------------------------------------------------------
@SETTINGS
@given(field=st.sampled_from(["model", "--version", "--provider", "--capability"]), value=st.data())
def test_register_flags_bad_ids_and_versions(seeded, field, value):
    bad = value.draw(bad_version if field == "--version" else bad_slug if field == "model" else bad_attribute)
    check(seeded, register_flags(**{field: bad}), {2})


@SETTINGS
@given(field=st.sampled_from(["--avg-latency", "--p95-latency", "--cost"]), bad=bad_number())
def test_register_flags_bad_numbers(seeded, field, bad):
    check(seeded, register_flags(**{field: bad}), {2})


@SETTINGS
@given(
    extra=st.one_of(
        st.tuples(
            st.just("--param"), text_arg.filter(lambda s: not re.fullmatch(r"[a-z0-9][a-z0-9._-]*=\d+(\.\d+)?", s))
        ),
        st.tuples(
            st.just("--param"),
            st.sampled_from(
                ["t=2:0..1", "t=5:max=4", "t=0.5:1..0", "t=nan", "t=1:0..inf", "T=1", "t=1e400", "t=1:max=nan"]
            ),
        ),
        st.tuples(st.just("--pii"), text_arg.filter(lambda s: s not in ("compliant", "restricted", "none"))),
        st.tuples(st.just("--endpoint-kind"), text_arg.filter(lambda s: s not in ("openai-chat", "json"))),
        st.tuples(st.just("--residency"), bad_attribute),
        st.tuples(st.just("--domain"), bad_attribute),
        st.tuples(st.just("--description"), st.text(chars, min_size=4001, max_size=4100)),
    )
)
def test_register_flags_bad_options(seeded, extra):
    check(seeded, register_flags() + list(extra), {2})


@SETTINGS
@given(
    url=st.one_of(
        st.sampled_from(
            [
                "file:///etc/passwd",
                "ftp://models.internal/x",
                "javascript:alert(1)",
                "gopher://x:70/",
                "data:text/plain,hi",
                "ws://host/socket",
                "http://",
                "http:///path",
                "//host/x",
                "host:80",
                "http://exa mple.com/",
                "http://host:99999/",
                "http://user:pw@host/v1",
                "https://:80/",
                "unix:///var/run/x.sock",
                "HTTP:/host",
                "http\\://host",
            ]
        ),
        st.builds(
            lambda scheme, rest: f"{scheme}://{rest}",
            st.text(string.ascii_letters + "+-.", min_size=1, max_size=8).filter(
                lambda s: s.lower() not in ("http", "https")
            ),
            st.text(chars, max_size=20),
        ),
        text_arg.filter(lambda s: not re.match(r"(?i)https?://", s)),
    )
)
def test_register_only_http_endpoints(seeded, url):
    check(seeded, register_flags(**{"--endpoint": url}), {2})


# -- manifests (TOML and JSON) -------------------------------------------------------------------------------
BASE = {
    "provider": "acme",
    "modelId": "fresh-model",
    "version": "1.0.0",
    "capabilities": ["chat"],
    "endpoint": "https://models.internal/v1",
    "endpointKind": "openai-chat",
    "parameters": {"temperature": {"default": 0.7, "range": [0, 1]}, "tokens": {"default": 2048, "max": 4096}},
    "performance": {"avgLatency": 850, "p95Latency": 1200, "costPerRequest": 0.03},
    "compliance": {"dataResidency": ["us-east"], "piiHandling": "compliant", "approvedDomains": ["support"]},
}

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(10**300, 10**600),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(chars, max_size=30),
    huge,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(chars, max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
not_a_number = json_values.filter(
    lambda v: (
        isinstance(v, bool)
        or not isinstance(v, (int, float))
        or v != v
        or v in (float("inf"), float("-inf"))
        or (isinstance(v, int) and abs(v) > 10**308)
    )
)
not_a_string = json_values.filter(lambda v: not isinstance(v, str))

WRONG = {  # (path, strategy of values that must be refused there)
    ("modelId",): st.one_of(not_a_string, bad_slug),
    ("version",): st.one_of(not_a_string, bad_version),
    ("provider",): st.one_of(not_a_string, bad_slug),
    ("capabilities",): st.one_of(
        json_values.filter(lambda v: not isinstance(v, list)),
        st.just([]),
        st.lists(st.one_of(not_a_string, bad_slug), min_size=1, max_size=3),
    ),
    ("performance", "avgLatency"): st.one_of(not_a_number, st.floats(max_value=-1e-9, allow_nan=False)),
    ("performance", "p95Latency"): st.one_of(not_a_number, st.integers(max_value=-1)),
    ("performance", "costPerRequest"): not_a_number,
    ("performance",): json_values.filter(lambda v: not isinstance(v, dict) or v),
    ("parameters", "temperature", "default"): st.one_of(not_a_number, st.floats(1.0001, 1e9), st.floats(-1e9, -0.0001)),
    ("parameters", "tokens", "default"): st.one_of(not_a_number, st.integers(4097, 10**9)),
    ("parameters", "temperature", "range"): json_values.filter(
        lambda v: (
            not (
                isinstance(v, list)
                and len(v) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
            )
        )
    ),
    ("parameters",): json_values.filter(lambda v: not isinstance(v, dict)),
    ("endpoint",): st.one_of(
        st.text(chars, max_size=30).filter(lambda s: not re.match(r"(?i)https?://[^\s/@:]+", s)),
        json_values.filter(lambda v: v is not None and not isinstance(v, str)),
    ),
    ("endpointKind",): json_values.filter(lambda v: v is not None and v not in ("openai-chat", "json")),
    ("compliance", "piiHandling"): json_values.filter(lambda v: v not in ("compliant", "restricted", "none")),
    ("compliance", "dataResidency"): st.one_of(
        json_values.filter(lambda v: not isinstance(v, list)),
        st.lists(st.one_of(not_a_string, bad_slug), min_size=1, max_size=3),
    ),
    ("experimental",): json_values.filter(lambda v: not isinstance(v, bool)),
    ("description",): st.one_of(not_a_string, st.text(chars, min_size=4001, max_size=4050)),
}
KNOWN_KEYS = {
    "provider",
    "modelId",
    "model_id",
    "version",
    "capabilities",
    "parameters",
    "performance",
    "compliance",
    "endpoint",
    "endpointKind",
    "endpoint_kind",
    "description",
    "experimental",
    "models",
}


def _set(doc: dict, path: tuple, value) -> dict:
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@st.composite
def bad_manifest(draw):
    kind = draw(st.sampled_from(["wrong", "wrong", "unknown", "missing", "garbage", "many"]))
    if kind == "wrong":
        path = draw(st.sampled_from(sorted(WRONG)))
        return _set(BASE, path, draw(WRONG[path]))
    if kind == "unknown":
        where = draw(st.sampled_from([(), ("performance",), ("compliance",), ("parameters", "temperature")]))
        key = draw(
            st.text(chars, min_size=1, max_size=20).filter(
                lambda k: (
                    k not in KNOWN_KEYS
                    and k
                    not in (
                        "avgLatency",
                        "p95Latency",
                        "costPerRequest",
                        "dataResidency",
                        "piiHandling",
                        "approvedDomains",
                        "default",
                        "range",
                        "max",
                    )
                    and not re.fullmatch(r"[a-z0-9_]+", k)
                )
            )
        )
        return _set(BASE, (*where, key), draw(json_values))
    if kind == "missing":
        doc = json.loads(json.dumps(BASE))
        del doc[draw(st.sampled_from(["provider", "modelId", "version", "capabilities", "performance"]))]
        return doc
    if kind == "many":  # one bad entry among good ones: nothing at all is written
        good = [{**BASE, "version": f"1.0.{i}"} for i in range(draw(st.integers(1, 30)))]
        path = draw(st.sampled_from(sorted(WRONG)))
        good.insert(draw(st.integers(0, len(good))), _set({**BASE, "version": "2.0.0"}, path, draw(WRONG[path])))
        return {"models": good}
    return draw(json_values.filter(lambda v: not isinstance(v, dict) or "modelId" not in v))


def _write(tmp: Path, doc, fmt: str) -> Path | None:
    if fmt == "json":
        path = tmp / "bad.json"
        path.write_text(json.dumps(doc))
        return path
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError, AttributeError):  # TOML has no null, no non-table top level
        return None
    path = tmp / "bad.toml"
    path.write_text(text)
    return path


@SETTINGS
@given(doc=bad_manifest(), fmt=st.sampled_from(["json", "toml"]))
def test_bad_manifests(seeded, tmp_path_factory, doc, fmt):
    path = _write(tmp_path_factory.mktemp("m"), doc, fmt)
    assume(path is not None)
    check(seeded, ["register", "--file", path], {2})


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    raw=st.one_of(
        st.binary(max_size=200),
        st.text(chars, max_size=300).map(str.encode),
        st.sampled_from(
            [
                b"",
                b"\xff\xfe\x00",
                b"[" * 100000,
                b'{"a":' * 50000,
                b"a = [" * 50000,
                b'provider = "acme"\nprovider = "twice"\n',
                b'\xef\xbb\xbf{"modelId": 1}',
                b'{"modelId": "m", "modelId": "n"}',
                b"x = 1" + b"0" * 5000,
                b"[performance]\navgLatency = 1e999\n",
            ]
        ),
    ),
    suffix=st.sampled_from([".json", ".toml", ".txt", ""]),
)
@example(
    raw=b'{"provider": "acme", "modelId": "m", "version": "1.0.0", "capabilities": ["c"], '
    b'"performance": {"avgLatency": 1' + b"0" * 5000 + b', "p95Latency": 1, "costPerRequest": 0}}',
    suffix=".json",
)
def test_garbage_manifest_files(seeded, tmp_path_factory, raw, suffix):
    path = tmp_path_factory.mktemp("g") / f"manifest{suffix}"
    path.write_bytes(raw)
    check(seeded, ["register", "--file", path], {2})


def test_register_file_missing_or_directory(seeded, tmp_path):
    check(seeded, ["register", "--file", tmp_path / "nope.toml"], {2})
    check(seeded, ["register", "--file", tmp_path], {2})


# -- the other commands --------------------------------------------------------------------------------------
@SETTINGS
@given(
    target=st.one_of(
        bad_target, st.builds(lambda m, v: f"{m}@{v}", st.sampled_from(["nope", "ms-standard"]), good_unknown_version)
    ),
    command=st.sampled_from(
        [
            ["show"],
            ["history"],
            ["promote"],
            ["promote", "--dry-run"],
            ["deprecate", "--cancel"],
            ["review", "--check", "security", "--pass"],
            ["deprecate", "--reason", "x", "--notice-days", "120"],
        ]
    ),
)
def test_targets(seeded, target, command):
    well_formed = "@" in target and is_slug(target.split("@")[0]) and is_semver(target.split("@", 1)[1])
    args = [command[0], target, *command[1:]]
    check(seeded, args, {3} if well_formed else {2})


@SETTINGS
@given(
    model=st.one_of(bad_slug, st.just("no-such-model")),
    command=st.sampled_from(
        [
            ["show"],
            ["history"],
            ["fallback", "show"],
            ["fallback", "clear"],
            ["rollout", "--complete"],
            ["rollout", "--set", "50"],
        ]
    ),
)
def test_model_ids(seeded, model, command):
    args = [*command[:2], model, *command[2:]] if command[0] == "fallback" else [command[0], model, *command[1:]]
    check(seeded, args, {3} if is_slug(model) else {2})


@SETTINGS
@given(
    pct=st.one_of(
        st.integers(max_value=0).map(str),
        st.integers(min_value=100).map(str),
        text_arg.filter(lambda s: not _maybe_percent(s)),
    )
)
def test_percentages(seeded, pct):
    check(seeded, ["promote", f"{STD}@2.0.0", "--canary", pct], {2})
    check(seeded, ["rollout", STD, "--set", pct], {2})


@SETTINGS
@given(
    when=st.one_of(
        text_arg.filter(lambda s: not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s)),
        st.sampled_from(["2026-02-30", "2026-13-01", "0000-01-01", "2026-1-1", "20260101", "2026-01-01T00:00:00Z"]),
        st.dates(max_value=date.today() + timedelta(days=89)).map(date.isoformat),  # well-formed, too soon: 5
    ),
    days=st.one_of(st.none(), st.integers(max_value=-1), st.integers(min_value=36501), st.integers(0, 89)),
)
def test_deprecation_dates_and_notice(seeded, when, days):
    # a real ISO 8601 date (also the basic form 20260101) is well-formed; too soon is a policy refusal (5)
    well_formed = _is_date(when)
    if well_formed:
        assume((date.fromisoformat(when) - date.today()).days < 90)
    check(seeded, ["deprecate", ADV, "--reason", "r", "--retire-on", when], {5} if well_formed else {2})
    if days is not None:
        check(seeded, ["deprecate", ADV, "--reason", "r", "--notice-days", str(days)], {5} if 0 <= days <= 89 else {2})


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


@SETTINGS
@given(
    reason=st.one_of(st.just(""), st.just("   "), st.text(chars, min_size=2001, max_size=2100)),
    replacement=st.one_of(st.none(), bad_target),
)
def test_deprecate_reason_and_replacement(seeded, reason, replacement):
    args = ["deprecate", ADV, "--reason", reason] + (["--replacement", replacement] if replacement else [])
    check(seeded, args, {2})


@SETTINGS
@given(
    check_name=st.one_of(bad_slug.filter(lambda s: not is_slug(s.strip().lower())), st.just("benchmark")),
    note=st.one_of(st.just("ok"), st.text(chars, min_size=2001, max_size=2050)),
)
def test_review_args(seeded, check_name, note):
    check(seeded, ["review", f"{STD}@2.0.0", "--check", check_name, "--pass", "--note", note], {2})
    if len(note) > 2000:  # a well-formed review with a note that is too long
        check(seeded, ["review", f"{STD}@2.0.0", "--check", "security", "--pass", "--note", note], {2})


@SETTINGS
@given(
    targets=st.lists(
        st.one_of(bad_target, bad_slug, st.just("no-such-model"), st.just("ms-advanced-reasoning")),
        min_size=1,
        max_size=4,
    )
)
def test_fallback_targets(seeded, targets):
    malformed = any(not is_slug(t.split("@")[0]) or ("@" in t and not t.split("@", 1)[1]) for t in targets)
    expected = {2} if malformed else {2, 3, 4, 5}
    if not malformed and all(t == "ms-advanced-reasoning" for t in targets):
        expected = {4} if len(targets) == 1 else {2, 4}  # itself (listed twice is bad usage)
    check(seeded, ["fallback", "set", "ms-advanced-reasoning", *targets], expected)


@SETTINGS
@given(
    option=st.sampled_from(
        [
            "--status",
            "--stage",
            "--provider",
            "--capability",
            "--domain",
            "--residency",
            "--max-p95",
            "--max-cost",
            "--limit",
            "--model",
        ]
    ),
    value=text_arg,
)
def test_find_filters(seeded, option, value):
    strict_number = bool(re.fullmatch(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?", value, re.ASCII))
    loose_number = _parses_as_finite(value) and float(value) >= 0
    if option in ("--max-p95", "--max-cost"):
        expected = {0} if strict_number and float(value) != float("inf") else {0, 2} if loose_number else {2}
    elif option == "--limit":
        expected = {0} if re.fullmatch(r"\d+", value, re.ASCII) else {0, 2} if _int_or_none(value) is not None else {2}
    else:
        valid = {
            "--status": value.upper() in ("EXPERIMENTAL", "TESTING", "APPROVED", "DEPRECATED", "RETIRED", "REJECTED"),
            "--stage": value in ("production", "staging", "experimental", "archived"),
            "--model": _is_glob(value),
        }.get(option, is_slug_any_case(value))
        expected = {0} if valid else {2}
    check(seeded, ["find", option, value, "--json"], expected)


@SETTINGS
@given(option=st.sampled_from(["--model", "--provider", "--capability", "--domain", "--residency"]), value=text_arg)
def test_resolve_args(seeded, option, value):
    valid = _is_glob(value) if option == "--model" else is_slug_any_case(value)  # --model takes a glob, as in find
    check(
        seeded,
        ["resolve", option, value, *(["--capability", "chat"] if option != "--capability" else [])],
        {3} if valid else {2},
    )


def _is_glob(value: str) -> bool:
    return bool(value) and len(value) <= 200 and not any(c.isspace() or ord(c) < 32 for c in value)


def test_subprocess_sample_real_exit_codes(seeded, tmp_path):
    """The same refusals through a real `python -m modelreg` process."""
    bad_json = tmp_path / "bad.json"
    bad_json.write_text(json.dumps(_set(BASE, ("performance", "avgLatency"), -5)))
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 100000)
    cases = [
        (register_flags(**{"--version": "1.0"}), 2),
        (register_flags(**{"--endpoint": "file:///etc/passwd"}), 2),
        (["register", "--file", bad_json], 2),
        (["register", "--file", deep], 2),
        (["promote", "nope@1.0.0"], 3),
        (["deprecate", ADV, "--reason", "r", "--retire-on", "2026-02-30"], 2),
        (["deprecate", ADV, "--reason", "r", "--notice-days", "3"], 5),
        (["find", "--status", "bogus"], 2),
        (["--actor", "bob", "promote", ADV], 4),
    ]
    path, baseline = seeded
    for args, code in cases:
        r = run_process(*args)
        assert r.exit_code == code, (args, r.exit_code, r.stderr)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert db_bytes(path) == baseline
