"""FakeUpstream: an OpenAI-compatible LLM server on loopback, with switchable failure modes.

    with FakeUpstream() as fake:
        settings.KEYBUZZ = {**settings.KEYBUZZ, "LITELLM_BASE_URL": fake.url}
        fake.behaviour = "drip"

It serves real sockets from daemon threads (tests that run the app under gunicorn share one fake
across worker processes), records every request, and never lets a test hang: every handler that
waits also watches for the client leaving and for the server shutting down.
"""

import contextlib
import json
import math
import select
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_CONTENT = json.dumps(
    {
        "suggestions": ["Hello, your parcel left our warehouse today and arrives tomorrow."],
        "explanations": ["The customer asks where their order is."],
        "confidenceLevel": "high",
    }
)
BEHAVIOURS = ("ok", "status", "garbage", "truncated", "huge", "drip", "hang", "reset", "no_usage")
HUGE_BODY_BYTES = 5 * 1024 * 1024
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: object


def unreachable_url() -> str:
    """A loopback URL where nothing listens: connecting there is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeUpstream:
    """The fake LiteLLM; change its attributes between requests to change what it answers."""

    unreachable_url = staticmethod(unreachable_url)

    def __init__(self):
        self.behaviour = "ok"
        self.status = 500  # for "status"
        self.failures_left = 0  # answer `status` to this many requests first, whatever behaviour
        self.delay = 0.0  # seconds before answering "ok"
        self.drip_interval = 0.2  # seconds between bytes for "drip"
        # "hang" and "drip" end (closing) after this, so a client that ignores its deadline
        # fails its test instead of hanging the suite.
        self.give_up_after = 60.0
        self.content = DEFAULT_CONTENT  # the assistant message's content
        self.prompt_tokens: int | None = None  # None: ceil(UTF-8 bytes of the messages / 4)
        self.completion_tokens: int | None = None  # None: the request's max_tokens
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeUpstream":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": _POLL_SECONDS}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()  # waiting handlers give up
        self._server.shutdown()
        self._server.disconnect_all()  # idle keep-alive handlers stop reading
        self._server.server_close()
        self._thread.join(timeout=5)

    def completion(self, request: object) -> dict:
        """The chat completion answering `request`, worst-case completion tokens by default."""
        request = request if isinstance(request, dict) else {}
        messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
        prompt_bytes = sum(len(str(m.get("content", "")).encode()) for m in messages)
        prompt_tokens = self.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = math.ceil(prompt_bytes / 4)
        completion_tokens = self.completion_tokens
        if completion_tokens is None:
            completion_tokens = request.get("max_tokens", 0)
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts from several app processes must not be dropped
    fake: FakeUpstream

    def __init__(self, *args, **kwargs):
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        """HTTPServer's own looks up the host's FQDN, which can be slow; loopback needs none."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def disconnect_all(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like LiteLLM, so client pooling is exercised
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, *args) -> None:
        """Quiet: the test output is for the tests."""

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        fake.requests.append(
            RecordedRequest("POST", self.path, dict(self.headers.items()), payload)
        )
        behaviour = fake.behaviour
        with fake.lock:
            if fake.failures_left > 0:
                fake.failures_left -= 1
                behaviour = "status"
        try:
            getattr(self, f"_answer_{behaviour}")(fake, payload)
        except OSError:  # the client went away; nothing more to say to it
            self.close_connection = True

    def _answer_ok(self, fake: FakeUpstream, payload: object) -> None:
        if fake.delay and self._wait_while_connected(fake, seconds=fake.delay):
            return
        self._send(200, json.dumps(fake.completion(payload)).encode())

    def _answer_status(self, fake: FakeUpstream, payload: object) -> None:
        error = {"message": "fake upstream error", "type": "fake_error", "code": fake.status}
        self._send(fake.status, json.dumps({"error": error}).encode())

    def _answer_garbage(self, fake: FakeUpstream, payload: object) -> None:
        self._send(200, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")

    def _answer_no_usage(self, fake: FakeUpstream, payload: object) -> None:
        completion = fake.completion(payload)
        del completion["usage"]
        self._send(200, json.dumps(completion).encode())

    def _answer_truncated(self, fake: FakeUpstream, payload: object) -> None:
        body = json.dumps(fake.completion(payload)).encode()
        self._send_headers(200, length=len(body) + 100)
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True

    def _answer_huge(self, fake: FakeUpstream, payload: object) -> None:
        """Valid JSON of several MiB, sent without a length so only the byte count can stop it."""
        completion = fake.completion(payload)
        completion["padding"] = "x" * HUGE_BODY_BYTES
        body = memoryview(json.dumps(completion).encode())
        self._send_headers(200, length=None)
        for start in range(0, len(body), 65536):
            self.wfile.write(body[start : start + 65536])

    def _answer_drip(self, fake: FakeUpstream, payload: object) -> None:
        """Headers at once, then one byte (JSON whitespace) per interval until the client leaves."""
        self._send_headers(200, length=None)
        until = time.monotonic() + fake.give_up_after
        while time.monotonic() < until and not fake.stopping.wait(fake.drip_interval):
            self.wfile.write(b" ")

    def _answer_hang(self, fake: FakeUpstream, payload: object) -> None:
        self._wait_while_connected(fake, seconds=fake.give_up_after)
        self.close_connection = True

    def _answer_reset(self, fake: FakeUpstream, payload: object) -> None:
        """No answer: linger 0 makes the close a TCP RST (done once the handler lets go)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _wait_while_connected(self, fake: FakeUpstream, *, seconds: float) -> bool:
        """Wait `seconds`; True if the client left or the server stopped first."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            if fake.stopping.wait(min(_POLL_SECONDS, until - time.monotonic())):
                return True
            if self._client_gone():
                return True
        return False

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _send(self, status: int, body: bytes, *, content_type: str = "application/json") -> None:
        self._send_headers(status, length=len(body), content_type=content_type)
        self.wfile.write(body)

    def _send_headers(
        self, status: int, *, length: int | None, content_type: str = "application/json"
    ) -> None:
        """With no length the body runs until the connection closes, as HTTP/1.0 did."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
