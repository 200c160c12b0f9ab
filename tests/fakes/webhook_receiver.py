"""WebhookReceiver: an HTTP server on loopback that records the alert webhooks it receives and
answers the statuses it is told to, in order.

    with WebhookReceiver(statuses=[500, 500]) as receiver:   # then 200 for every later one
        endpoint.url = receiver.url
        ...
        (hook,) = receiver.requests
"""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class ReceivedHook:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    answered: int


class WebhookReceiver:
    def __init__(self, *, statuses: list[int] | None = None, then: int = 200):
        self.statuses = list(statuses or [])  # answered in order, then `then` for ever
        self.then = then
        self.requests: list[ReceivedHook] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/keybuzz"

    @property
    def delivered(self) -> list[ReceivedHook]:
        """The requests it answered with a 2xx."""
        return [hook for hook in self.requests if 200 <= hook.answered < 300]

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else self.then
            self.requests.append(ReceivedHook(path, headers, body, status))
        return status

    def __enter__(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._answer(
                    self.path, {name.lower(): value for name, value in self.headers.items()}, body
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
