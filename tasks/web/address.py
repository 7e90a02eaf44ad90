"""Where a URL may lead: the check every URL and every redirect hop passes before a
connection is made (protection against server-side request forgery).

A feed is written by strangers, and so are its links and its servers' redirects:
any of them may point at this machine, the local network or a cloud's metadata
service. `AddressPolicy.check` reads a URL, resolves its host once, and refuses
it unless it is http(s) and every address it resolves to is a public one (or
inside a network the user allowed). The client then connects to the addresses
checked, never to a second resolution of the name.

Hosts written as numbers are read here the way browsers and libc read them
(`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1` are all 127.0.0.1), not left to a
resolver that might or might not.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Literal
from urllib.parse import SplitResult, quote, urlsplit

from tasks.web.urls import DEFAULT_PORTS, ascii_host

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
BlockReason = Literal["unsupported_scheme", "blocked_address", "bad_url"]
Resolver = Callable[[str, int], list[str]]
"""A host name and a port to the addresses they resolve to, as strings."""

ALLOW_OPTION = "--allow-private-network"

# The special-purpose ranges (IANA's registries) named in a refusal, first match
# wins. Anything else that Python does not hold global is refused too, as
# "a special-purpose address"; these give the common cases their word, and keep the
# answer the same whichever Python's tables are older.
_NAMED_RANGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the unspecified address", ("0.0.0.0/32", "::/128")),
    ("a 'this network' address", ("0.0.0.0/8",)),
    ("a loopback address", ("127.0.0.0/8", "::1/128")),
    (
        "a cloud metadata address",
        ("169.254.169.254/32", "169.254.170.2/32", "100.100.100.200/32", "fd00:ec2::254/128"),
    ),
    ("a link-local address", ("169.254.0.0/16", "fe80::/10")),
    ("a private address", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    ("a shared address (carrier-grade NAT)", ("100.64.0.0/10",)),
    ("a site-local address", ("fec0::/10",)),
    ("a multicast address", ("224.0.0.0/4", "ff00::/8")),
    ("the broadcast address", ("255.255.255.255/32",)),
    ("a reserved address", ("240.0.0.0/4",)),
    (
        "a documentation address",
        ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"),
    ),
    ("a benchmarking address", ("198.18.0.0/15", "2001:2::/48")),
    ("a Teredo tunnel address", ("2001::/32",)),
    ("a local-use NAT64 address", ("64:ff9b:1::/48",)),
    ("a discard-only address", ("100::/64",)),
)
_NAMED = tuple((word, tuple(ip_network(cidr) for cidr in cidrs)) for word, cidrs in _NAMED_RANGES)
_IPV4_COMPATIBLE = ip_network("::/96")
_NAT64 = ip_network("64:ff9b::/96")
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
_SHOWN_URL_MAX = 120
_REQUEST_SAFE = "!$&'()*+,/:;=?@[]~%"


class Blocked(Exception):
    """A URL that may not be fetched, with its quarantine reason and one sentence
    saying why."""

    def __init__(self, reason: BlockReason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class Unresolvable(Exception):
    """A host name that resolves to no address (the fetch failed; it may not next time)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def system_resolver(host: str, port: int) -> list[str]:
    """The distinct addresses the system resolves `host` to, in its order."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise Unresolvable(f"{host} could not be resolved: {error}") from None
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


@dataclass(frozen=True)
class Target:
    """Where a checked URL leads: what to connect to and what to ask for."""

    scheme: str
    host: str  # lowercased, IDNA-encoded; an IP address as such (IPv6 without brackets)
    port: int
    addresses: tuple[IPAddress, ...]  # every one checked; connect to these, in order
    request_target: str  # path and query, escaped; at least "/"

    @property
    def authority(self) -> str:
        """The `Host` header: the host (an IPv6 one in brackets), with its port unless
        it is the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a fetch may connect to: public ones, and those in `allowed`
    (the networks the user opened with --allow-private-network)."""

    allowed: tuple[Network, ...] = ()
    resolver: Resolver = system_resolver

    def refusal(self, ip: IPAddress) -> str | None:
        """None when `ip` may be connected to, else what it is ("a loopback address")."""
        # An IPv4-mapped address reaches its IPv4 address, so the IPv4 network allows it.
        mapped = ip.ipv4_mapped if isinstance(ip, IPv6Address) else None
        candidates = (ip,) if mapped is None else (ip, mapped)
        if any(each in network for each in candidates for network in self.allowed):
            return None
        return _refusal(ip)

    def check(self, url: str) -> Target:
        """Where `url` leads, once its scheme, host, port and every address its host
        resolves to are allowed; else Blocked (Unresolvable when the host resolves to
        nothing). The resolver is asked once, never for a host written as an address."""
        text = url.strip()
        parts = _http_url(text)
        scheme = parts.scheme.lower()
        written = parts.hostname
        assert written is not None  # _http_url refuses a URL without a host
        try:
            host = ascii_host(written)
        except ValueError as error:
            raise Blocked("bad_url", f"{_shown(text)}: {error}") from None
        port = parts.port or DEFAULT_PORTS[scheme]
        host, addresses = self._addresses(text, written, host, port)
        for address in addresses:
            self._admit(address, written)
        return Target(scheme, host, port, addresses, _request_target(parts.path, parts.query))

    def _addresses(
        self, text: str, written: str, host: str, port: int
    ) -> tuple[str, tuple[IPAddress, ...]]:
        """The host as the target names it, and the addresses to connect to: the one it
        is written as, or those the resolver gives for its name."""
        literal = literal_address(host)
        if literal is not None:
            return str(literal), (literal,)
        if _NUMERIC_LABEL.fullmatch(host.rstrip(".").rpartition(".")[2]):
            # Browsers read a host ending in a number as an IPv4 address, or refuse it.
            raise Blocked("bad_url", f"{_shown(text)}: {written} is not a valid IPv4 address")
        return host, self._resolved(host, port)

    def _admit(self, address: IPAddress, written: str) -> None:
        """Blocked, saying how to allow it, unless `address` may be connected to."""
        why = self.refusal(address)
        if why is not None:
            named = "" if written == str(address) else f" ({written})"
            raise Blocked(
                "blocked_address",
                f"{address}{named} is {why}; allow it with "
                f"{ALLOW_OPTION} {address}/{address.max_prefixlen}",
            )

    def _resolved(self, host: str, port: int) -> tuple[IPAddress, ...]:
        answers = self.resolver(host, port)
        try:
            addresses = tuple(dict.fromkeys(ip_address(answer) for answer in answers))
        except ValueError as error:
            raise Unresolvable(f"{host} resolved to something not an address: {error}") from None
        if not addresses:
            raise Unresolvable(f"{host} resolves to no address")
        return addresses


def _http_url(text: str) -> SplitResult:
    """The parts of `text`, an absolute http(s) URL naming a host (and no
    credentials); else Blocked saying what is wrong with it."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise Blocked("bad_url", f"{_shown(text)} cannot be read: {error}") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise Blocked("bad_url", f"{_shown(text)} is not an absolute URL")
    if scheme not in DEFAULT_PORTS:
        raise Blocked("unsupported_scheme", f"{_shown(text)} is a {scheme}: URL, not http or https")
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        hidden = text.replace(f"{userinfo}@", "…@", 1)  # a password kept out of the record
        raise Blocked(
            "bad_url", f"{_shown(hidden)} holds credentials (user@), which are not ours to send"
        )
    if not parts.hostname:
        raise Blocked("bad_url", f"{_shown(text)} names no host")
    if port == 0:
        raise Blocked("bad_url", f"{_shown(text)} names port 0")
    return parts


