"""The load-generating HTTP transport: aiohttp, one shared keep-alive pool.

Chosen by measurement (tests/benchmarks/bench_transports.py): against a local
50 ms endpoint at concurrency 64 aiohttp stays within a fraction of a
millisecond of wrk's p50 at >= 0.98x its throughput, where httpx's
AsyncClient adds tens to hundreds of milliseconds of client-side queueing.
httpx stays the library for single calls elsewhere in modelreg.

Wire times. A Python client does its per-request work one request at a time,
so when a wave of requests finishes together (a closed loop against an
endpoint with a fixed delay does exactly that) the last one of the wave is
sent, and its answer read, only after the work of all the others: timed from
inside the coroutine, that queueing reads as endpoint latency (issue 15: TTFT
p99 +15 to +70 ms at 32-128 streams). So the connection protocol notes when
the request's bytes were handed to the socket (``sent_at``) and when the
response's bytes came out of the poll (``received_at``), and the figures are
taken from those. Whatever delay the client still adds (a busy loop polls
late) is measured by the client health monitor instead of hidden.

Bounded reading (issue 12): one plain response body is read up to
``max_body`` bytes after decoding, and one server-sent event up to
``max_body`` bytes; past that the request fails as ``body_too_large`` and the
connection is dropped. aiohttp's own decompression is switched off: whether
it bounds one inflate step depends on the release (3.14 does; older ones the
project still accepts, aiohttp>=3.9, inflate each received chunk whole), so
gzip and deflate are inflated here with a zlib decompressobj that never
produces more than the room left.
"""

from __future__ import annotations

import asyncio
import functools
import json
import selectors
import time
import zlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import aiohttp
from aiohttp.client_proto import ResponseHandler

from modelreg.bench.settings import BenchmarkSettings

CONNECT = "connect"
TIMEOUT = "timeout"
BAD_BODY = "bad_body"
STREAM_BROKEN = "stream_broken"
BODY_TOO_LARGE = "body_too_large"

# A non-2xx body is read (and dropped) up to this size to keep the connection
# reusable; a larger one costs the connection instead of the memory.
ERROR_BODY_LIMIT = 64 * 1024
# The most bytes one inflate step produces while reading a stream.
INFLATE_STEP = 256 * 1024

now = time.perf_counter


class PollStampingSelector(selectors.DefaultSelector):
    """The loop's selector, noting when each poll returned.

    That instant is when the client learned of every byte handed out in the
    loop iteration that follows, however long the callbacks before a given
    socket's take: the arrival time for a response's bytes.
    """

    returned_at = 0.0

    def select(self, timeout=None):
        ready = super().select(timeout)
        self.returned_at = now()
        return ready


@dataclass(frozen=True)
class EventLoopChoice:
    loop: asyncio.AbstractEventLoop
    arrival_clock: Callable[[], float]
    name: str  # "uvloop" or "asyncio", reported with the client's health


def new_event_loop() -> EventLoopChoice:
    """uvloop when installed, else a stdlib loop whose polls are time-stamped.

    Measured on the 2-core test machine (tests/benchmarks/bench_accuracy.py):
    uvloop drives 30-50% more requests a second from one process and, at 128
    streams, keeps the loop lag and the ITL p99 far closer to the endpoint's;
    its callbacks for the sockets a poll reported run inside that poll, so the
    clock read in data_received is the poll's. The stdlib loop runs them later,
    from its ready queue, hence the time-stamping selector there.
    """
    try:
        import uvloop
    except ImportError:
        selector = PollStampingSelector()
        return EventLoopChoice(asyncio.SelectorEventLoop(selector), lambda: selector.returned_at, "asyncio")
    loop = uvloop.new_event_loop()
    return EventLoopChoice(loop, _PollPhaseClock(loop), "uvloop")


