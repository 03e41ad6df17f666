"""Query and path parameters: each route declares the ones it takes; an
unknown one, a repeated single one or a bad value is a 400 naming it.

Parsing yields a canonical tuple, which is also the answer's cache key, so
`capability=b&capability=a` and `capability=a&capability=b` share one entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from modelreg.errors import InvalidInput
from modelreg.lifecycle.status import STAGES, STATUSES
from modelreg.manifest import SLUG
from modelreg.metadata import check_base_model, check_owner, parse_label
from modelreg.names import is_consumer
from modelreg.semver import SemVer
from modelreg.server.errors import BadParameter

MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_OFFSET = 10_000_000
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def slug(name: str, value: str) -> str:
    if not SLUG.match(value):
        raise BadParameter(
            name, f"query parameter {name!r}: expected a slug matching [a-z0-9][a-z0-9._-]{{0,63}}, got {_shown(value)}"
        )
    return value


def glob(name: str, value: str) -> str:
    if not value or len(value) > 200 or any(c.isspace() or ord(c) < 32 for c in value):
        raise BadParameter(name, f"query parameter {name!r}: expected a model id or glob (* ?), got {_shown(value)}")
    return value


def consumer(name: str, value: str) -> str:
    if not is_consumer(value):
        raise BadParameter(name, f"query parameter {name!r}: expected 1 to 128 printable ASCII characters")
    return value


def key(name: str, value: str) -> str:
    if not 1 <= len(value) <= 256:
        raise BadParameter(name, f"query parameter {name!r}: expected 1 to 256 characters")
    return value


def boolean(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise BadParameter(name, f"query parameter {name!r}: expected true or false, got {_shown(value)}")


def number(name: str, value: str) -> float:
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    if not math.isfinite(parsed) or parsed < 0:
        raise BadParameter(name, f"query parameter {name!r}: expected a non-negative number, got {_shown(value)}")
    return parsed


def integer(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, value: str) -> int:
        if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
            raise BadParameter(
                name, f"query parameter {name!r}: expected an integer from {low} to {high}, got {_shown(value)}"
            )
        return int(value)

    return parse


def checked(check: Callable[[str, str], Any]) -> Callable[[str, str], str]:
    """A parameter validated by one of the library's checks (`check(where, value)`), as a 400 naming it."""

    def parse(name: str, value: str) -> str:
        try:
            check(f"query parameter {name!r}", value)
        except InvalidInput as exc:
            raise BadParameter(name, exc.message) from None
        return value

    return parse


def status(name: str, value: str) -> str:
    if value.upper() not in STATUSES:
        raise BadParameter(
            name, f"query parameter {name!r}: expected one of {', '.join(STATUSES)}, got {_shown(value)}"
        )
    return value.upper()


def stage(name: str, value: str) -> str:
    if value not in STAGES:
        raise BadParameter(name, f"query parameter {name!r}: expected one of {', '.join(STAGES)}, got {_shown(value)}")
    return value


class Param:
    def __init__(self, parse: Callable[[str, str], Any], *, repeat: bool = False, default: Any = None):
        self.parse = parse
        self.repeat = repeat
        self.default = () if repeat else default


FIND = {
    "provider": Param(slug),
    "capability": Param(slug, repeat=True),
    "status": Param(status),
    "stage": Param(stage),
    "domain": Param(slug),
    "residency": Param(slug),
    "max_p95": Param(number),
    "max_cost": Param(number),
    "model": Param(glob),
    "include_retired": Param(boolean, default=False),
    "label": Param(checked(lambda where, v: parse_label(v, where)), repeat=True),
    "owner": Param(checked(check_owner)),
    "base_model": Param(checked(check_base_model)),
    "used_by": Param(consumer),
}
ROUTE_PARAMS: dict[str, dict[str, Param]] = {
    "resolve": {
        "model": Param(glob),
        "provider": Param(slug),
        "capability": Param(slug, repeat=True),
        "domain": Param(slug),
        "residency": Param(slug),
        "key": Param(key),
        "prerelease": Param(boolean, default=False),
    },
    "models": {
        **FIND,
        "limit": Param(integer(1, MAX_PAGE), default=DEFAULT_PAGE),
        "offset": Param(integer(0, MAX_OFFSET), default=0),
    },
    "tree": {"include_retired": Param(boolean, default=False)},
}


def parse_query(route: str, query: Mapping[str, str]) -> tuple[tuple[str, Any], ...]:
    """The route's parameters, checked, in a canonical order (a cache key).
    `query` is aiohttp's multidict (getall gives every value of a name)."""
    spec = ROUTE_PARAMS.get(route, {})
    for name in query:
        if name not in spec:
            known = ", ".join(sorted(spec)) or "none"
            raise BadParameter(name, f"unknown query parameter {_shown(name)} (this route takes: {known})")
    out = []
    for name in sorted(spec):
        param = spec[name]
        values = query.getall(name, ()) if name in query else ()  # type: ignore[attr-defined]
        if param.repeat:
            out.append((name, tuple(sorted({param.parse(name, v) for v in values}))))
        elif not values:
            out.append((name, param.default))
        elif len(values) > 1:
            raise BadParameter(name, f"query parameter {name!r} is given {len(values)} times; it takes one value")
        else:
            out.append((name, param.parse(name, values[0])))
    return tuple(out)


def model_id(value: str) -> str:
    if not SLUG.match(value):
        raise BadParameter(
            "model_id", f"path parameter 'model_id': expected [a-z0-9][a-z0-9._-]{{0,63}}, got {_shown(value)}"
        )
    return value


def version(value: str) -> str:
    try:
        return str(SemVer.parse(value))
    except InvalidInput:
        raise BadParameter(
            "version", f"path parameter 'version': expected a SemVer version such as 3.0.1, got {_shown(value)}"
        ) from None
