"""A real local webhook receiver for tests: http.server on 127.0.0.1 in a thread.

    with WebhookReceiver(secret="s3cret", script=[500, 500, 200]) as rx:
        deliver(Webhook(rx.url, "ENV", "info"), payload, environ={"ENV": "s3cret"})
        assert rx.requests[-1].signature_ok

``script`` lists what to answer to the 1st, 2nd, ... request (the last entry
repeats): an int is an HTTP status; ("hang", seconds) sleeps before answering
(to provoke client timeouts); ("drip", seconds) sends the status line one
byte every `seconds` (each read succeeds, so only a total deadline ends it);
("redirect", status, location) answers a redirect.  The signature is checked independently of modelreg, with
hmac.compare_digest (constant time) over the exact raw body received.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class WebhookReceiver:
    secret: str
    script: list = field(default_factory=lambda: [200])
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver._handle(self, body)

            do_PUT = do_POST  # noqa: N815  (http.server dispatches on this name)

            def do_GET(self) -> None:
                receiver._handle(self, b"")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()  # wake any hanging handler
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "receiver not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    # -- behaviour
    def expected_signature(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        given = handler.headers.get("X-Modelreg-Signature") or ""
        ok = hmac.compare_digest(self.expected_signature(body).encode(), given.encode("utf-8", "replace"))
        with self._lock:
            self.requests.append(Received(handler.command, handler.path, dict(handler.headers.items()), body, ok))
            index = len(self.requests) - 1
        action = self.script[min(index, len(self.script) - 1)] if self.script else 200
        location = None
        if isinstance(action, tuple) and action[0] == "drip":
            try:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                    if self._stop.wait(action[1]):
                        return
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
            except OSError:  # the client gave up: the point
                pass
            return
        if isinstance(action, tuple) and action[0] == "hang":
            if self._stop.wait(action[1]):
                return
            status = 200
        elif isinstance(action, tuple) and action[0] == "redirect":
            status, location = action[1], action[2]
        else:
            status = int(action)
        reply = b'{"ok":true}' if 200 <= status < 300 else b'{"ok":false}'
        try:
            handler.send_response(status)
            if location:
                handler.send_header("Location", location)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(reply)))
            handler.end_headers()
            handler.wfile.write(reply)
        except OSError:  # the client gave up (timeout): fine
            pass