class _PollPhaseClock:
    """For uvloop: the time its poll phase began handing out reads, the same for every read in it.

    uvloop calls each reported socket's data_received in turn inside the poll
    phase; at 64 sockets at once the last would read the clock ~1.5 ms after the
    first. The first read of a phase takes the time; a call_soon (run after the
    poll phase) lets the next phase take a new one.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._stamp = 0.0
        self._open = False

    def __call__(self) -> float:
        if not self._open:
            self._stamp = now()
            self._open = True
            self._loop.call_soon(self._close)
        return self._stamp

    def _close(self) -> None:
        self._open = False


@dataclass(slots=True)
class Sample:
    start: float  # when the client began this request (timeouts run from here)
    origin: float = 0.0  # latency runs from here: the send (closed loop) or the scheduled time (open loop)
    sent: float = 0.0  # when the request's last bytes went to the socket
    end: float = 0.0
    error: str | None = None
    ttft: float | None = None  # seconds from origin to the first content chunk
    itl: array | None = None  # seconds between content chunks
    tokens: tuple[int, int, int] | None = None  # prompt, completion, total


class StreamBroken(Exception):
    pass


class BadBody(Exception):
    pass


class BodyTooLarge(Exception):
    pass


# -- wire times -----------------------------------------------------------------------


class _SendStampingTransport:
    """The socket transport as aiohttp's writer sees it: each write notes the time first."""

    __slots__ = ("_handler", "_transport")

    def __init__(self, transport: asyncio.Transport, handler: _WireTimedHandler):
        self._transport = transport
        self._handler = handler

    def write(self, data) -> None:
        self._handler.sent_at = now()
        self._transport.write(data)

    def writelines(self, chunks) -> None:
        self._handler.sent_at = now()
        self._transport.writelines(chunks)

    # the calls aiohttp makes for every read, forwarded without the __getattr__ detour
    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name, default=None):
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name):
        return getattr(self._transport, name)


class _WireTimedHandler(ResponseHandler):
    """aiohttp's connection protocol, noting when the request left and the answer's bytes arrived.

    One request at a time runs on a connection (HTTP/1.1, no pipelining), so
    the latest stamps of the connection a response came on are that response's.
    """

    def __init__(self, *args, arrival_clock: Callable[[], float], **kwargs):
        super().__init__(*args, **kwargs)
        self.sent_at = 0.0
        self.received_at = 0.0
        self._arrival_clock = arrival_clock

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if self.transport is not None:
            self.transport = _SendStampingTransport(self.transport, self)  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if data:  # aiohttp calls it with b"" to resume parsing: not an arrival
            self.received_at = self._arrival_clock()
        super().data_received(data)


class _WireTimedConnector(aiohttp.TCPConnector):
    def __init__(self, *args, arrival_clock: Callable[[], float], **kwargs):
        super().__init__(*args, **kwargs)
        # aiohttp builds each connection's protocol with this factory (a private
        # attribute since 3.0); were it renamed, requests still work and are timed
        # from the coroutine instead (see Transport._stamps)
        self._factory = functools.partial(  # type: ignore[assignment]
            _WireTimedHandler, loop=asyncio.get_running_loop(), arrival_clock=arrival_clock
        )


# -- bounded decoding ---------------------------------------------------------------------


class _Identity:
    def chunks(self, data: bytes, step: int) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> None:
        pass


