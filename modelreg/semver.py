"""Semantic Versioning 2.0.0: parsing and precedence.

`packaging` implements PEP 440, whose ordering and syntax differ from SemVer
(e.g. `1.0.0-rc.1` vs `1.0.0rc1`, build metadata), so SemVer gets its own small
parser here; `packaging` is used where PEP 440 ranges are asked for
(advisories), through `to_pep440`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from modelreg.errors import InvalidInput

# The official regex from semver.org (numbered groups).
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z"  # \Z: "$" would accept a trailing newline
)
MAX_LENGTH = 128


@total_ordering
@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> SemVer:
        if not isinstance(text, str) or len(text) > MAX_LENGTH:
            raise InvalidInput(
                f"invalid version {str(text)[:40]!r}: expected Semantic Versioning MAJOR.MINOR.PATCH[-pre][+build], e.g. 3.0.1"
            )
        match = _SEMVER.match(text)
        if not match:
            raise InvalidInput(
                f"invalid version {text!r}: expected Semantic Versioning MAJOR.MINOR.PATCH[-pre][+build], e.g. 3.0.1"
            )
        major, minor, patch, pre, build = match.groups()
        return cls(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else (), build or "")

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self):
        # SemVer §11: a pre-release sorts before its release; identifiers compare
        # numerically when numeric, numbers before strings, shorter first.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def sort_key(self) -> str:
        """A string that sorts like SemVer precedence (for ORDER BY in SQL).
        Numbers are written with their length first, so they compare
        numerically at any length (10000000000 after 9999999999). Build
        metadata is not part of it: equal keys mean equal precedence."""
        parts = [".".join(_number_key(n) for n in (self.major, self.minor, self.patch))]
        if not self.prerelease:
            parts.append("~")  # '~' sorts after '-' : release after pre-releases
        else:
            ids = [("0" + _number_key(int(p))) if p.isdigit() else f"1{p}" for p in self.prerelease]
            parts.append("-" + "\x01".join(ids))
        return "".join(parts)

    def to_pep440(self) -> str:
        """Map to a PEP 440 version for specifier matching.

        1.2.3 -> 1.2.3; 1.2.3-alpha.1 -> 1.2.3a1; -beta.N -> bN; -rc.N -> rcN;
        any other pre-release -> 1.2.3.dev0 (sorts before the release, like SemVer).
        Build metadata is ignored, as SemVer precedence ignores it.
        """
        base = f"{self.major}.{self.minor}.{self.patch}"
        if not self.prerelease:
            return base
        head = self.prerelease[0].lower()
        number = next((p for p in self.prerelease[1:] if p.isdigit()), "0")
        for names, tag in ((("alpha", "a"), "a"), (("beta", "b"), "b"), (("rc", "c", "pre", "preview"), "rc")):
            if head in names:
                return f"{base}{tag}{int(number)}"
        return f"{base}.dev0"

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + self.build
        return text


def _number_key(number: int) -> str:
    digits = str(number)
    return f"{len(digits):03d}{digits}"


def parse(text: str) -> SemVer:
    return SemVer.parse(text)
