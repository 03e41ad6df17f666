"""What a version carries beyond the guide's fields, validated: labels,
owner and contacts, lineage (artifact, source, base model, datasets,
evaluations) and the model card's size.

Each check raises InvalidInput (exit 2) naming the field, so a manifest, a
flag and a registry file refuse the same input with the same words.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from modelreg.errors import InvalidInput

LABEL_KEY = re.compile(r"[a-z0-9][a-z0-9._/-]{0,62}\Z")
LABEL_VALUE_MAX = 256
DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")
URI_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*\Z")
OWNER = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,127}\Z")  # a team: printable ASCII, 1-128 characters
CONTACT = re.compile(r"[\x21-\x7e]{1,128}\Z")  # an email or a handle: no spaces
MAX_CONTACTS = 20
MAX_LABELS = 64
MAX_LIST = 100
TEXT_MAX = 256
CARD_MAX_BYTES = 1024 * 1024


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _printable(value: Any, limit: int = TEXT_MAX) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= limit
        and value == value.strip()
        and not any(ord(c) < 32 or ord(c) == 127 for c in value)
    )


# -- labels ---------------------------------------------------------------------------------
def check_label_key(where: str, key: Any) -> str:
    if not isinstance(key, str) or not LABEL_KEY.match(key):
        raise InvalidInput(f"{where}: invalid label key {_show(key)}: expected [a-z0-9][a-z0-9._/-]{{0,62}}")
    return key


def check_label_value(where: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > LABEL_VALUE_MAX or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(
            f"{where}: invalid label value {_show(value)}: expected text up to {LABEL_VALUE_MAX} characters, "
            "no control characters"
        )
    return value


def parse_label(text: Any, where: str = "--label") -> tuple[str, str]:
    """`key=value` -> (key, value)."""
    if not isinstance(text, str) or "=" not in text:
        raise InvalidInput(f"{where}: expected key=value, got {_show(text)}")
    key, _, value = text.partition("=")
    return check_label_key(where, key), check_label_value(f"{where} {key}", value)


def parse_label_flags(texts: Any, where: str = "--label") -> dict[str, str]:
    out: dict[str, str] = {}
    for text in texts:
        key, value = parse_label(text, where)
        if key in out and out[key] != value:
            raise InvalidInput(f"{where}: label {key!r} is given twice with different values")
        out[key] = value
    if len(out) > MAX_LABELS:
        raise InvalidInput(f"{where}: at most {MAX_LABELS} labels")
    return out


def check_labels(where: str, value: Any) -> dict[str, str]:
    """A manifest's `labels = {key = "value"}`."""
    if not isinstance(value, dict):
        raise InvalidInput(f'{where}: expected a table of key = "value", got {_show(value)}')
    if len(value) > MAX_LABELS:
        raise InvalidInput(f"{where}: at most {MAX_LABELS} labels")
    return {check_label_key(where, k): check_label_value(f"{where}.{k}", v) for k, v in sorted(value.items())}


# -- owner and contacts ------------------------------------------------------------------------
def check_owner(where: str, value: Any) -> str:
    if not isinstance(value, str) or not OWNER.match(value):
        raise InvalidInput(f"{where}: expected a team name of 1 to 128 printable ASCII characters, got {_show(value)}")
    return value