class _Inflater:
    """gzip / deflate inflation that never yields more than ``step`` bytes at a time."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self._d: zlib._Decompress | None = None

    def _new(self, first: bytes) -> zlib._Decompress:
        if self.encoding == "deflate":
            # RFC 9110 deflate is zlib-wrapped; some servers send raw deflate (check the CM nibble)
            return zlib.decompressobj(15 if first and first[0] & 0x0F == 8 else -15)
        return zlib.decompressobj(16 + 15)

    def chunks(self, data: bytes, step: int) -> Iterator[bytes]:
        try:
            while data:
                if self._d is None:
                    self._d = self._new(data)
                d = self._d
                out = d.decompress(data, step)
                data = d.unconsumed_tail
                if d.eof:
                    data = d.unused_data  # a further gzip member, or trailing bytes
                    self._d = None
                if out:
                    yield out
        except zlib.error:
            raise BadBody() from None

    def finish(self) -> None:
        if self._d is not None:  # a member was begun and never ended: truncated
            raise BadBody()


def _decoder(resp: aiohttp.ClientResponse) -> _Identity | _Inflater:
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return _Identity()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Inflater("gzip" if encoding == "x-gzip" else encoding)
    raise BadBody()  # br, zstd, ...: not asked for (Accept-Encoding: gzip, deflate), cannot be checked


class SSEParser:
    """Incremental text/event-stream parser that holds at most ``limit`` bytes of one event.

    Lines are split in C (bytes.split): this runs once per read of every
    stream, and at 128 streams its cost is what the loop lag is made of.
    """

    __slots__ = ("_data", "_size", "_tail", "limit")

    def __init__(self, limit: int):
        self.limit = limit
        self._tail = b""  # an unfinished line
        self._data: list[bytes] = []  # data lines of the event being read
        self._size = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of each event completed by ``chunk``; raises BodyTooLarge past the limit."""
        if self._tail:
            chunk = self._tail + chunk
        lines = chunk.split(b"\n")
        self._tail = lines.pop()
        events: list[bytes] = []
        for line in lines:
            if line[-1:] == b"\r":
                line = line[:-1]
            if not line:  # blank line: dispatch the event
                if self._data:
                    events.append(self._data[0] if len(self._data) == 1 else b"\n".join(self._data))
                    self._data = []
                    self._size = 0
            elif line[:5] == b"data:":
                value = line[6:] if line[5:6] == b" " else line[5:]
                self._data.append(value)
                self._size += len(value) + 1
                if self._size > self.limit:
                    raise BodyTooLarge()
            # else a comment (":..."), or event:, id:, retry:: irrelevant here
        if self._size + len(self._tail) > self.limit:
            raise BodyTooLarge()
        return events


# -- the transport ----------------------------------------------------------------------


