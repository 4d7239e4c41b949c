"""A lean OpenAI-compatible server for throughput benchmarks: one asyncio loop, a fixed answer after a fixed delay.

The test suite's fake server parses and records every request in a thread per connection, which is right
for tests but adds its own CPU time to each request's latency. Benchmarks of the *harness* want the
server's latency to be the configured one and nothing more, so this server does no parsing beyond
HTTP framing. Run it in its own process with :func:`serve`.
"""

from __future__ import annotations

import asyncio
import json
import time
from multiprocessing.connection import Connection


def _answer(text: str) -> bytes:
    payload = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": len(text.split()), "total_tokens": 1000},
    }
    body = json.dumps(payload).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: bytes, latency_s: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            await asyncio.sleep(latency_s)
            writer.write(answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError, asyncio.CancelledError):
        # the client closed its connection, or the server is shutting down
        writer.close()


def serve(latency_s: float, reply: str, channel: Connection) -> None:
    """Serve on 127.0.0.1 (OS-chosen port), send the base URL through ``channel``, stop when it receives."""

    async def main() -> None:
        answer = _answer(reply)
        server = await asyncio.start_server(lambda r, w: _handle(r, w, answer, latency_s), "127.0.0.1", 0, backlog=1024)
        host, port = server.sockets[0].getsockname()[:2]
        channel.send(f"http://{host}:{port}/v1")
        await asyncio.get_running_loop().run_in_executor(None, channel.recv)
        server.close()

    asyncio.run(main())
