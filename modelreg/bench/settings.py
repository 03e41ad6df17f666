"""What a benchmark run is asked to do, validated, and the form that gets stored."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from modelreg.errors import InvalidInput
from modelreg.manifest import endpoint_identity

ENDPOINT_KINDS = ("openai-chat", "json")
DEFAULT_REQUESTS = 100
# The most bytes held for one response: a plain body after decoding, or one
# event of a stream. Chat completions are kilobytes; 4 MiB leaves room for
# long answers with logprobs while bounding memory at concurrency x 4 MiB.
DEFAULT_MAX_BODY = 4 * 1024 * 1024
MAX_WORKERS = 64
_SECRET_WORDS = ("authorization", "key", "token", "secret", "password", "cookie")
REDACTED = "***"
# Header values stored with a run; any other header is stored by name only
# (a custom header is as likely to carry a credential as to not).
RECORDED_HEADER_VALUES = frozenset({"accept", "accept-encoding", "accept-language", "content-type"})


def is_secret_header(name: str) -> bool:
    low = name.lower()
    return any(word in low for word in _SECRET_WORDS)


def recorded_header_value(name: str, value: str) -> str | None:
    """The value stored for a -H header: only for a few plain headers, else None (the name alone is kept)."""
    if name.lower() in RECORDED_HEADER_VALUES and not is_secret_header(name):
        return value
    return None


def default_payload(endpoint_kind: str, stream: bool) -> bytes:
    if endpoint_kind == "openai-chat":
        body: dict = {
            "model": "modelreg-benchmark",
            "messages": [{"role": "user", "content": "Reply with the single word: pong"}],
            "max_tokens": 16,
            "stream": bool(stream),
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        return json.dumps(body, separators=(",", ":")).encode()
    return b"{}"


@dataclass(frozen=True)
class BenchmarkSettings:
    endpoint: str
    endpoint_kind: str = "openai-chat"
    requests: int | None = None
    duration_s: float | None = None
    concurrency: int = 1
    rate: float | None = None
    warmup: int = 0
    timeout_s: float = 30.0
    payload: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    api_key: str | None = field(default=None, repr=False)
    stream: bool = False
    max_error_rate: float = 0.01
    workers: int = 1
    max_body: int = DEFAULT_MAX_BODY

    def __repr__(self) -> str:  # no key, no secret header values
        rec = self.to_record()
        inner = ", ".join(f"{k}={v!r}" for k, v in rec.items())
        return f"BenchmarkSettings({inner})"

    __str__ = __repr__

    # -- validation -----------------------------------------------------------------
    def validate(self) -> None:
        if not isinstance(self.endpoint, str) or not self.endpoint.strip():
            raise InvalidInput("benchmark endpoint is empty: give an http:// or https:// URL")
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            shown = self.endpoint if len(self.endpoint) <= 80 else self.endpoint[:77] + "..."
            raise InvalidInput(
                f"invalid benchmark endpoint {_strip_userinfo(shown)!r}: expected an http:// or https:// URL"
            )
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise InvalidInput("invalid benchmark endpoint: bad port number") from None
        if self.endpoint_kind not in ENDPOINT_KINDS:
            raise InvalidInput(
                f"invalid endpoint kind {self.endpoint_kind!r}: expected one of {', '.join(ENDPOINT_KINDS)}"
            )
        if self.requests is not None and self.duration_s is not None:
            raise InvalidInput("give either --requests or --duration, not both")
        if self.requests is not None and (not _is_int(self.requests) or self.requests < 1):
            raise InvalidInput(f"--requests must be a whole number >= 1, got {self.requests!r}")
        if self.duration_s is not None and not (_is_num(self.duration_s) and self.duration_s > 0):
            raise InvalidInput(f"--duration must be a number of seconds > 0, got {self.duration_s!r}")
        if not _is_int(self.concurrency) or self.concurrency < 1:
            raise InvalidInput(f"--concurrency must be a whole number >= 1, got {self.concurrency!r}")
        if self.concurrency > 10_000:
            raise InvalidInput(f"--concurrency must be <= 10000, got {self.concurrency}")
        if self.rate is not None and not (_is_num(self.rate) and self.rate > 0):
            raise InvalidInput(f"--rate must be a number of requests per second > 0, got {self.rate!r}")
        if not _is_int(self.warmup) or self.warmup < 0:
            raise InvalidInput(f"--warmup must be a whole number >= 0, got {self.warmup!r}")
        if not (_is_num(self.timeout_s) and self.timeout_s > 0):
            raise InvalidInput(f"--timeout must be a number of seconds > 0, got {self.timeout_s!r}")
        if not (_is_num(self.max_error_rate) and 0 <= self.max_error_rate <= 1):
            raise InvalidInput(f"--max-error-rate must be between 0 and 1, got {self.max_error_rate!r}")
        if not _is_int(self.workers) or not 1 <= self.workers <= MAX_WORKERS:
            raise InvalidInput(f"--workers must be a whole number from 1 to {MAX_WORKERS}, got {self.workers!r}")
        if self.rate is None and _is_int(self.concurrency) and self.workers > self.concurrency:
            raise InvalidInput(
                f"--workers {self.workers} > --concurrency {self.concurrency}: "
                "each worker process needs a request in flight"
            )
        if not _is_int(self.max_body) or not 1024 <= self.max_body <= 1 << 30:
            raise InvalidInput(f"--max-body must be a whole number of bytes from 1024 to 1 GiB, got {self.max_body!r}")
        if self.payload is not None and not isinstance(self.payload, (bytes, bytearray)):
            raise InvalidInput("benchmark payload must be bytes")
        for item in self.headers:
            if not (isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item)):
                raise InvalidInput("benchmark headers must be (name, value) pairs")
            name, value = item
            if not name or any(c in name for c in ":\r\n ") or any(c in value for c in "\r\n"):
                raise InvalidInput(f"invalid header {name!r}: expected 'Name: value' on one line")
        if self.api_key is not None and (
            not isinstance(self.api_key, str) or not self.api_key or any(c in self.api_key for c in "\r\n")
        ):
            raise InvalidInput("the API key is empty or spans several lines")

    # -- derived ---------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return "open" if self.rate is not None else "closed"

    @property
    def total_requests(self) -> int | None:
        """Measured requests to send, or None for a --duration run."""
        if self.duration_s is not None:
            return None
        return self.requests if self.requests is not None else DEFAULT_REQUESTS

    def body(self) -> bytes:
        if self.payload is not None:
            return bytes(self.payload)
        return default_payload(self.endpoint_kind, self.stream)

    def request_headers(self) -> dict[str, str]:
        out = {"Content-Type": "application/json", "User-Agent": "modelreg-benchmark"}
        if self.stream:
            out["Accept"] = "text/event-stream"
        else:
            out["Accept"] = "application/json"
        # what the transport can inflate within max_body (aiohttp would also offer br/zstd when installed)
        out["Accept-Encoding"] = "gzip, deflate"
        for name, value in self.headers:
            # header names are case-insensitive: -H 'accept: x' replaces Accept, it does not add a second one
            for default in [k for k in out if k.lower() == name.lower()]:
                del out[default]
            out[name] = value
        if self.api_key:
            out["Authorization"] = f"Bearer {self.api_key}"
        return out

    def to_record(self) -> dict:
        body = self.body()
        return {
            "endpoint": _strip_userinfo(self.endpoint),
            "endpoint_kind": self.endpoint_kind,
            "mode": self.mode,
            "requests": self.total_requests,
            "duration_s": self.duration_s,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "warmup": self.warmup,
            "timeout_s": self.timeout_s,
            "payload_bytes": len(body),
            "payload_default": self.payload is None,
            "headers": [[n, recorded_header_value(n, v)] for n, v in self.headers],
            "api_key_set": bool(self.api_key),
            "stream": self.stream,
            "max_error_rate": self.max_error_rate,
            "workers": self.workers,
            "max_body": self.max_body,
        }


def _strip_userinfo(url: str) -> str:
    """A URL as it may be shown or stored: no user:password@, secret query values as ***."""
    return endpoint_identity(url)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