class Transport:
    """A pooled aiohttp session sending the configured request."""

    def __init__(
        self, settings: BenchmarkSettings, *, max_connections: int, arrival_clock: Callable[[], float] | None = None
    ):
        self.settings = settings
        self.url = settings.endpoint
        self.body = settings.body()
        self.headers = settings.request_headers()
        self.timeout = settings.timeout_s
        self.max_body = settings.max_body
        self.chat = settings.endpoint_kind == "openai-chat"
        self.max_connections = max_connections
        self.arrival_clock = arrival_clock or now
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = _WireTimedConnector(
            limit=self.max_connections,  # 0 = unlimited (open loop)
            limit_per_host=0,
            ttl_dns_cache=300,
            keepalive_timeout=max(self.timeout, 30.0),
            arrival_clock=self.arrival_clock,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            # our own asyncio.timeout bounds each request; these only bound the pieces
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,  # inflated here, within max_body (see the module doc)
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self.session is not None:
            try:
                await asyncio.wait_for(self.session.close(), 2.0)
            except (TimeoutError, Exception):
                pass
            self.session = None

    async def request(self, scheduled: float | None = None) -> Sample:
        """Send one request; latency from the send, or from ``scheduled`` (open loop)."""
        sample = Sample(start=now())
        got_headers = False
        try:
            async with asyncio.timeout(self.timeout):
                assert self.session is not None, "open() first"
                async with self.session.post(
                    self.url, data=self.body, headers=self.headers, allow_redirects=False
                ) as resp:
                    got_headers = True
                    stamps = self._stamps(resp)
                    sample.sent = stamps.sent_at if stamps is not None and stamps.sent_at else sample.start
                    sample.origin = sample.sent if scheduled is None else scheduled
                    try:
                        await self._read_response(resp, sample, stamps)
                    except Exception:
                        # drop the connection rather than read the rest (or hand a
                        # connection a broken stream came on to the next request)
                        resp.close()
                        raise
        except TimeoutError:
            sample.error = TIMEOUT
        except BodyTooLarge:
            sample.error = BODY_TOO_LARGE
        except StreamBroken:
            sample.error = STREAM_BROKEN
        except BadBody:
            sample.error = BAD_BODY
        except (
            aiohttp.ClientPayloadError,
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientOSError,
            ConnectionError,
        ) as exc:
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

    @staticmethod
    def _stamps(resp: aiohttp.ClientResponse) -> _WireTimedHandler | None:
        conn = resp.connection
        proto = conn.protocol if conn is not None else None
        return proto if isinstance(proto, _WireTimedHandler) else None

    def _arrived(self, stamps: _WireTimedHandler | None) -> float:
        return stamps.received_at if stamps is not None and stamps.received_at else now()

    async def _read_response(
        self, resp: aiohttp.ClientResponse, sample: Sample, stamps: _WireTimedHandler | None
    ) -> None:
        if resp.status >= 300 or resp.status < 200:
            sample.error = f"http_{resp.status}"
            await self._discard(resp)
            sample.end = now()
            return
        ctype = resp.headers.get("Content-Type", "")
        if self.settings.stream and "text/event-stream" in ctype:
            await self._read_stream(resp, sample, stamps)
            return
        raw = await self._read_body(resp)
        sample.end = self._arrived(stamps)
        self._check_body(raw, sample)

    async def _discard(self, resp: aiohttp.ClientResponse) -> None:
        """Read and drop a small error body (the connection stays reusable); drop the connection for a large one."""
        if resp.content_length is not None and resp.content_length > ERROR_BODY_LIMIT:
            resp.close()
            return
        seen = 0
        try:
            while True:
                piece = await resp.content.readany()
                if not piece:
                    return
                seen += len(piece)
                if seen > ERROR_BODY_LIMIT:
                    resp.close()
                    return
        except aiohttp.ClientError:
            pass

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        limit = self.max_body
        if resp.content_length is not None and resp.content_length > limit:
            raise BodyTooLarge()  # said so up front: read none of it
        decoder = _decoder(resp)
        parts: list[bytes] = []
        raw_size = size = 0
        while True:
            piece = await resp.content.readany()
            if not piece:
                break
            raw_size += len(piece)
            if raw_size > limit:
                raise BodyTooLarge()
            for out in decoder.chunks(piece, limit - size + 1):
                size += len(out)
                if size > limit:
                    raise BodyTooLarge()
                parts.append(out)
        decoder.finish()
        return b"".join(parts)

    # -- bodies ------------------------------------------------------------------------
    def _check_body(self, raw: bytes, sample: Sample) -> None:
        try:
            doc = json.loads(raw)
        except ValueError:
            raise BadBody() from None
        if self.chat:
            if not isinstance(doc, dict) or not isinstance(doc.get("choices"), list):
                raise BadBody()
            sample.tokens = _usage(doc.get("usage"))

    async def _read_stream(
        self, resp: aiohttp.ClientResponse, sample: Sample, stamps: _WireTimedHandler | None
    ) -> None:
        """Server-sent events: TTFT, ITL, usage; [DONE] ends it, EOF before [DONE] is broken."""
        chat = self.chat
        decoder = _decoder(resp)
        parser = SSEParser(self.max_body)
        itl = sample.itl = array("d")
        last_content: float | None = None
        origin = sample.origin
        identity = isinstance(decoder, _Identity)
        content = resp.content
        while True:
            piece = await content.readany()
            if not piece:
                raise StreamBroken()
            arrived = stamps.received_at if stamps is not None and stamps.received_at else now()
            for out in (piece,) if identity else decoder.chunks(piece, INFLATE_STEP):
                for data in parser.feed(out):
                    if data == b"[DONE]" or data.strip() == b"[DONE]":
                        sample.end = arrived
                        return
                    try:
                        doc = json.loads(data.decode())  # SSE is UTF-8; a str skips json's encoding sniffing
                    except ValueError:  # UnicodeDecodeError included
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
                            sample.ttft = arrived - origin
                        else:
                            itl.append(arrived - last_content)
                        last_content = arrived


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
