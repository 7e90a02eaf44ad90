"""One HTTP GET, made safe: every hop checked, the checked address connected to,
the decompressed body capped while it streams, and a deadline no server can stretch.

`get` follows at most `max_redirects` redirects itself, checking each hop's scheme
and addresses with the `AddressPolicy` before connecting; it connects to the
address it checked (the host name goes in the `Host` header and TLS's SNI and
certificate check), so a DNS answer that changes between check and connection
(DNS rebinding) changes nothing. The body is decoded (gzip, deflate, brotli) a
bounded piece at a time: a bomb or a lying `Content-Length` stops at `max_bytes`
without the memory following. A watchdog closes the socket at the deadline, so a
server that dribbles a byte a second cannot hold the caller past `timeout`.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import certifi
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from tasks.web.address import AddressPolicy, Blocked, Target, Unresolvable

_CHUNK = 64 * 1024
_CONNECTION_REPR = re.compile(r"^(<[^>]*>|HTTPS?Connection\([^)]*\))\s*:\s*")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Answers worth asking again later: the server is busy or failing, not the URL."""


@dataclass(frozen=True)
class ClientPolicy:
    """How `get` behaves: who it says it is, where it may connect, what it accepts."""

    user_agent: str
    addresses: AddressPolicy = field(default_factory=AddressPolicy)
    max_bytes: int = 5_000_000
    connect_timeout: float = 10.0
    timeout: float = 30.0  # for the whole request, redirects and body included
    max_redirects: int = 5
    truncate: bool = False  # keep the first max_bytes of a longer body (robots.txt)


@dataclass(frozen=True)
class Response:
    """A final answer (not a redirect): status, headers (names lower-case), body."""

    url: str  # as asked
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: tuple[str, ...]  # the URLs redirected to, in order
    fetched_at: datetime

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def retry_after(self) -> float | None:
        return retry_after(self.headers.get("retry-after"))


