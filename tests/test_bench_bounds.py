"""What one response may cost the benchmark client: bounded bodies, events and inflation (issue 12 #4).

Each run happens in a subprocess that reports its own peak memory growth
(ru_maxrss), so the endpoint (a thread of this process) does not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_servers import ServerThread

from modelreg.bench import BenchmarkSettings
from modelreg.bench.transport import BodyTooLarge, SSEParser
from modelreg.errors import InvalidInput

MiB = 1 << 20
# Unbounded, each of these runs would hold hundreds of MB to GBs; bounded, a
# few MB per response. Generous, for allocator noise on a shared machine.
GROWTH_LIMIT_KB = 48 * 1024

_CLIENT = r"""
import json, resource, sys
from modelreg.bench import BenchmarkSettings, run_benchmark
url, kw, warm_url = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
run_benchmark(BenchmarkSettings(endpoint=warm_url, endpoint_kind="json", requests=2))  # warm the code paths first
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
d = run_benchmark(BenchmarkSettings(endpoint=url, **kw)).to_dict()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"errors": d["errors"], "completed": d["completed"], "grew_kb": after - before}))
"""


@pytest.fixture(scope="module")
def srv():
    with ServerThread() as server:
        yield server


def run_client(srv: ServerThread, path: str, **kw) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CLIENT, srv.url(path), json.dumps(kw), srv.url("/json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_huge_body_is_body_too_large_and_memory_stays_bounded(srv):
    # 256 MB each, two at a time: unbounded that is >= 512 MB held
    r = run_client(srv, "/huge?mb=256", endpoint_kind="json", requests=4, concurrency=2, max_body=MiB)
    assert r["errors"] == {"body_too_large": 4} and r["completed"] == 0
    assert r["grew_kb"] < GROWTH_LIMIT_KB, r


def test_an_endless_sse_line_is_body_too_large(srv):
    r = run_client(srv, "/endless_line", stream=True, requests=2, concurrency=2, max_body=MiB, timeout_s=20)
    assert r["errors"] == {"body_too_large": 2}
    assert r["grew_kb"] < GROWTH_LIMIT_KB, r


def test_an_endless_stream_of_small_events_ends_at_the_timeout_in_bounded_memory(srv):
    r = run_client(srv, "/endless_events", stream=True, requests=2, concurrency=2, timeout_s=1.0)
    assert r["errors"] == {"timeout": 2}
    assert r["grew_kb"] < GROWTH_LIMIT_KB, r


def test_a_gzip_bomb_is_body_too_large_without_inflating_it(srv):
    # ~1 MB on the wire (under max_body), 1 GiB inflated
    r = run_client(srv, "/gzip_bomb?mb=1024", endpoint_kind="json", requests=2, concurrency=2, max_body=2 * MiB)
    assert r["errors"] == {"body_too_large": 2}
    assert r["grew_kb"] < GROWTH_LIMIT_KB, r


def test_a_gzip_answer_is_inflated_and_checked(srv):
    from modelreg.bench import run_benchmark

    d = run_benchmark(BenchmarkSettings(endpoint=srv.url("/gzip"), requests=3)).to_dict()
    assert d["errors"] == {} and d["completed"] == 3
    assert d["tokens"] == {"prompt": 15, "completion": 3, "total": 18}  # the inflated JSON was read
    assert any(h.lower() == "accept-encoding: gzip, deflate" for h in srv.state.last_headers)


def test_a_large_error_body_costs_the_connection_not_memory(srv):
    r = run_client(srv, "/huge?mb=256&status=500", endpoint_kind="json", requests=4, concurrency=2)
    assert r["errors"] == {"http_500": 4}
    assert r["grew_kb"] < GROWTH_LIMIT_KB, r


def test_sse_parser_bounds_one_event_not_the_stream():
    parser = SSEParser(limit=100)
    events = []
    for _ in range(1000):  # 1000 small events: 30 kB of stream, fine
        events += parser.feed(b'data: {"x": 1}\n\n')
    assert len(events) == 1000 and events[0] == b'{"x": 1}'
    # one event's data lines add up past the limit, blank line or not
    with pytest.raises(BodyTooLarge):
        for _ in range(20):
            parser.feed(b"data: " + b"y" * 10 + b"\n")
    # one line without an end
    with pytest.raises(BodyTooLarge):
        SSEParser(limit=100).feed(b"data: " + b"z" * 200)
    # split anywhere, comments and CRLF
    parser = SSEParser(limit=100)
    out = []
    for piece in (b": hi\r\nda", b"ta: a\r\n", b"data: b\r", b"\n\r\n"):
        out += parser.feed(piece)
    assert out == [b"a\nb"]


@pytest.mark.parametrize("value", [0, 1023, 2 << 30, 1.5, True, "4MB"])
def test_max_body_must_be_a_sane_number_of_bytes(value):
    with pytest.raises(InvalidInput):
        BenchmarkSettings(endpoint="http://h/x", max_body=value).validate()
