"""SemVer as behaviour (issue 17): precedence exactly as semver.org §11, the
SQL sort key agreeing with it at any length, build metadata ignored, what
parses and what is refused, and the PEP 440 mapping advisories match on."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelreg.errors import InvalidInput
from modelreg.semver import MAX_LENGTH, SemVer, parse

# semver.org §11, in increasing precedence, plus long numbers and identifier rules
ORDERED = [
    "0.0.0",
    "0.0.1",
    "0.1.0",
    "1.0.0-1",
    "1.0.0-2",
    "1.0.0-10",
    "1.0.0-a",
    "1.0.0-a.0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-alpha-1",  # a longer identifier that begins like the shorter one sorts after it and its successors
    "1.0.0-alphaA",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0-rc.99999999999999999999",
    "1.0.0-rc.100000000000000000000",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
    "9999999999.0.0",
    "10000000000.0.0",
]


def test_precedence_follows_semver_11_for_every_pair():
    versions = [parse(v) for v in ORDERED]
    for (i, a), (j, b) in itertools.product(enumerate(versions), repeat=2):
        assert (a < b) == (i < j), (ORDERED[i], ORDERED[j])
        assert (a == b) == (i == j)
        assert (a > b) == (i > j) and (a <= b) == (i <= j) and (a >= b) == (i >= j)
        assert (a.sort_key() < b.sort_key()) == (i < j), (ORDERED[i], ORDERED[j])


def test_build_metadata_is_ignored_by_precedence_but_kept_in_the_text():
    a, b, plain = parse("3.10.0+build.5"), parse("3.10.0+other"), parse("3.10.0")
    assert a == b == plain and hash(a) == hash(plain) and a.sort_key() == plain.sort_key()
    assert not a < plain and not plain < a
    assert (str(a), a.build, plain.build) == ("3.10.0+build.5", "build.5", "")
    assert len({a, b, plain}) == 1


def test_fields_prerelease_and_text():
    v = parse("1.2.3-rc.4.x+exp.sha.5114f85")
    assert (v.major, v.minor, v.patch, v.prerelease, v.build) == (1, 2, 3, ("rc", "4", "x"), "exp.sha.5114f85")
    assert v.is_prerelease and not parse("1.2.3").is_prerelease and not parse("1.2.3+b").is_prerelease
    assert str(v) == "1.2.3-rc.4.x+exp.sha.5114f85" and str(parse("1.2.3-0")) == "1.2.3-0"


def test_a_semver_never_equals_something_else():
    assert parse("1.0.0") != "1.0.0" and parse("1.0.0") != (1, 0, 0, 1, ())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1.0",
        "01.0.0",
        "1.02.0",
        "1.0.03",
        "1.0.0-",
        "1.0.0+",
        "1.0.0-01",
        "1.0.0-a..b",
        "1.0.0+a..b",
        "1.0.0\n",
        " 1.0.0",
        "v1.0.0",
        "1.0.0-a_b",
        "-1.0.0",
        "1.0.0.0",
    ],
)
def test_what_is_not_semver_is_refused_naming_it(text):
    with pytest.raises(InvalidInput) as refused:
        parse(text)
    assert f"invalid version {text!r}" in str(refused.value) and "MAJOR.MINOR.PATCH" in str(refused.value)


def test_length_and_type_limits():
    longest = "1.0.0-" + "a" * (MAX_LENGTH - 6)
    assert str(parse(longest)) == longest
    with pytest.raises(InvalidInput) as refused:
        parse(longest + "a")
    assert "invalid version" in str(refused.value) and len(str(refused.value)) < 200  # the text is cut, not echoed
    with pytest.raises(InvalidInput) as refused:
        parse(123)  # type: ignore[arg-type]
    assert "invalid version '123'" in str(refused.value)


def test_a_refused_long_text_is_named_by_its_first_40_characters():
    text = "".join(chr(ord("a") + i % 26) for i in range(MAX_LENGTH + 1))
    with pytest.raises(InvalidInput) as refused:
        parse(text)
    assert str(refused.value).startswith(f"invalid version {text[:40]!r}: expected Semantic Versioning")


@pytest.mark.parametrize(
    "semver, pep440",
    [
        ("1.2.3", "1.2.3"),
        ("1.2.3+build.7", "1.2.3"),
        ("1.2.3-alpha.1", "1.2.3a1"),
        ("1.2.3-a.2", "1.2.3a2"),
        ("1.2.3-alpha", "1.2.3a0"),
        ("1.2.3-beta.3", "1.2.3b3"),
        ("1.2.3-b", "1.2.3b0"),
        ("1.2.3-rc.4", "1.2.3rc4"),
        ("1.2.3-RC.5", "1.2.3rc5"),
        ("1.2.3-c.1", "1.2.3rc1"),
        ("1.2.3-pre.2", "1.2.3rc2"),
        ("1.2.3-preview", "1.2.3rc0"),
        ("1.2.3-alpha.x.7", "1.2.3a7"),
        ("1.2.3-rc.007x.2", "1.2.3rc2"),
        ("1.2.3-snapshot", "1.2.3.dev0"),
        ("1.2.3-1", "1.2.3.dev0"),
    ],
)
def test_pep440_mapping(semver, pep440):
    from packaging.version import Version

    assert parse(semver).to_pep440() == pep440
    assert Version(pep440) <= Version("1.2.3")  # a pre-release stays before its release


numbers = st.integers(min_value=0, max_value=10**25)
identifiers = st.one_of(numbers.map(str), st.from_regex(r"[0-9]*[a-zA-Z-][0-9a-zA-Z-]{0,5}", fullmatch=True))
semvers = st.builds(
    lambda ma, mi, pa, pre, build: SemVer(ma, mi, pa, tuple(pre), build),
    numbers,
    numbers,
    numbers,
    st.lists(identifiers, max_size=3),
    st.sampled_from(["", "b.1", "sha-5"]),
)


@given(a=semvers, b=semvers)
def test_the_sql_sort_key_orders_exactly_as_precedence(a, b):
    assert (a < b) == (a.sort_key() < b.sort_key())
    assert (a == b) == (a.sort_key() == b.sort_key())


@given(v=semvers)
def test_text_round_trips(v):
    text = str(v)
    if len(text) <= MAX_LENGTH:
        again = parse(text)
        assert again == v and str(again) == text and again.build == v.build
