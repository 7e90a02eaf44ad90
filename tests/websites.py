"""Real HTTP servers for the web tests, on loopback addresses only (127.0.0.x).

A `Site` answers each path from a table of `Answer`s (or functions of the request),
and logs every request it receives: the tests assert on what was asked, when, and
with which headers. Nothing here ever connects outside 127.0.0.0/8.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the answer starts
    dribble: float = 0.0  # seconds between two bytes of the body
    content_type: str | None = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Asked:
    """One request a site received."""

    path: str
    headers: dict[str, str]
    at: float  # time.monotonic()


Route = Answer | Callable[[Asked], Answer]


class Site:
    """An HTTP server on `host` (a loopback address) with a table of routes."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        assert host.startswith("127."), "test servers stay on loopback addresses"
        self.routes: dict[str, Route] = {}
        self.log: list[Asked] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                asked = Asked(self.path, {k.lower(): v for k, v in self.headers.items()}, 0.0)
                asked = Asked(asked.path, asked.headers, time.monotonic())
                with site._lock:
                    site.log.append(asked)
                route = site.routes.get(self.path) or site.routes.get(self.path.split("?")[0])
                if route is None:
                    answer = Answer(404, b"<html><body>introuvable</body></html>")
                else:
                    answer = route(asked) if callable(route) else route
                time.sleep(answer.delay)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(answer)

            def _answer(self, answer: Answer) -> None:
                self.send_response(answer.status)
                if answer.content_type and answer.status != 304:
                    self.send_header("Content-Type", answer.content_type)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in answer.headers:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if not answer.dribble:
                    self.wfile.write(answer.body)
                    return
                for byte in answer.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(answer.dribble)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.host, self.port = host, self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def asked(self, path: str | None = None) -> list[Asked]:
        with self._lock:
            return [a for a in self.log if path is None or a.path == path]

    def paths(self) -> list[str]:
        return [a.path for a in self.asked()]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def sites(*hosts: str) -> Iterator[list[Site]]:
    started = [Site(host) for host in hosts]
    try:
        yield started
    finally:
        for site in started:
            site.close()


def page(path: Path) -> Answer:
    """A page of the corpus or the sample, served as it is."""
    return Answer(body=path.read_bytes())


def conditional(body: bytes, etag: str, content_type: str) -> Callable[[Asked], Answer]:
    """A feed that answers 304 to a request carrying its ETag."""
    modified = formatdate(0, usegmt=True)

    def answer(asked: Asked) -> Answer:
        if asked.headers.get("if-none-match") == etag:
            return Answer(304, headers={"ETag": etag}, content_type=None)
        return Answer(
            body=body,
            headers={"ETag": etag, "Last-Modified": modified},
            content_type=content_type,
        )

    return answer


def rss(site: Site, links: list[tuple[str, str, str]]) -> bytes:
    """An RSS 2.0 feed of (path, title, RFC 822 date) items on `site`."""
    items = "".join(
        f"<item><title>{title}</title><link>{site.url(path)}</link>"
        f"<pubDate>{date}</pubDate><author>redaction@example.fr (La Rédaction)</author></item>"
        for path, title, date in links
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Le Quotidien de test</title><link>{site.url('/')}</link>{items}"
        "</channel></rss>"
    ).encode()


def gzip_bomb(size: int) -> bytes:
    """`size` bytes of zeros, gzip-compressed (about size / 1000 bytes)."""
    buffer = bytearray()
    chunk = b"\0" * (1 << 20)
    with contextlib.closing(gzip.GzipFile(fileobj=_Sink(buffer), mode="wb")) as archive:
        for _ in range(size >> 20):
            archive.write(chunk)
    return bytes(buffer)


class _Sink:
    def __init__(self, buffer: bytearray) -> None:
        self.buffer = buffer

    def write(self, data: bytes) -> int:
        self.buffer.extend(data)
        return len(data)

    def flush(self) -> None:
        pass
