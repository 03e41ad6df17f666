"""Parsing `model`, `model@version` targets given on the command line."""

from __future__ import annotations

from typing import Literal, overload

from modelreg.errors import InvalidInput
from modelreg.manifest import SLUG
from modelreg.semver import SemVer


def parse_model_id(text: str) -> str:
    if not isinstance(text, str) or not SLUG.match(text):
        raise InvalidInput(f"invalid model id {str(text)[:60]!r}: expected [a-z0-9][a-z0-9._-]{{0,63}}")
    return text


@overload
def parse_target(text: str) -> tuple[str, str]: ...
@overload
def parse_target(text: str, *, version_required: Literal[True]) -> tuple[str, str]: ...
@overload
def parse_target(text: str, *, version_required: bool) -> tuple[str, str | None]: ...


def parse_target(text: str, *, version_required: bool = True) -> tuple[str, str | None]:
    """'m@1.2.3' -> ('m', '1.2.3'); 'm' -> ('m', None) when allowed."""
    if not isinstance(text, str):
        raise InvalidInput("expected MODEL@VERSION")
    model, sep, version = text.partition("@")
    parse_model_id(model)
    if not sep:
        if version_required:
            raise InvalidInput(f"expected MODEL@VERSION, got {text[:80]!r} (e.g. ms-advanced-reasoning@3.0.1)")
        return model, None
    return model, str(SemVer.parse(version))


def format_target(model_id: str, version: str | None) -> str:
    return f"{model_id}@{version}" if version else model_id
