"""The load-generating HTTP transport: aiohttp, one shared keep-alive pool.

Chosen by measurement (tests/benchmarks/bench_transports.py): against a local
50 ms endpoint at concurrency 64 aiohttp stays within a fraction of a
millisecond of wrk's p50 at >= 0.98x its throughput, where httpx's
AsyncClient adds tens to hundreds of milliseconds of client-side queueing.
httpx stays the library for single calls elsewhere in modelreg.

One request is timed from an *origin* the runner chooses (the moment it was
sent in a closed loop, the moment it was scheduled in an open loop) to the
end of the response body (or ``data: [DONE]`` for a stream).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import aiohttp

from modelreg.bench.settings import BenchmarkSettings

CONNECT = "connect"
TIMEOUT = "timeout"
BAD_BODY = "bad_body"
STREAM_BROKEN = "stream_broken"

now = time.perf_counter


@dataclass(slots=True)
class Sample:
    origin: float
    end: float = 0.0
    error: str | None = None
    ttft: float | None = None  # seconds from origin to the first content chunk
    itl: list[float] = field(default_factory=list)  # seconds between content chunks
    tokens: tuple[int, int, int] | None = None  # prompt, completion, total

    @property
    def latency(self) -> float:
        return self.end - self.origin


class StreamBroken(Exception):
    pass


class BadBody(Exception):
    pass


class Transport:
    """A pooled aiohttp session sending the configured request."""

    def __init__(self, settings: BenchmarkSettings, *, max_connections: int):
        self.settings = settings
        self.url = settings.endpoint
        self.body = settings.body()
        self.headers = settings.request_headers()
        self.timeout = settings.timeout_s
        self.max_connections = max_connections
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,  # 0 = unlimited (open loop)
            limit_per_host=0,
            ttl_dns_cache=300,
            keepalive_timeout=max(self.timeout, 30.0),
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            # our own asyncio.timeout bounds each request; these only bound the pieces
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self.session is not None:
            try:
                await asyncio.wait_for(self.session.close(), 2.0)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing is best effort
                pass
            self.session = None

    async def request(self, origin: float) -> Sample:
        sample = Sample(origin=origin)
        got_headers = False
        try:
            async with asyncio.timeout(self.timeout):
                async with self.session.post(
                    self.url, data=self.body, headers=self.headers, allow_redirects=False
                ) as resp:
                    got_headers = True
                    if resp.status >= 300 or resp.status < 200:
                        sample.error = f"http_{resp.status}"
                        try:
                            await resp.read()  # keep the connection reusable
                        except aiohttp.ClientError:
                            pass
                        sample.end = now()
                        return sample
                    ctype = resp.headers.get("Content-Type", "")
                    if self.settings.stream and "text/event-stream" in ctype:
                        await self._read_stream(resp, sample)
                    else:
                        raw = await resp.read()
                        sample.end = now()
                        self._check_body(raw, sample)
        except (asyncio.TimeoutError, TimeoutError):
            sample.error = TIMEOUT
        except StreamBroken:
            sample.error = STREAM_BROKEN
        except BadBody:
            sample.error = BAD_BODY
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                ConnectionError) as exc:
            if got_headers and self.settings.stream:
                sample.error = STREAM_BROKEN
            elif isinstance(exc, aiohttp.ClientPayloadError):
                sample.error = BAD_BODY if not _is_disconnect(exc) else CONNECT
            else:
                sample.error = CONNECT
        except aiohttp.ClientResponseError:
            sample.error = BAD_BODY  # not valid HTTP
        except (aiohttp.ClientError, OSError):
            sample.error = CONNECT
        if sample.error is not None and not sample.end:
            sample.end = now()
        return sample

    # -- bodies ------------------------------------------------------------------------
    def _check_body(self, raw: bytes, sample: Sample) -> None:
        try:
            doc = json.loads(raw)
        except ValueError:
            raise BadBody() from None
        if self.settings.endpoint_kind == "openai-chat":
            if not isinstance(doc, dict) or not isinstance(doc.get("choices"), list):
                raise BadBody()
            sample.tokens = _usage(doc.get("usage"))

    async def _read_stream(self, resp: aiohttp.ClientResponse, sample: Sample) -> None:
        """Server-sent events: TTFT, ITL, usage; [DONE] ends it, EOF before [DONE] is broken."""
        chat = self.settings.endpoint_kind == "openai-chat"
        buf = b""
        data_lines: list[bytes] = []
        last_content: float | None = None
        async for piece in resp.content.iter_any():
            arrived = now()
            buf += piece
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    break
                line = buf[:nl]
                buf = buf[nl + 1 :]
                if line.endswith(b"\r"):
                    line = line[:-1]
                if line:
                    if line.startswith(b":"):
                        continue  # comment / keep-alive
                    name, _, value = line.partition(b":")
                    if name == b"data":
                        data_lines.append(value[1:] if value.startswith(b" ") else value)
                    continue  # event:, id:, retry: are irrelevant here
                # blank line: dispatch the event
                if not data_lines:
                    continue
                data = b"\n".join(data_lines)
                data_lines = []
                if data.strip() == b"[DONE]":
                    sample.end = arrived
                    return
                try:
                    doc = json.loads(data)
                except ValueError:
                    raise BadBody() from None
                if not isinstance(doc, dict):
                    if chat:
                        raise BadBody()
                    continue
                if chat and "error" in doc and "choices" not in doc:
                    raise BadBody()
                if doc.get("usage"):
                    sample.tokens = _usage(doc["usage"]) or sample.tokens
                if _has_content(doc) if chat else True:
                    if last_content is None:
                        sample.ttft = arrived - sample.origin
                    else:
                        sample.itl.append(arrived - last_content)
                    last_content = arrived
        raise StreamBroken()


def _has_content(doc: dict) -> bool:
    choices = doc.get("choices")
    if not isinstance(choices, list):
        return False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            for key in ("content", "reasoning_content", "reasoning"):
                if isinstance(delta.get(key), str) and delta[key]:
                    return True
            if delta.get("tool_calls"):
                return True
        if isinstance(choice.get("text"), str) and choice["text"]:
            return True
    return False


def _usage(usage) -> tuple[int, int, int] | None:
    if not isinstance(usage, dict):
        return None
    p = usage.get("prompt_tokens")
    c = usage.get("completion_tokens")
    t = usage.get("total_tokens")
    if not any(isinstance(x, int) for x in (p, c, t)):
        return None
    p = p if isinstance(p, int) else 0
    c = c if isinstance(c, int) else 0
    t = t if isinstance(t, int) else p + c
    return (p, c, t)


def _is_disconnect(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("not complete", "connection", "reset", "disconnect", "lost"))
