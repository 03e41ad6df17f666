"""Webhook signatures: ``X-Modelreg-Signature: sha256=<hex HMAC-SHA256(secret, body)>``.

The HMAC covers the exact raw request body bytes.  Receivers recompute it over
the bytes they received (before any JSON parsing) and compare in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from modelreg.errors import InvalidInput

PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    if not isinstance(body, (bytes, bytearray)):
        raise InvalidInput("webhook body must be bytes")
    if not secret:
        raise InvalidInput("webhook secret is empty")
    digest = hmac.new(secret.encode("utf-8"), bytes(body), hashlib.sha256).hexdigest()
    return PREFIX + digest


def verify(body: bytes, secret: str, header: str | bytes | None) -> bool:
    """Constant-time check of a signature header; False on anything malformed."""
    if not secret or header is None or not isinstance(body, (bytes, bytearray)):
        return False
    if isinstance(header, bytes):
        try:
            header = header.decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(header, str):
        return False
    expected = sign(body, secret).encode("ascii")
    given = header.strip().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)
