"""URLs as text: the canonical spelling of an article's address, hosts, absolute links."""

from __future__ import annotations

import pytest

from tasks.web.urls import absolute, ascii_host, canonical_url, host_of

CANONICAL = [
    ("HTTP://WWW.LeMonde.FR/politique/", "http://www.lemonde.fr/politique/"),
    ("http://www.lemonde.fr:80/a", "http://www.lemonde.fr/a"),
    ("https://www.lemonde.fr:443/a", "https://www.lemonde.fr/a"),
    ("https://www.lemonde.fr:80/a", "https://www.lemonde.fr:80/a"),
    ("http://www.lemonde.fr:8080/a", "http://www.lemonde.fr:8080/a"),
    ("https://www.lemonde.fr", "https://www.lemonde.fr/"),
    ("https://www.lemonde.fr?id=3", "https://www.lemonde.fr/?id=3"),
    ("https://www.lemonde.fr/a#commentaires", "https://www.lemonde.fr/a"),
    ("https://www.lemonde.fr/a?", "https://www.lemonde.fr/a"),
    ("https://www.lemonde.fr/a/./b/../c", "https://www.lemonde.fr/a/c"),
    ("https://www.lemonde.fr/a/b/..", "https://www.lemonde.fr/a/"),
    ("https://www.lemonde.fr/../../a", "https://www.lemonde.fr/a"),
    ("https://www.lemonde.fr/a/%2e%2E/b", "https://www.lemonde.fr/b"),
    ("https://www.lemonde.fr/a//b/", "https://www.lemonde.fr/a//b/"),
    ("https://www.lemonde.fr/a%2fb", "https://www.lemonde.fr/a%2Fb"),
    ("https://www.lemonde.fr/%7Eauteur/%41-%5a", "https://www.lemonde.fr/~auteur/A-Z"),
    ("https://www.lemonde.fr/%c3%a9t%c3%a9", "https://www.lemonde.fr/%C3%A9t%C3%A9"),
    ("https://www.lemonde.fr/été", "https://www.lemonde.fr/%C3%A9t%C3%A9"),
    ("https://www.lemonde.fr/a b", "https://www.lemonde.fr/a%20b"),
    ("https://www.lemonde.fr/?q=%c3%a9&r=a%2Bb", "https://www.lemonde.fr/?q=%C3%A9&r=a%2Bb"),
    ("  https://www.lemonde.fr/a\n", "https://www.lemonde.fr/a"),
    ("https://www.le\nmonde.fr/a", "https://www.lemonde.fr/a"),
    ("https://Bücher.example/", "https://xn--bcher-kva.example/"),
    ("https://[2606:4700:0:0::1111]:443/", "https://[2606:4700::1111]/"),
    ("https://[2606:4700::1111]:8443/", "https://[2606:4700::1111]:8443/"),
]


