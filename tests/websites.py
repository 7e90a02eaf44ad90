"""Real HTTP servers for the web tests, on loopback addresses only (127.0.0.x).

A `Site` answers each path from a table of `Answer`s (or functions of the request),
and logs every request it receives: the tests assert on what was asked, when, and
with which headers. Nothing here ever connects outside 127.0.0.0/8.
"""

from __future__ import annotations

import contextlib
import functools
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

import brotli
import pytest

SAMPLE_HTML = Path(__file__).resolve().parents[1] / "data" / "sample" / "html"
CORPUS_HTML = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "html"

AGENT = "depeche/0.1 (+https://depeche.example/robot)"
"""The user agent of the web tests' clients and crawlers."""

Framing = Literal["length", "chunked", "close"]
"""How the end of a body is told: a Content-Length (the body's own unless the
headers give one, true or not), chunked transfer coding, or closing the connection."""


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the answer starts
    dribble: float = 0.0  # seconds between two bytes of the body
    content_type: str | None = "text/html; charset=utf-8"
    framing: Framing = "length"


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

            def do_GET(self) -> None:  # http.server's name
                headers = {name.lower(): value for name, value in self.headers.items()}
                asked = Asked(self.path, headers, time.monotonic())
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
                if answer.framing == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                elif answer.framing == "length" and "Content-Length" not in answer.headers:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                size = 1 if answer.dribble else 64 * 1024
                for start in range(0, len(answer.body), size):
                    piece = answer.body[start : start + size]
                    if answer.framing == "chunked":
                        piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                    self.wfile.write(piece)
                    if answer.dribble:
                        self.wfile.flush()
                        time.sleep(answer.dribble)
                if answer.framing == "chunked":
                    self.wfile.write(b"0\r\n\r\n")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.host, self.port = host, self.server.server_address[1]
        # a short poll interval: close() waits for it, once per site and test
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
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


def site_fixture(host: str) -> Callable[[], Iterator[Site]]:
    """A pytest fixture serving a `Site` on `host` for the length of one test, named
    after the module variable it is assigned to (`site = site_fixture("127.0.0.1")`)."""

    @pytest.fixture
    def serving() -> Iterator[Site]:
        with sites(host) as (started,):
            yield started

    return serving


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


def in_turn(*answers: Answer) -> Callable[[Asked], Answer]:
    """A route that gives its answers one after the other, the last one from then on."""
    given = iter(answers)
    last = answers[-1]
    lock = threading.Lock()

    def answer(asked: Asked) -> Answer:
        with lock:
            return next(given, last)

    return answer


class InFlight:
    """A route that holds each request `hold` seconds before answering, and counts the
    requests it holds at once (`most`); one instance may serve several sites."""

    def __init__(self, answer: Answer, hold: float) -> None:
        self.answer, self.hold = answer, hold
        self.now = self.most = 0
        self._lock = threading.Lock()

    def __call__(self, asked: Asked) -> Answer:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(self.hold)
            return self.answer
        finally:
            with self._lock:
                self.now -= 1


def redirect(location: str, status: int = 302) -> Answer:
    """A redirect to `location`, with no body."""
    return Answer(status, headers={"Location": location}, content_type=None)


def robots(text: str) -> Answer:
    """A robots.txt file."""
    return Answer(body=text.encode(), content_type="text/plain; charset=utf-8")


_BOMB_BLOCK = 1 << 20


@functools.cache
def _deflated_zeros() -> tuple[bytes, bytes]:
    """1 MiB of zeros as raw deflate ending in a full flush, which forgets the history,
    so the same bytes deflate any further MiB of zeros; and the stream's last block."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return deflate.compress(bytes(_BOMB_BLOCK)) + deflate.flush(zlib.Z_FULL_FLUSH), deflate.flush()


def _zeros_bomb(size: int, checksum: Callable[[bytes, int], int], start: int) -> tuple[bytes, int]:
    """The deflate stream of `size` zeros (rounded down to a MiB), made in a fraction
    of a second whatever the size, and its checksum."""
    blocks = size // _BOMB_BLOCK
    block, end = _deflated_zeros()
    zeros, value = bytes(_BOMB_BLOCK), start
    for _ in range(blocks):
        value = checksum(zeros, value)
    return block * blocks + end, value


@functools.cache
def gzip_bomb(size: int) -> bytes:
    """`size` bytes of zeros (rounded down to a MiB), one gzip member of about
    size / 1000 bytes."""
    stream, crc = _zeros_bomb(size, zlib.crc32, 0)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, mtime 0
    length = size // _BOMB_BLOCK * _BOMB_BLOCK
    return header + stream + struct.pack("<II", crc, length & 0xFFFFFFFF)


@functools.cache
def deflate_bomb(size: int) -> bytes:
    """`size` bytes of zeros (rounded down to a MiB) as HTTP's `deflate`: a zlib
    stream."""
    stream, adler = _zeros_bomb(size, zlib.adler32, 1)
    return b"\x78\xda" + stream + struct.pack(">I", adler)


@functools.cache
def brotli_bomb(size: int) -> bytes:
    """`size` bytes of zeros (rounded down to a MiB), brotli-compressed to a few
    kilobytes."""
    compressor = brotli.Compressor(quality=5)
    zeros = bytes(_BOMB_BLOCK)
    parts = [compressor.process(zeros) for _ in range(size // _BOMB_BLOCK)]
    return b"".join([*parts, compressor.finish()])
