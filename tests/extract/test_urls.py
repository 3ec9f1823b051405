"""canonical_url (identity) and absolute_url (output) against ordinary and hostile input."""

from __future__ import annotations

import pytest

from aggregator.extract.urls import absolute_url, canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a", "https://example.com/a"),
        ("HTTPS://Example.COM/Path", "https://example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#section", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        (
            "https://example.com/a?utm_source=rss&b=2&utm_medium=feed&a=1&fbclid=x",
            "https://example.com/a?b=2&a=1",
        ),
        (
            "https://example.com/?gclid=1&dclid=2&msclkid=3&mc_cid=4&mc_eid=5&igshid=6&_ga=7"
            "&yclid=8&ref_src=9&UTM_Campaign=x&p=45870",
            "https://example.com/?p=45870",
        ),
        ("https://interventionalnews.com/?p=45870", "https://interventionalnews.com/?p=45870"),
        ("https://例え.jp/パス", "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9"),
        ("  https://example.com/a b  ", "https://example.com/a%20b"),
        ("https://user:pw@Example.com/", "https://user:pw@example.com/"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        ("ftp://example.com/a", ""),
        ("javascript:alert(1)", ""),
        ("mailto:a@example.com", ""),
        ("/relative/path", ""),
        ("", ""),
        ("http://", ""),
        ("http://[::1", ""),
        ("http://example.com:99999/", ""),
        ("http://exa mple.com/", ""),
        ("https://" + "a" * 3000 + ".com/", ""),
        ("\x00\x01garbage", ""),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/img/a.jpg", "https://example.com/post/1", "https://example.com/img/a.jpg"),
        ("a.jpg", "https://example.com/post/", "https://example.com/post/a.jpg"),
        ("//cdn.example.com/a.jpg", "http://example.com/", "http://cdn.example.com/a.jpg"),
        ("//cdn.example.com/a.jpg", "", "https://cdn.example.com/a.jpg"),
        ("https://example.com/a(1).jpg", "", "https://example.com/a%281%29.jpg"),
        ("https://example.com/a.jpg?x=1&copy=2", "", "https://example.com/a.jpg?x=1&copy=2"),
        ("https://example.com/a.jpg#frag", "", "https://example.com/a.jpg#frag"),
        ("a.jpg", "", ""),
        ("a.jpg", "file:///etc/", ""),
        ("javascript:alert(1)", "https://example.com/", ""),
        ("JaVaScRiPt:alert(1)", "https://example.com/", ""),
        ("jav&#x09;ascript:alert(1)", "https://example.com/", ""),
        ("jav&#x0A;ascript:alert(1)", "https://example.com/", ""),
        ("jav\tascript:alert(1)", "https://example.com/", ""),
        ("jav\nascript:alert(1)", "https://example.com/", ""),
        ("&#106;avascript:alert(1)", "https://example.com/", ""),
        ("&#x6A;avascript:alert(1)", "https://example.com/", ""),
        ("javascript&colon;alert(1)", "https://example.com/", ""),
        ("&#0000106&#0000097vascript:alert(1)", "https://example.com/", ""),
        (" \x01javascript:alert(1)", "https://example.com/", ""),
        ("java\x00script:alert(1)", "https://example.com/", ""),
        ("data:image/png;base64,iVBORw0KGgo=", "https://example.com/", ""),
        ("data:image/svg+xml,<svg onload=alert(1)>", "https://example.com/", ""),
        ("vbscript:msgbox(1)", "https://example.com/", ""),
        ("https://example.com/" + "a" * 2100, "", ""),
    ],
)
def test_absolute_url(url: str, base: str, expected: str) -> None:
    assert absolute_url(url, base) == expected