class FetchFailed(Exception):
    """No answer to use: why (a quarantine reason), in words, and whether a later
    attempt may do better."""

    def __init__(
        self,
        reason: str,
        detail: str,
        *,
        transient: bool = False,
        retry_after: float | None = None,
        redirects: tuple[str, ...] = (),
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.transient = transient
        self.retry_after = retry_after
        self.redirects = redirects


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _accept_encoding() -> str:
    """The codings to offer: brotli only where urllib3 can decode it."""
    try:  # a probe for the decoder, not a dependency: imported where it is asked
        import brotli  # noqa: F401
    except ImportError:  # pragma: no cover - brotli is pinned
        return "gzip, deflate"
    return "gzip, deflate, br"


class Client:
    """Makes requests under one policy; safe to share between threads. Each request
    opens its own connection: a host is asked at most once a second or so, so
    keeping connections alive would save little and hold sockets open."""

    def __init__(self, policy: ClientPolicy) -> None:
        self.policy = policy
        self._tls = ssl.create_default_context(cafile=certifi.where())
        self._accept_encoding = _accept_encoding()

    def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        on_send: Callable[[], None] | None = None,
        may_follow: Callable[[str], FetchFailed | None] | None = None,
    ) -> Response:
        """GET `url`, following redirects; the final answer, or FetchFailed. `on_send`
        is called each time a request has gone out (the crawler's delays count from
        then); `may_follow` says why not to follow a redirect (robots.txt), if so."""
        deadline = time.monotonic() + self.policy.timeout
        redirects: list[str] = []
        current = url
        while True:
            status, answer, body = self._hop(current, headers or {}, deadline, on_send, redirects)
            location = answer.get("location")
            if status not in _REDIRECTS or not location:
                return Response(
                    url=url,
                    final_url=current,
                    status=status,
                    headers=answer,
                    body=body,
                    redirects=tuple(redirects),
                    fetched_at=datetime.now(UTC),
                )
            current = self._redirect(url, current, location, redirects, may_follow)

    def _hop(
        self,
        url: str,
        headers: dict[str, str],
        deadline: float,
        on_send: Callable[[], None] | None,
        redirects: list[str],
    ) -> tuple[int, dict[str, str], bytes]:
        """One request of a redirect chain: `url` checked, then asked. A failure says
        which redirects led to it."""
        try:
            target = self.policy.addresses.check(url)
            return self._exchange(target, headers, deadline, on_send)
        except Blocked as error:
            raise FetchFailed(error.reason, error.detail, redirects=tuple(redirects)) from None
        except Unresolvable as error:
            raise FetchFailed(
                "connection_failed", str(error), transient=True, redirects=tuple(redirects)
            ) from None
        except FetchFailed as error:
            error.redirects = tuple(redirects)
            raise

    def _redirect(
        self,
        url: str,
        current: str,
        location: str,
        redirects: list[str],
        may_follow: Callable[[str], FetchFailed | None] | None,
    ) -> str:
        """The URL a redirect from `current` leads to, added to `redirects`; FetchFailed
        past `max_redirects` or when `may_follow` refuses it."""
        if len(redirects) >= self.policy.max_redirects:
            raise FetchFailed(
                "too_many_redirects",
                f"more than {self.policy.max_redirects} redirects from {url}",
                redirects=tuple(redirects),
            )
        following = urljoin(current, location.strip())
        redirects.append(following)
        refusal = may_follow(following) if may_follow is not None else None
        if refusal is not None:
            refusal.redirects = tuple(redirects)
            raise refusal
        return following

    def _connection(self, target: Target, address: str, timeout: float) -> Any:
        if target.scheme == "https":
            return HTTPSConnection(
                address,
                target.port,
                timeout=timeout,
                ssl_context=self._tls,
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        return HTTPConnection(address, target.port, timeout=timeout)

    def _exchange(
        self,
        target: Target,
        headers: dict[str, str],
        deadline: float,
        on_send: Callable[[], None] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request to the first of the target's addresses that takes it: status,
        headers and (for a 2xx answer) the body."""
        sent = self._request_headers(target, headers)
        failure = FetchFailed("timeout", f"{target.host}: no time left to connect", transient=True)
        for address in target.addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            connection = self._connection(
                target, str(address), min(self.policy.connect_timeout, remaining)
            )
            with _Watchdog(remaining) as watchdog:
                refused = _connect(connection, target, address)
                if refused is not None:
                    failure = refused
                    continue  # the host's next address
                watchdog.watch(connection.sock)
                try:
                    return self._answer(connection, target, sent, deadline, on_send, watchdog)
                finally:
                    connection.close()
        raise failure

    def _request_headers(self, target: Target, headers: dict[str, str]) -> dict[str, str]:
        """What every request says, then the caller's own headers (conditional ones)."""
        return {
            "Host": target.authority,
            "User-Agent": self.policy.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5",
            "Accept-Encoding": self._accept_encoding,
            "Accept-Language": "fr,fr-FR;q=0.9,en;q=0.5",
            "Connection": "close",
            **headers,
        }

    def _answer(
        self,
        connection: Any,
        target: Target,
        sent: dict[str, str],
        deadline: float,
        on_send: Callable[[], None] | None,
        watchdog: _Watchdog,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send the request on an open connection and read the answer: the status line,
        the headers, and the body of a 2xx answer."""
        try:
            _send(connection, target, sent, deadline, on_send)
            response = connection.getresponse()
            answer = {name.lower(): value for name, value in response.headers.items()}
            body = self._body(response, answer) if 200 <= response.status < 300 else b""
            if watchdog.fired:  # a body cut at the deadline is no body
                raise TimeoutError
            return response.status, answer, body
        except SSLError as error:
            raise FetchFailed("tls_failed", f"{target.host}: {_plain(error)}") from None
        except (ReadTimeoutError, ProtocolError, HTTPError, OSError) as error:
            raise self._broken_off(error, target, deadline, watchdog) from None

    def _broken_off(
        self, error: BaseException, target: Target, deadline: float, watchdog: _Watchdog
    ) -> FetchFailed:
        """Why an exchange under way stopped: the deadline, or the connection."""
        if watchdog.fired or time.monotonic() >= deadline:
            return FetchFailed(
                "timeout",
                f"{target.host} did not answer within {self.policy.timeout:g} s",
                transient=True,
            )
        timed_out = isinstance(error, ReadTimeoutError | TimeoutError)
        return FetchFailed(
            "timeout" if timed_out else "connection_failed",
            f"{target.host}: {_plain(error)}",
            transient=True,
        )

    def _body(self, response: Any, headers: dict[str, str]) -> bytes:
        """The decoded body, read a bounded piece at a time up to the cap."""
        cap = self.policy.max_bytes
        declared = headers.get("content-length", "")
        encoding = headers.get("content-encoding", "identity").strip().lower() or "identity"
        too_long = declared.isdigit() and int(declared) > cap and encoding == "identity"
        if too_long and not self.policy.truncate:
            raise FetchFailed("too_large", f"Content-Length {declared} over the cap of {cap}")
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                chunk = response.read(_CHUNK, decode_content=True)
            except DecodeError as error:
                raise FetchFailed(
                    "undecodable", f"content-encoding {encoding}: {_plain(error)}"
                ) from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > cap:
                if self.policy.truncate:
                    chunks.append(chunk[: cap - (size - len(chunk))])
                    return b"".join(chunks)
                raise FetchFailed("too_large", f"over {cap} bytes once decompressed: stopped there")
            chunks.append(chunk)


def _connect(connection: Any, target: Target, address: object) -> FetchFailed | None:
    """Open `connection` to one of the target's addresses; why it could not be (the
    next address may do better), or None."""
    try:
        connection.connect()
    except (ConnectTimeoutError, NewConnectionError, OSError) as error:
        # urllib3's NewConnectionError is a ConnectTimeoutError too
        timed_out = not isinstance(error, NewConnectionError) and isinstance(
            error, ConnectTimeoutError | TimeoutError
        )
        connection.close()
        return FetchFailed(
            "timeout" if timed_out else "connection_failed",
            f"{_named(target, address)}: {_plain(error)}",
            transient=True,
        )
    return None


def _send(
    connection: Any,
    target: Target,
    sent: dict[str, str],
    deadline: float,
    on_send: Callable[[], None] | None,
) -> None:
    """Send the request line and headers, with the time left as the socket's timeout;
    the body is left unread and undecoded, for `_body` to stream."""
    connection.sock.settimeout(max(0.001, deadline - time.monotonic()))
    connection.request(
        "GET", target.request_target, headers=sent, preload_content=False, decode_content=False
    )
    if on_send is not None:
        on_send()


def _named(target: Target, address: object) -> str:
    """`host (address)`, or the address alone when the URL named it."""
    where = f"{target.authority}"
    return where if str(address) in where else f"{where} ({address})"


class _Watchdog:
    """Shuts a connection's socket down when `seconds` have passed, so that a read
    blocked on a slow server returns (and the caller reports a timeout)."""

    def __init__(self, seconds: float) -> None:
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self.fired = False

    def watch(self, sock: socket.socket | None) -> None:
        """The socket to shut: taken once connected, since http.client lets go of
        the connection's own once the headers of a `Connection: close` answer are in."""
        self._sock = sock
        if self.fired:
            self._fire()

    def _fire(self) -> None:
        self.fired = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _plain(error: BaseException) -> str:
    """An urllib3 error in words, without the connection object's repr it starts with:
    `Failed to establish a new connection: [Errno 111] Connection refused`."""
    reason = getattr(error, "reason", None)
    text = str(reason if reason is not None else error)
    return _CONNECTION_REPR.sub("", text)
