"""Names that applications give themselves: the consumer a resolve or a
metric window is counted for (a token's name, the X-Modelreg-Consumer
header, the `consumer` of an ingested window)."""

from __future__ import annotations

import re
from typing import Any

from modelreg.errors import InvalidInput

CONSUMER = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,127}\Z")  # printable ASCII, 1-128 characters, no leading space
ANONYMOUS = "anonymous"  # resolves that named no consumer


def is_consumer(text: Any) -> bool:
    return isinstance(text, str) and CONSUMER.match(text) is not None


def check_consumer(text: Any, what: str = "consumer") -> str:
    if not is_consumer(text):
        raise InvalidInput(f"invalid {what} {ascii(text)[:40]}: expected 1 to 128 printable ASCII characters")
    return text