def literal_address(host: str) -> IPAddress | None:
    """The address `host` is written as, or None when it is a name: IPv6 (with or
    without brackets, IPv4-mapped included) or IPv4 in any form inet_aton and
    browsers read (`127.0.0.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`)."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if ":" not in host:
            return None
    if ":" in host:
        try:
            return IPv6Address(host)
        except ValueError:
            return None
    parts = host.split(".")
    if len(parts) > 1 and not parts[-1]:
        parts.pop()  # a final dot, as in a fully qualified name
    if not 1 <= len(parts) <= 4 or not all(_IPV4_PART.fullmatch(part) for part in parts):
        return None
    *leading, last = (_ipv4_number(part) for part in parts)
    # Each number before the last is one byte; the last fills the bytes left.
    if any(number > 255 for number in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = sum(number << (8 * (3 - position)) for position, number in enumerate(leading))
    return IPv4Address(value + last)


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """Networks in CIDR notation (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`), host bits
    allowed; ValueError naming the first that is none."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{cidr!r} is not a network in CIDR notation (such as 10.0.0.0/8 or fd00::/8)"
            ) from None
    return tuple(networks)


def _refusal(ip: IPAddress) -> str | None:
    """What makes `ip` no place to connect to, whoever allowed what; None if nothing."""
    if isinstance(ip, IPv6Address):
        # An IPv4 address written as IPv6 reaches that IPv4 address: judged as it.
        for kind, embedded in (
            ("an IPv4-mapped address", ip.ipv4_mapped),
            ("an IPv4-compatible address", _ipv4_compatible(ip)),
        ):
            if embedded is not None:
                inner = _refusal(embedded)
                return None if inner is None else f"{kind} of {embedded}, {inner}"
        # Translated or tunnelled to an IPv4 address, which must pass too.
        for kind, embedded in (
            ("a 6to4 address", ip.sixtofour),
            ("a NAT64 address", IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None),
        ):
            inner = None if embedded is None else _refusal(embedded)
            if inner is not None:
                return f"{kind} of {embedded}, {inner}"
    for word, networks in _NAMED:
        if any(ip in network for network in networks):
            return word
    return None if ip.is_global else "a special-purpose address (not globally reachable)"


def _ipv4_compatible(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address in a deprecated IPv4-compatible one (`::7f00:1`); not `::`, `::1`."""
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return IPv4Address(int(ip))
    return None


def _ipv4_number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)


def _request_target(path: str, query: str) -> str:
    # Only what may not stand bare on a request line (spaces, controls, non-ASCII) is
    # escaped: how the rest is spelled is the server's business.
    target = quote(path or "/", safe=_REQUEST_SAFE)
    return f"{target}?{quote(query, safe=_REQUEST_SAFE)}" if query else target


def _shown(url: str) -> str:
    """`url` short enough for a one-line detail (a data: URL can be megabytes)."""
    return url if len(url) <= _SHOWN_URL_MAX else url[: _SHOWN_URL_MAX - 1] + "…"
