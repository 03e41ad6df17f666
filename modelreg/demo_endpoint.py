"""A local OpenAI-compatible chat endpoint with a fixed delay, for trying
`modelreg benchmark` without a real model (the quickstart uses it).

Answers every POST with a chat completion after --delay-ms; when the request
body asks for `"stream": true` it streams SSE chunks (first token after the
delay, then one every --token-ms) ending with a usage chunk and [DONE].
"""

from __future__ import annotations

import asyncio
import json

USAGE = {"prompt_tokens": 8, "completion_tokens": 6, "total_tokens": 14}
COMPLETION = {
    "id": "demo-1",
    "object": "chat.completion",
    "model": "demo",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello from the demo endpoint."},
            "finish_reason": "stop",
        }
    ],
    "usage": USAGE,
}
TOKENS = ["Hello", " from", " the", " demo", " endpoint", "."]


def _chunk(delta: dict, usage: dict | None = None) -> bytes:
    doc: dict = {"id": "demo-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
    if usage:
        doc["usage"], doc["choices"] = usage, []
    return f"data: {json.dumps(doc)}\n\n".encode()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, token_gap: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            body = await reader.readexactly(length) if length else b""
            try:
                stream = bool(json.loads(body or b"{}").get("stream"))
            except (ValueError, AttributeError):
                stream = False
            await asyncio.sleep(delay)
            if not stream:
                payload = json.dumps(COMPLETION).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(payload)).encode()
                    + b"\r\n\r\n"
                    + payload
                )
                await writer.drain()
                continue
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            parts: list[bytes | None] = [_chunk({"role": "assistant"})]
            for i, token in enumerate(TOKENS):
                parts.append(_chunk({"content": token}))
                if i < len(TOKENS) - 1:
                    parts.append(None)  # pause marker
            parts += [_chunk({}, USAGE), b"data: [DONE]\n\n"]
            for part in parts:
                if part is None:
                    await asyncio.sleep(token_gap)
                    continue
                writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(host: str, port: int, delay_ms: float, token_ms: float, ready=None) -> None:
    server = await asyncio.start_server(lambda r, w: _handle(r, w, delay_ms / 1000, token_ms / 1000), host, port)
    if ready is not None:
        ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()
