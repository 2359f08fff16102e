"""A loopback HTTP proxy in front of the live server that can drop the response of the next
POST (the server acted, the client never heard) or change the API version the server states."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

VERSION_HEADER = "X-Sessionbot-Api"
_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "server", "date"}


class Proxy:
    """`url` forwards to 127.0.0.1:`upstream`. `stated`: None passes the version header
    through, "" removes it, any other text replaces it."""

    def __init__(self, upstream: int, *, stated: str | None = None) -> None:
        self.upstream = upstream
        self.stated = stated
        self.posts: list[tuple[str, str | None]] = []  # (path, Idempotency-Key) as forwarded
        self._drop_next_post = False
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def drop_next_post(self) -> None:
        with self._lock:
            self._drop_next_post = True

    def dropping(self, method: str, path: str, key: str | None) -> bool:
        """Note a forwarded call; whether its response is to be dropped."""
        with self._lock:
            if method != "POST":
                return False
            self.posts.append((path, key))
            drop, self._drop_next_post = self._drop_next_post, False
            return drop

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=90)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            upstream.close()
            self.close_connection = True
            if proxy.dropping(self.command, self.path, self.headers.get("Idempotency-Key")):
                return  # the server acted; the connection closes with no response
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() in _HOP or name.lower() == VERSION_HEADER.lower():
                    continue
                self.send_header(name, value)
            stated = answer.getheader(VERSION_HEADER) if proxy.stated is None else proxy.stated
            if stated:
                self.send_header(VERSION_HEADER, stated)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _forward

    return Forward


__all__ = ["Proxy"]
