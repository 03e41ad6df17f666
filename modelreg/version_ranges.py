"""PEP 440 version ranges over SemVer versions (which versions does a security
advisory affect?).

An advisory names its affected versions as a PEP 440 specifier set, e.g.
``>=3.0.0,<3.0.2``.  Registry versions are SemVer, so each is mapped to PEP
440 with ``SemVer.to_pep440()`` before matching, and matching always
includes pre-releases (``SpecifierSet.contains(..., prereleases=True)``):

    SemVer              PEP 440
    3.0.1               3.0.1
    3.0.1+build.7       3.0.1        (build metadata ignored, as in SemVer precedence)
    3.0.1-alpha.2       3.0.1a2
    3.0.1-beta.1        3.0.1b1
    3.0.1-rc.1          3.0.1rc1     (also -c, -pre, -preview)
    3.0.1-anything.else 3.0.1.dev0   (sorts before 3.0.1, as SemVer does)

Consequences worth knowing (they follow PEP 440, on purpose):

* ``>=3.0.0,<3.0.2`` contains 3.0.0, 3.0.1 and 3.0.1-rc.1; not 3.0.2.
* ``>=3.0.0`` does not contain 3.0.0-rc.1 (a pre-release comes before its
  release).  To include it write ``>=3.0.0rc0`` or ``>=3.0.0.dev0``.
* ``<3.0.2`` does not contain 3.0.2-rc.1: PEP 440's exclusive ``<V`` never
  admits pre-releases of V itself.  When 3.0.2's pre-releases are affected
  too (the fix landed only in the final 3.0.2), write ``<3.0.2rc999``: a
  pre-release bound admits pre-releases, so 3.0.2-alpha.1 and 3.0.2-rc.1 match
  and 3.0.2 does not.
* Specifier versions may be written PEP 440 style (``3.0.2rc1``) or with
  SemVer-like separators (``3.0.2-rc.1``); packaging normalises both.

An empty range is refused (it would silently match everything): write
``>=0`` to mean "every version".
"""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from modelreg.errors import InvalidInput
from modelreg.semver import SemVer

ADVISORY_SEVERITIES = ("low", "medium", "high", "critical")


def parse_affected(spec: str) -> SpecifierSet:
    """PEP 440 specifier set; InvalidInput naming the problem on a bad spec."""
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInput(
            "invalid affected range: empty (expected a PEP 440 specifier set such as '>=3.0.0,<3.0.2'; '>=0' for every version)"
        )
    text = spec.strip()
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        hint = ""
        try:
            Version(text)
            hint = f"; did you mean '=={text}'?"
        except Exception:
            try:
                hint = f"; did you mean '=={SemVer.parse(text).to_pep440()}'?"
            except InvalidInput:
                pass
        raise InvalidInput(
            f"invalid affected range {spec!r}: expected a PEP 440 specifier set such as '>=3.0.0,<3.0.2'{hint}"
        ) from None


def affects(spec: str | SpecifierSet, semver_text: str) -> bool:
    """True when the SemVer version lies in the advisory's range (pre-releases included)."""
    specifiers = spec if isinstance(spec, SpecifierSet) else parse_affected(spec)
    version = SemVer.parse(semver_text)
    return specifiers.contains(version.to_pep440(), prereleases=True)


def parse_advisory_severity(text: str) -> str:
    """Normalise an advisory severity (low|medium|high|critical)."""
    value = text.strip().lower() if isinstance(text, str) else ""
    if value not in ADVISORY_SEVERITIES:
        raise InvalidInput(f"invalid advisory severity {text!r}: expected one of {', '.join(ADVISORY_SEVERITIES)}")
    return value
