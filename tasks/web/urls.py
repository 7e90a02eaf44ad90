"""URLs as text: one canonical spelling per article address, a link made absolute,
the host a URL names. Pure functions, no network.

The canonical URL is what tells two links to the same article apart from two
articles: the same page reached from a feed, a sitemap and a newsletter carries
different tracking parameters, host case and escapes, and must be fetched once.
"""

from __future__ import annotations

import re
from ipaddress import IPv6Address
from urllib.parse import quote, unquote, urljoin, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

# Tracking parameters: the click or campaign that led to a page, not the page.
# `at_*` are AT Internet's (Piano), which French publishers put on every shared link.
_TRACKING_NAMES = frozenset(
    "fbclid gclid dclid msclkid mc_cid mc_eid igshid _ga xtor ref_src".split()
)
_TRACKING_PREFIXES = ("utm_", "at_")

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are when escaping a path or query: the reserved ones (their
# escaped and unescaped forms mean different things) and `%` (already an escape).
_KEPT_AS_IS = "!$&'()*+,/:;=?@[]~%"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# A host name once IDNA-encoded: letters, digits, hyphens and the underscores some
# real hosts have, in dot-separated labels (a final dot allowed).
_HOST_NAME = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}\.?")
# Characters that IDNA 2003 (Python's codec) maps away but IDNA 2008 keeps (ß, ς,
# zero-width joiners): such a host names two different domains, depending on who
# encodes it.
_IDNA_DEVIATIONS = frozenset("ßς\u200c\u200d")
# Browsers drop these wherever they are in a URL (WHATWG URL standard).
_TAB_OR_NEWLINE = re.compile("[\t\n\r]")


def canonical_url(url: str) -> str:
    """`url` spelled one way: scheme and host lowercased (the host IDNA-encoded), no
    default port, no fragment, no tracking parameters (the others kept in their
    order), `.` and `..` segments resolved, an empty path made `/`, escapes in
    uppercase and unreserved characters unescaped.

    A URL that is not http(s), or whose host or port cannot be read, is returned
    unchanged: the address check refuses it before anything is fetched."""
    text = _stripped(url)
    try:
        parts = urlsplit(text)
        port = parts.port
        host = ascii_host(parts.hostname or "")
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return url
    userinfo = parts.netloc.rpartition("@")[0]
    authority = _authority(scheme, host, port)
    netloc = f"{userinfo}@{authority}" if "@" in parts.netloc else authority
    path = _without_dot_segments(_escaped(parts.path))
    query = "&".join(
        _escaped(parameter)
        for parameter in parts.query.split("&")
        if parameter and not _is_tracking(parameter)
    )
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def host_of(url: str) -> str:
    """The host a URL names, lowercased and IDNA-encoded, with its port unless it is
    the scheme's default: `www.lemonde.fr`, `localhost:8080`, `[::1]:8443`.
    ValueError when the URL names no host."""
    parts = urlsplit(_stripped(url))
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host")
    return _authority(parts.scheme.lower(), ascii_host(parts.hostname), parts.port)


def absolute(base: str, link: str) -> str:
    """`link` (as found in a page or a feed) resolved against the URL of the document
    it was found in."""
    return urljoin(_stripped(base), _stripped(link))


def ascii_host(host: str) -> str:
    """A URL's host as it goes on the wire: lowercased, IDNA-encoded, an IPv6 address
    in its compressed form without brackets. ValueError when it is not a host name
    or an IPv6 address."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        return IPv6Address(host).compressed
    if _IDNA_DEVIATIONS.intersection(host):
        raise ValueError(f"{host!r} holds ß, ς or a zero-width joiner: IDNA 2003 and 2008 differ")
    try:
        encoded = host.encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise ValueError(f"{host!r} is not a valid host name ({error})") from None
    if not _HOST_NAME.fullmatch(encoded):
        raise ValueError(f"{host!r} is not a valid host name")
    return encoded


def _stripped(url: str) -> str:
    return _TAB_OR_NEWLINE.sub("", url.strip())


def _authority(scheme: str, host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None or port == DEFAULT_PORTS.get(scheme) else f"{shown}:{port}"


def _escaped(text: str) -> str:
    """`text` with what may not stand bare in a URL escaped, each escape in uppercase,
    and escaped unreserved characters (`%7E`, `%41`) unescaped."""

    def normal(escape: re.Match[str]) -> str:
        character = chr(int(escape[1], 16))
        return character if character in _UNRESERVED else escape[0].upper()

    return _ESCAPE.sub(normal, quote(text, safe=_KEPT_AS_IS))


def _is_tracking(parameter: str) -> bool:
    name = unquote(parameter.partition("=")[0]).lower()
    return name in _TRACKING_NAMES or name.startswith(_TRACKING_PREFIXES)


def _without_dot_segments(path: str) -> str:
    """The path with its `.` and `..` segments resolved (RFC 3986, 5.2.4), at least `/`."""
    segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
    kept: list[str] = []
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        if segment in (".", ".."):
            if segment == ".." and kept:
                kept.pop()
            if last:
                kept.append("")  # `/a/b/..` is the folder `/a/`
        else:
            kept.append(segment)
    return "/" + "/".join(kept)
