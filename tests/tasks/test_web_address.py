"""The address check: which URLs and addresses a fetch may connect to.

No test here resolves or connects: resolvers are dict lookups, and public addresses
are only ever read as literals.
"""

from __future__ import annotations

import re
import socket
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest

from tasks.web.address import (
    AddressPolicy,
    Blocked,
    Target,
    Unresolvable,
    literal_address,
    parse_networks,
    system_resolver,
)

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:4700::1111"


class DictResolver:
    """A resolver that answers from a dict and counts its calls."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.answers:
            raise Unresolvable(f"{host} is not in the test's resolver")
        return self.answers[host]


def no_resolver(host: str, port: int) -> list[str]:
    raise AssertionError(f"the resolver was asked for {host}:{port}")


def blocked(url: str, policy: AddressPolicy | None = None) -> Blocked:
    with pytest.raises(Blocked) as caught:
        (policy or AddressPolicy(resolver=no_resolver)).check(url)
    return caught.value


@pytest.mark.parametrize(
    ("host", "word"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.0.0.2", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("10.255.255.254", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.254", "a private address"),
        ("192.168.1.1", "a private address"),
        ("100.64.0.1", "a shared address (carrier-grade NAT)"),
        ("100.127.255.254", "a shared address (carrier-grade NAT)"),
        ("169.254.169.254", "a cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("0.0.0.0", "the unspecified address"),
        ("0.1.2.3", "a 'this network' address"),
        ("224.0.0.1", "a multicast address"),
        ("255.255.255.255", "the broadcast address"),
        ("240.0.0.1", "a reserved address"),
        ("192.0.2.1", "a documentation address"),
        ("198.18.0.1", "a benchmarking address"),
        ("192.0.0.1", "a special-purpose address (not globally reachable)"),
        ("[2001:10::1]", "a special-purpose address (not globally reachable)"),
        ("[64:ff9b:1::1]", "a local-use NAT64 address"),
        ("[100::1]", "a discard-only address"),
        ("[::1]", "a loopback address"),
        ("[::]", "the unspecified address"),
        ("[fe80::1]", "a link-local address"),
        ("[fc00::1]", "a private address"),
        ("[fd12:3456::1]", "a private address"),
        ("[fd00:ec2::254]", "a cloud metadata address"),
        ("[fec0::1]", "a site-local address"),
        ("[ff02::1]", "a multicast address"),
        ("[2001:db8::1]", "a documentation address"),
        ("[2001::1]", "a Teredo tunnel address"),
        ("[::ffff:10.0.0.1]", "an IPv4-mapped address of 10.0.0.1, a private address"),
        ("[::ffff:127.0.0.1]", "an IPv4-mapped address of 127.0.0.1, a loopback address"),
        (
            "[::ffff:169.254.169.254]",
            "an IPv4-mapped address of 169.254.169.254, a cloud metadata address",
        ),
        ("[::7f00:1]", "an IPv4-compatible address of 127.0.0.1, a loopback address"),
        ("[64:ff9b::a00:1]", "a NAT64 address of 10.0.0.1, a private address"),
        ("[64:ff9b::7f00:1]", "a NAT64 address of 127.0.0.1, a loopback address"),
        ("[2002:7f00:1::]", "a 6to4 address of 127.0.0.1, a loopback address"),
        ("[2002:a9fe:a9fe::]", "a 6to4 address of 169.254.169.254, a cloud metadata address"),
    ],
)
def test_a_url_to_an_address_that_is_not_public_is_blocked(host: str, word: str) -> None:
    error = blocked(f"http://{host}/latest/meta-data/")
    address = ip_address(host.strip("[]"))
    assert error.reason == "blocked_address"
    assert f"is {word}" in error.detail
    assert error.detail.startswith(str(address))
    assert error.detail.endswith(
        f"; allow it with --allow-private-network {address}/{address.max_prefixlen}"
    )


def test_the_detail_is_one_sentence_naming_the_address_and_the_host() -> None:
    policy = AddressPolicy(resolver=DictResolver({"localhost": ["127.0.0.2"]}))
    error = blocked("http://localhost:8080/admin", policy)
    assert (
        str(error)
        == error.detail
        == (
            "127.0.0.2 (localhost) is a loopback address; "
            "allow it with --allow-private-network 127.0.0.2/32"
        )
    )


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "127.1",
        "127.0.1",
        "0x7f000001",
        "0X7F.0.0.1",
        "017700000001",
        "0x7f.0x0.0.01",
        "127.0.0.1.",
        "１２７.０.０.１",  # fullwidth digits, which IDNA maps to ASCII
    ],
)
def test_a_loopback_address_written_as_a_number_is_read_without_the_resolver(host: str) -> None:
    error = blocked(f"http://{host}/")
    assert error.reason == "blocked_address"
    assert error.detail.startswith(f"127.0.0.1 ({host.lower()}) is a loopback address")


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("4294967295", "255.255.255.255"),
        ("93.184.215.14", PUBLIC_V4),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("[2606:4700::1111]", PUBLIC_V6),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ],
)
def test_literal_address_reads_every_form_of_an_address(host: str, address: str) -> None:
    assert literal_address(host) == ip_address(address)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "localhost",
        "",
        ".",
        "08",  # not octal
        "0x7g.1",
        "256.0.0.1",
        "1.2.3.4.5",
        "4294967296",
        "127.0.0.1.1",
        "127..1",
        "[127.0.0.1]",
        "[example.com]",
        "::g",
    ],
)
def test_literal_address_is_none_for_what_is_no_address(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(
    "url", ["http://256.0.0.1/", "http://1.2.3.4.5/", "http://example.123/", "http://08/"]
)
def test_a_host_ending_in_a_number_that_is_no_address_is_a_bad_url(url: str) -> None:
    error = blocked(url)
    assert error.reason == "bad_url"
    assert "not a valid IPv4 address" in error.detail


@pytest.mark.parametrize(
    ("url", "address"),
    [
        (f"http://{PUBLIC_V4}/", PUBLIC_V4),
        (f"https://[{PUBLIC_V6}]/", PUBLIC_V6),
        (f"http://[::ffff:{PUBLIC_V4}]/", f"::ffff:{PUBLIC_V4}"),
        ("http://[2002:5db8:d70e::]/", "2002:5db8:d70e::"),  # 6to4 of the public one
        ("http://[64:ff9b::5db8:d70e]/", "64:ff9b::5db8:d70e"),  # NAT64 of the public one
        ("http://1572394766/", PUBLIC_V4),
    ],
)
def test_a_public_address_is_let_through_without_the_resolver(url: str, address: str) -> None:
    target = AddressPolicy(resolver=no_resolver).check(url)
    assert target.addresses == (ip_address(address),)
    assert target.host == str(ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/feed.xml",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "gopher://127.0.0.1:25/",
        "feed://example.com/rss",
    ],
)
def test_a_url_that_is_not_http_or_https_is_an_unsupported_scheme(url: str) -> None:
    error = blocked(url)
    assert error.reason == "unsupported_scheme"
    assert url.split(":")[0] in error.detail


@pytest.mark.parametrize(
    "url",
    [
        "http:///feed.xml",
        "http://:80/",
        "https://",
        "example.com/feed.xml",
        "//example.com/feed.xml",
        "http://example.com:99999/",
        "http://example.com:http/",
        "http://example.com:0/",
        "http://[127.0.0.1]/",
        "http://[::1/",
        "http://exa mple.com/",
        "http://a%2fb.example/",
        "http://127.0.0.1\\.example.com/",
        "http://example..com/",
        "http://faß.example/",  # a different host under IDNA 2003 and IDNA 2008
        "http://@example.com/",
        "http://user@example.com/",
        "http://example.com\\@127.0.0.1/",
    ],
)
def test_a_url_that_cannot_be_read_or_holds_credentials_is_a_bad_url(url: str) -> None:
    error = blocked(url)
    assert error.reason == "bad_url"
    assert error.detail


def test_a_password_in_a_url_is_refused_and_kept_out_of_the_detail() -> None:
    error = blocked(f"http://editor:s3cret@{PUBLIC_V4}/feed.xml")
    assert error.reason == "bad_url"
    assert "s3cret" not in error.detail
    assert "credentials" in error.detail


@pytest.mark.parametrize(
    ("answers", "refused"),
    [
        ([PUBLIC_V4, "10.0.0.7"], "10.0.0.7 (rebind.example) is a private address"),
        (["10.0.0.7", PUBLIC_V4], "10.0.0.7 (rebind.example) is a private address"),
        ([PUBLIC_V6, "::1"], "::1 (rebind.example) is a loopback address"),
        ([PUBLIC_V6, "::ffff:a00:7"], "::ffff:a00:7 (rebind.example) is an IPv4-mapped address"),
    ],
)
def test_a_name_is_blocked_when_any_of_its_addresses_is_not_public(
    answers: list[str], refused: str
) -> None:
    resolver = DictResolver({"rebind.example": answers})
    error = blocked("https://rebind.example/feed", AddressPolicy(resolver=resolver))
    assert error.reason == "blocked_address"
    assert error.detail.startswith(refused)
    assert resolver.calls == [("rebind.example", 443)]


def test_a_name_whose_addresses_are_all_public_leads_to_all_of_them_once() -> None:
    resolver = DictResolver({"www.lemonde.fr": [PUBLIC_V4, PUBLIC_V6, PUBLIC_V4]})
    target = AddressPolicy(resolver=resolver).check("HTTPS://WWW.LeMonde.FR/une?page=2#haut")
    assert target == Target(
        scheme="https",
        host="www.lemonde.fr",
        port=443,
        addresses=(IPv4Address(PUBLIC_V4), IPv6Address(PUBLIC_V6)),
        request_target="/une?page=2",
    )
    assert resolver.calls == [("www.lemonde.fr", 443)]


@pytest.mark.parametrize(
    ("url", "host", "port", "request_target", "authority"),
    [
        ("http://news.example", "news.example", 80, "/", "news.example"),
        ("http://news.example:80/", "news.example", 80, "/", "news.example"),
        ("http://news.example:8080/a/b?x=1&y", "news.example", 8080, "/a/b?x=1&y", None),
        ("https://news.example:443/", "news.example", 443, "/", "news.example"),
        ("https://news.example:80/", "news.example", 80, "/", "news.example:80"),
        ("https://NEWS.example./", "news.example.", 443, "/", "news.example."),
        (
            "http://Bücher.example/été?q=à b",
            "xn--bcher-kva.example",
            80,
            "/%C3%A9t%C3%A9?q=%C3%A0%20b",
            "xn--bcher-kva.example",
        ),
        (
            "http://news.example/a%2Fb?q=%C3%A9#x",
            "news.example",
            80,
            "/a%2Fb?q=%C3%A9",
            "news.example",
        ),
    ],
)
def test_the_target_says_what_to_connect_to_and_what_to_ask_for(
    url: str, host: str, port: int, request_target: str, authority: str | None
) -> None:
    resolver = DictResolver({host: [PUBLIC_V4]})
    target = AddressPolicy(resolver=resolver).check(url)
    assert (target.host, target.port, target.addresses) == (host, port, (IPv4Address(PUBLIC_V4),))
    assert target.request_target == request_target
    assert target.authority == (authority or f"{host}:{port}")
    assert resolver.calls == [(host, port)]


def test_the_authority_of_an_ipv6_target_is_in_brackets() -> None:
    target = AddressPolicy(resolver=no_resolver).check(f"https://[{PUBLIC_V6}]:8443/")
    assert target.host == PUBLIC_V6
    assert target.authority == f"[{PUBLIC_V6}]:8443"


def test_an_allowed_network_lets_its_addresses_through_and_no_other() -> None:
    policy = AddressPolicy(allowed=parse_networks(["127.0.0.1/32"]), resolver=no_resolver)
    assert policy.check("http://127.0.0.1:8000/feed").addresses == (IPv4Address("127.0.0.1"),)
    assert policy.check("http://0x7f.1:8000/feed").host == "127.0.0.1"
    assert policy.refusal(ip_address("127.0.0.1")) is None
    assert policy.refusal(ip_address("127.0.0.2")) == "a loopback address"
    assert blocked("http://127.0.0.2/", policy).reason == "blocked_address"
    assert blocked("http://10.0.0.1/", policy).reason == "blocked_address"


def test_an_allowed_ipv4_network_lets_its_ipv4_mapped_addresses_through() -> None:
    policy = AddressPolicy(allowed=parse_networks(["127.0.0.1/32"]), resolver=no_resolver)
    target = policy.check("http://[::ffff:127.0.0.1]/")
    assert target.addresses == (ip_address("::ffff:127.0.0.1"),)
    assert blocked("http://[::ffff:127.0.0.2]/", policy).reason == "blocked_address"


def test_an_allowed_network_lets_a_name_that_resolves_into_it_through() -> None:
    resolver = DictResolver({"intranet.local": ["10.1.2.3", "fd00::3"]})
    policy = AddressPolicy(allowed=parse_networks(["10.0.0.0/8", "fd00::/8"]), resolver=resolver)
    assert policy.check("http://intranet.local/").addresses == (
        ip_address("10.1.2.3"),
        ip_address("fd00::3"),
    )
    only_v4 = AddressPolicy(allowed=parse_networks(["10.0.0.0/8"]), resolver=resolver)
    assert blocked("http://intranet.local/", only_v4).detail.startswith("fd00::3 (intranet.local)")


@pytest.mark.parametrize(
    "answers",
    [[], ["not an address"]],
)
def test_a_name_that_resolves_to_no_address_is_unresolvable(answers: list[str]) -> None:
    policy = AddressPolicy(resolver=DictResolver({"gone.example": answers}))
    with pytest.raises(Unresolvable, match=re.escape("gone.example")):
        policy.check("http://gone.example/")


def test_the_resolver_s_failure_reaches_the_caller() -> None:
    with pytest.raises(Unresolvable, match=re.escape("nowhere.example")):
        AddressPolicy(resolver=DictResolver({})).check("http://nowhere.example/")


def test_the_system_resolver_reads_a_numeric_host_without_asking_anyone() -> None:
    assert system_resolver("127.0.0.1", 80) == ["127.0.0.1"]


def test_the_system_resolver_turns_a_failure_into_unresolvable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", failing)
    with pytest.raises(Unresolvable, match=re.escape("nowhere.example could not be resolved")):
        system_resolver("nowhere.example", 443)


def test_the_system_resolver_gives_each_address_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def answers(host: str, port: int, **kwargs: object) -> list[tuple[object, ...]]:
        assert kwargs == {"type": socket.SOCK_STREAM}
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_V4, port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (PUBLIC_V6, port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_V4, port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", answers)
    assert system_resolver("www.example.org", 443) == [PUBLIC_V4, PUBLIC_V6]


def test_parse_networks_reads_cidrs_with_host_bits_and_bare_addresses() -> None:
    assert parse_networks(["10.1.2.3/8", " fd00::/8 ", "127.0.0.1"]) == (
        ip_network("10.0.0.0/8"),
        ip_network("fd00::/8"),
        ip_network("127.0.0.1/32"),
    )
    assert parse_networks([]) == ()


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "localhost", "", "fd00::/129"])
def test_parse_networks_names_the_cidr_it_cannot_read(cidr: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{cidr!r} is not a network in CIDR notation")):
        parse_networks(["10.0.0.0/8", cidr])
