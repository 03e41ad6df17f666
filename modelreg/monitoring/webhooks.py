"""Signed webhook delivery.

Request
    POST <url>, body = JSON of the payload (sorted keys, compact separators,
    UTF-8, no NaN/Infinity), headers::

        Content-Type: application/json
        User-Agent: modelreg-webhook
        X-Modelreg-Signature: sha256=<hex HMAC-SHA256(secret, exact body bytes)>
        X-Modelreg-Timestamp: <unix seconds of this attempt>
        X-Modelreg-Delivery: <id, the same on every attempt: receivers can dedupe>

    The signature covers the body only (the spec's contract); the timestamp
    is informational.

Retries: up to ``attempts`` tries, sleeping ``backoff_s * 2**(n-1)`` between
them, on connection errors, timeouts, other transport errors, HTTP 5xx and
HTTP 429.  Other 4xx and 3xx are final (redirects are never followed: a
signed body must not be re-sent to a place the operator did not configure).
``timeout`` is each attempt's total deadline, from connect to the status
line (a receiver that drips a byte every few seconds is cut off at it, not
kept alive by it); the response body is never read.

Secrets: the key is read from the environment variable named by
``secret_env`` at delivery time and lives only in local variables.  Outcome
errors are built from exception *types* and messages that never contain
request headers, and are scrubbed of the secret anyway.  A missing or empty
variable gives ``ok=False, attempts=0`` with an error naming the variable;
nothing is sent unsigned.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from modelreg.errors import InvalidInput
from modelreg.monitoring.signing import sign
from modelreg.policy import Webhook

log = logging.getLogger("modelreg.monitoring.webhooks")

SIGNATURE_HEADER = "X-Modelreg-Signature"
TIMESTAMP_HEADER = "X-Modelreg-Timestamp"
DELIVERY_HEADER = "X-Modelreg-Delivery"


def display_url(url: str) -> str:
    """scheme://host[:port]/path without query or userinfo (tokens often live there)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return url.split("?")[0].split("@")[-1]
    return f"{parts.scheme}://{host}{parts.path}"


@dataclass(frozen=True)
class DeliveryOutcome:
    ok: bool
    attempts: int
    status: int | None
    error: str | None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        from modelreg.clock import isoformat

        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """The exact body that is sent and signed."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
    ).encode("utf-8")


def _scrub(text: str, secret: str | None) -> str:
    if secret and secret in text:
        text = text.replace(secret, "***")
    return text


def deliver(
    target: Webhook,
    payload: dict,
    *,
    timeout: float = 5.0,
    attempts: int = 3,
    backoff_s: float = 0.2,
    environ: Mapping[str, str] = os.environ,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryOutcome:
    if attempts < 1:
        raise InvalidInput(f"attempts: expected at least 1, got {attempts}")
    secret = environ.get(target.secret_env)
    if not secret:
        state = "is empty" if secret == "" else "is not set"
        return DeliveryOutcome(
            False, 0, None, f"webhook secret environment variable {target.secret_env} {state}; not delivering unsigned"
        )
    try:
        body = encode_payload(payload)
    except (TypeError, ValueError) as exc:
        return DeliveryOutcome(False, 0, None, _scrub(f"payload is not JSON-serialisable: {exc}", secret))
    signature = sign(body, secret)
    delivery_id = uuid.uuid4().hex

    import asyncio

    import httpx  # imported here: webhook delivery is rare, httpx import is not free

    async def post(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
        # One attempt under one total deadline: a receiver that drips a byte
        # every few seconds never resets it (httpx's own timeouts are per read).
        async with asyncio.timeout(timeout):
            request = client.build_request("POST", target.url, content=body, headers=headers)
            response = await client.send(request, stream=True)
            await response.aclose()
            return response.status_code

    async def attempts_until_done() -> DeliveryOutcome:
        status: int | None = None
        error: str | None = None
        tries = 0
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), follow_redirects=False, headers={"User-Agent": "modelreg-webhook"}
        ) as client:
            for attempt in range(1, attempts + 1):
                tries = attempt
                headers = {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: signature,
                    TIMESTAMP_HEADER: str(int(time.time())),
                    DELIVERY_HEADER: delivery_id,
                }
                retry = False
                try:
                    status = await post(client, headers)
                except (TimeoutError, httpx.TimeoutException) as exc:
                    status, error, retry = None, f"timed out ({type(exc).__name__}) after {timeout:g}s", True
                except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
                    status, error, retry = None, f"{type(exc).__name__}: {exc}", False
                except httpx.TransportError as exc:
                    status, error, retry = None, f"{type(exc).__name__}: {exc}", True
                else:
                    if 200 <= status < 300:
                        log.debug(
                            "webhook %s delivered (HTTP %s, attempt %d)", display_url(target.url), status, attempt
                        )
                        return DeliveryOutcome(True, attempt, status, None)
                    if 300 <= status < 400:
                        error, retry = f"HTTP {status} (redirects are not followed)", False
                    elif status >= 500 or status == 429:
                        error, retry = f"HTTP {status}", True
                    else:
                        error, retry = f"HTTP {status}", False
                error = _scrub(error, secret)
                log.info("webhook %s attempt %d/%d failed: %s", display_url(target.url), attempt, attempts, error)
                if not retry or attempt == attempts:
                    break
                sleep(backoff_s * 2 ** (attempt - 1))
        return DeliveryOutcome(False, tries, status, error)

    return asyncio.run(attempts_until_done())
