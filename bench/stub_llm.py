"""A fast OpenAI-compatible stub for the benchmarks: LiteLLM as the app sees it, or a provider as
LiteLLM sees it, answering every chat completion after a fixed latency.

    .venv/bin/python bench/stub_llm.py --port 8099 --latency-ms 50

Pure asyncio streams (stdlib, one process, one thread): thousands of keep-alive connections
waiting out their latency together cost nothing but a timer each, so at concurrency 64 the stub
still answers in latency + a fraction of a millisecond. It answers:

- POST /v1/chat/completions (and /chat/completions, how an OpenAI client with api_base `…` and
  not `…/v1` would call): a valid completion whose content is the JSON the app asks for
  (`suggestions`, `explanations`, `confidenceLevel`) and whose `usage` counts
  ceil(UTF-8 bytes of the messages / 4) prompt tokens and --completion-tokens completion tokens;
- GET /health and GET /v1/models: 200, for readiness checks;
- anything else: 404.

Prints `listening on http://127.0.0.1:<port>` once it accepts connections; stops on SIGTERM or
SIGINT.
"""

import argparse
import asyncio
import contextlib
import json
import math
import signal
import time

LOOPBACK = "127.0.0.1"
CONTENT = json.dumps(
    {
        "suggestions": ["Hello, your parcel left our warehouse today and arrives tomorrow."],
        "explanations": ["The customer asks where their order is."],
        "confidenceLevel": "high",
    }
)
COMPLETION_PATHS = {"/v1/chat/completions", "/chat/completions"}
MAX_BODY_BYTES = 4 * 1024 * 1024
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Content Too Large"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--completion-tokens", type=int, default=60)
    return parser.parse_args(argv)


def completion(request: dict, *, completion_tokens: int) -> dict:
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
    prompt_bytes = sum(len(str(m.get("content", "")).encode()) for m in messages)
    prompt_tokens = math.ceil(prompt_bytes / 4)
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": CONTENT},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class Stub:
    def __init__(self, *, latency: float, completion_tokens: int):
        self.latency = latency
        self.completion_tokens = completion_tokens

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: requests one after the other while the client keeps it alive."""
        try:
            while await self.answer_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away or sent garbage: nothing more to say to it
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def answer_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request and answer it; False when the connection is to be closed."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, version = [*request_line.split(" "), "", ""][:3]
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            await self.send(writer, 413, {"error": "body too large"}, keep_alive=False)
            return False
        body = await reader.readexactly(length) if length else b""
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        path = path.split("?", 1)[0]
        if method == "POST" and path in COMPLETION_PATHS:
            try:
                request = json.loads(body)
            except ValueError:
                await self.send(writer, 400, {"error": "invalid JSON"}, keep_alive=keep_alive)
                return keep_alive
            await asyncio.sleep(self.latency)
            answer = completion(
                request if isinstance(request, dict) else {},
                completion_tokens=self.completion_tokens,
            )
            await self.send(writer, 200, answer, keep_alive=keep_alive)
        elif method == "GET" and path in ("/health", "/v1/models"):
            await self.send(writer, 200, {"object": "list", "data": []}, keep_alive=keep_alive)
        else:
            await self.send(writer, 404, {"error": "not found"}, keep_alive=keep_alive)
        return keep_alive

    @staticmethod
    async def send(writer: asyncio.StreamWriter, status: int, payload: dict, *, keep_alive: bool):
        body = json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()


async def main(args: argparse.Namespace) -> None:
    stub = Stub(latency=args.latency_ms / 1000, completion_tokens=args.completion_tokens)
    server = await asyncio.start_server(stub.serve, LOOPBACK, args.port, backlog=4096)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on http://{LOOPBACK}:{port}", flush=True)
    async with server:
        await stopping.wait()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