def check_contacts(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_CONTACTS:
        raise InvalidInput(f"{where}: expected a list of up to {MAX_CONTACTS} emails or handles, got {_show(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not CONTACT.match(item):
            raise InvalidInput(f"{where}[{i}]: expected an email or a handle (no spaces), got {_show(item)}")
    return list(dict.fromkeys(value))


# -- lineage ---------------------------------------------------------------------------------
def check_uri(where: str, value: Any) -> str:
    """A URI that parses: scheme:rest, no spaces or control characters (oci://, s3://, https://, hf://...)."""
    if not _printable(value, 2048) or any(c.isspace() for c in value):
        raise InvalidInput(
            f"{where}: expected a URI such as oci://registry/image or s3://bucket/key, got {_show(value)}"
        )
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        raise InvalidInput(f"{where}: expected a URI, got {_show(value)} (it does not parse)") from None
    if not URI_SCHEME.match(parts.scheme) or not (parts.netloc or parts.path):
        raise InvalidInput(f"{where}: expected a URI with a scheme (scheme://...), got {_show(value)}")
    return value


def check_digest(where: str, value: Any) -> str:
    if not isinstance(value, str) or not DIGEST.match(value):
        raise InvalidInput(f"{where}: expected sha256: and 64 lower-case hex characters, got {_show(value)}")
    return value


def check_base_model(where: str, value: Any) -> str:
    """A registered `model@version`, or any upstream name (no spaces), up to 200 characters."""
    if not _printable(value, 200) or any(c.isspace() for c in value):
        raise InvalidInput(f"{where}: expected model@version or an upstream model name (no spaces), got {_show(value)}")
    return value


@dataclass
class Evaluation:
    name: str
    metric: str
    value: float
    dataset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "metric": self.metric, "value": self.value, "dataset": self.dataset}


@dataclass
class Lineage:
    artifact_uri: str | None = None
    artifact_digest: str | None = None
    source: str | None = None
    base_model: str | None = None
    datasets: list[str] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)

    def is_empty(self) -> bool:
        return self == Lineage()

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape (`show --json`, export)."""
        return {
            "artifact": None
            if self.artifact_uri is None
            else {"uri": self.artifact_uri, "digest": self.artifact_digest},
            "source": self.source,
            "base_model": self.base_model,
            "datasets": list(self.datasets),
            "evaluations": [e.to_dict() for e in self.evaluations],
        }


ARTIFACT_KEYS = {"uri": "uri", "digest": "digest"}
EVALUATION_KEYS = ("name", "metric", "value", "dataset")


def _known(where: str, value: Any, keys: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected a table, got {_show(value)}")
    for key in value:
        if key not in keys:
            raise InvalidInput(f"{where}: unknown key {key!r} (known: {', '.join(keys)})")
    return value


def check_artifact(where: str, value: Any) -> tuple[str, str]:
    table = _known(where, value, ARTIFACT_KEYS)
    for required in ("uri", "digest"):
        if required not in table:
            raise InvalidInput(f"{where}: missing key {required!r}")
    return check_uri(f"{where}.uri", table["uri"]), check_digest(f"{where}.digest", table["digest"])


def check_datasets(where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise InvalidInput(f"{where}: expected a list of up to {MAX_LIST} dataset names or URIs, got {_show(value)}")
    for i, item in enumerate(value):
        if not _printable(item):
            raise InvalidInput(f"{where}[{i}]: expected a dataset name or URI (1 to {TEXT_MAX} characters)")
    return list(dict.fromkeys(value))


def check_evaluations(where: str, value: Any) -> list[Evaluation]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise InvalidInput(f"{where}: expected a list of up to {MAX_LIST} {{name, metric, value, dataset}} tables")
    out = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        table = _known(here, item, EVALUATION_KEYS)
        for required in ("name", "metric", "value"):
            if required not in table:
                raise InvalidInput(f"{here}: missing key {required!r}")
        for key in ("name", "metric"):
            if not _printable(table[key], 128):
                raise InvalidInput(f"{here}.{key}: expected text of 1 to 128 characters, got {_show(table[key])}")
        number = table["value"]
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not _finite(number):
            raise InvalidInput(f"{here}.value: expected a number, got {_show(number)}")
        dataset = table.get("dataset")
        if dataset is not None and not _printable(dataset):
            raise InvalidInput(f"{here}.dataset: expected a dataset name or URI (1 to {TEXT_MAX} characters)")
        out.append(Evaluation(table["name"], table["metric"], number, dataset))
    return out


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


LINEAGE_KEYS = {
    "artifact": "artifact",
    "source": "source",
    "baseModel": "base_model",
    "base_model": "base_model",
    "datasets": "datasets",
    "evaluations": "evaluations",
}


def lineage_from(where: Callable[[str], str], data: dict[str, Any]) -> Lineage:
    """The lineage keys of a manifest entry (already mapped to snake_case);
    `where(camelCaseKey)` names the key (or the flag) in an error."""
    lineage = Lineage()
    if data.get("artifact") is not None:
        lineage.artifact_uri, lineage.artifact_digest = check_artifact(where("artifact"), data["artifact"])
    if data.get("source") is not None:
        lineage.source = check_uri(where("source"), data["source"])
    if data.get("base_model") is not None:
        lineage.base_model = check_base_model(where("baseModel"), data["base_model"])
    if data.get("datasets") is not None:
        lineage.datasets = check_datasets(where("datasets"), data["datasets"])
    if data.get("evaluations") is not None:
        lineage.evaluations = check_evaluations(where("evaluations"), data["evaluations"])
    return lineage


def parse_artifact_flag(text: str) -> dict[str, str]:
    """`--artifact URI@sha256:HEX` (as container images are pinned) -> {uri, digest}."""
    uri, sep, digest = str(text).rpartition("@sha256:")
    if not sep:
        raise InvalidInput(f"--artifact: expected URI@sha256:<64 hex>, got {_show(text)}")
    return {"uri": uri, "digest": "sha256:" + digest}


# -- model cards ---------------------------------------------------------------------------------
def check_card(where: str, body: Any) -> tuple[str, str, int]:
    """Markdown text up to 1 MB -> (body, sha256 hex, size in bytes)."""
    if not isinstance(body, str):
        raise InvalidInput(f"{where}: expected Markdown text")
    data = body.encode("utf-8", "surrogatepass")
    if len(data) > CARD_MAX_BYTES:
        raise InvalidInput(f"{where}: the model card is {len(data)} bytes; at most {CARD_MAX_BYTES} (1 MB)")
    if not body.strip():
        raise InvalidInput(f"{where}: the model card is empty")
    if "\x00" in body:
        raise InvalidInput(f"{where}: the model card is not text (it holds NUL bytes)")
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{where}: the model card is not valid UTF-8") from None
    return body, hashlib.sha256(data).hexdigest(), len(data)