@pytest.mark.parametrize(("url", "canonical"), CANONICAL)
def test_canonical_url_spells_an_address_one_way(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize("canonical", [canonical for _, canonical in CANONICAL])
def test_a_canonical_url_is_its_own_canonical_url(canonical: str) -> None:
    assert canonical_url(canonical) == canonical


@pytest.mark.parametrize(
    "tracking",
    [
        "utm_source=rss",
        "utm_medium=social",
        "UTM_Campaign=une",
        "utm_content=x",
        "fbclid=IwAR0abc",
        "gclid=abc",
        "dclid=abc",
        "msclkid=abc",
        "mc_cid=abc",
        "mc_eid=abc",
        "igshid=abc",
        "_ga=2.1.2",
        "xtor=RSS-3208",
        "XTOR=CS1-8",
        "at_medium=custom7",
        "at_campaign=NL_une",
        "at_send_date=20240102",
        "ref_src=twsrc%5Etfw",
        "utm_source",
    ],
)
def test_tracking_parameters_are_dropped_and_the_others_kept_in_order(tracking: str) -> None:
    url = f"https://www.lefigaro.fr/article?page=2&{tracking}&id=42"
    assert canonical_url(url) == "https://www.lefigaro.fr/article?page=2&id=42"


def test_a_url_with_only_tracking_parameters_has_no_query() -> None:
    url = "https://www.liberation.fr/a/?utm_source=twitter&xtor=CS1-1&at_medium=rss#xtor=RSS"
    assert canonical_url(url) == "https://www.liberation.fr/a/"


@pytest.mark.parametrize(
    "kept",
    ["ref=home", "id=utm_source", "page_utm=1", "gclidx=1", "cat=at_home", "q=fbclid"],
)
def test_parameters_that_only_look_like_tracking_are_kept(kept: str) -> None:
    url = f"https://www.ouest-france.fr/a?{kept}"
    assert canonical_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "mailto:redaction@example.fr",
        "FTP://Example.com:21/a/../b?utm_source=x",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://www.lemonde.fr:99999/a",  # port out of range
        "http:///a",  # no host
        "http://a%2fb.example/",  # no host name
        "  ftp://Example.com/  ",
    ],
)
def test_canonical_url_returns_what_it_cannot_read_unchanged(url: str) -> None:
    assert canonical_url(url) == url


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.LeMonde.fr/a", "www.lemonde.fr"),
        ("https://www.lemonde.fr:443/a", "www.lemonde.fr"),
        ("http://www.lemonde.fr:80/a", "www.lemonde.fr"),
        ("https://www.lemonde.fr:80/a", "www.lemonde.fr:80"),
        ("http://localhost:8080/feed", "localhost:8080"),
        ("http://[::1]:8080/feed", "[::1]:8080"),
        ("https://[2606:4700::1111]/", "[2606:4700::1111]"),
        (" https://Bücher.example/ ", "xn--bcher-kva.example"),
        ("http://user:pw@Example.com/", "example.com"),
    ],
)
def test_host_of_names_the_host_and_a_port_that_is_not_the_default(url: str, host: str) -> None:
    assert host_of(url) == host


@pytest.mark.parametrize("url", ["/relative/path", "mailto:a@b", "http:///a", ""])
def test_host_of_a_url_without_a_host_is_an_error(url: str) -> None:
    with pytest.raises(ValueError, match="names no host"):
        host_of(url)


@pytest.mark.parametrize(
    ("base", "link", "url"),
    [
        (
            "https://www.lemonde.fr/rss/une.xml",
            "/politique/a.html",
            "https://www.lemonde.fr/politique/a.html",
        ),
        ("https://www.lemonde.fr/rss/une.xml", "a.html", "https://www.lemonde.fr/rss/a.html"),
        ("https://www.lemonde.fr/rss/une.xml", "../a.html", "https://www.lemonde.fr/a.html"),
        ("https://www.lemonde.fr/rss/une.xml", "//cdn.example/a", "https://cdn.example/a"),
        ("https://www.lemonde.fr/rss/une.xml", "http://other.example/", "http://other.example/"),
        ("https://www.lemonde.fr/rss/une.xml", "  \n/a.html\t ", "https://www.lemonde.fr/a.html"),
        (" https://www.lemonde.fr/rss/ ", "a.html", "https://www.lemonde.fr/rss/a.html"),
        (
            "https://www.lemonde.fr/rss/une.xml",
            "?page=2",
            "https://www.lemonde.fr/rss/une.xml?page=2",
        ),
    ],
)
def test_absolute_resolves_a_link_against_the_document_it_was_found_in(
    base: str, link: str, url: str
) -> None:
    assert absolute(base, link) == url


@pytest.mark.parametrize(
    ("host", "ascii"),
    [
        ("WWW.LeMonde.FR", "www.lemonde.fr"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("news.example.", "news.example."),
        ("under_score.example", "under_score.example"),
        ("[2606:4700:0:0::1111]", "2606:4700::1111"),
        ("2606:4700:0:0::1111", "2606:4700::1111"),
        ("１２７.０.０.１", "127.0.0.1"),
    ],
)
def test_ascii_host_is_the_host_as_it_goes_on_the_wire(host: str, ascii: str) -> None:
    assert ascii_host(host) == ascii


@pytest.mark.parametrize(
    "host",
    ["", "a..b", "exa mple.com", "a%2fb", "a\\b", "x" * 64 + ".example", "faß.de", "::g"],
)
def test_ascii_host_refuses_what_is_no_host(host: str) -> None:
    with pytest.raises(ValueError):
        ascii_host(host)
