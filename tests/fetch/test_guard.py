"""The SSRF guard (POLITENESS_AND_SECURITY.md 2.5): table of addresses, and refusals on a
real loopback server with zero bytes reaching it."""

from __future__ import annotations

import ipaddress
import socket

import httpx
import pytest

from aggregator.errors import ErrorClass
from aggregator.fetch import AddressPolicy, Fetcher, is_public_address
from aggregator.fetch.wire import SlotTransport
from aggregator.model import FetchRequest, FetchResult, FetchSettings, FetchStatus
from tests.fetch.helpers import run
from tests.httpserver import LoopbackServer

FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # RFC 6598 shared address space
        ("0.0.0.0", False),
        ("224.0.0.1", False),  # multicast reports is_global=True on 3.11
        ("239.255.255.250", False),
        ("255.255.255.255", False),
        ("198.18.0.1", False),  # benchmarking
        ("192.0.0.8", False),
        ("::1", False),
        ("::", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::", False),  # 6to4 of 192.168.1.1
    ],
)
def test_address_policy_table(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


def _strict_fetch(urls: list[str], policy: AddressPolicy | None = None) -> list[FetchResult]:
    async def go() -> list[FetchResult]:
        strict = FetchSettings(per_host_delay_seconds=0.0)
        async with Fetcher(strict, address_policy=policy) as fetcher:
            return [await fetcher.fetch(FetchRequest(url)) for url in urls]

    return run(go())


def test_internal_addresses_are_refused_before_any_byte(server: LoopbackServer) -> None:
    server.route("/secret", body=b"metadata credentials")
    port = server.port
    urls = [
        f"http://127.0.0.1:{port}/secret",
        f"http://[::ffff:127.0.0.1]:{port}/secret",
        f"http://0x7f.1:{port}/secret",
        f"http://2130706433:{port}/secret",
        f"http://localhost:{port}/secret",
        f"http://[::1]:{port}/secret",
    ]
    results = _strict_fetch(urls)
    for url, result in zip(urls, results, strict=True):
        assert result.status is FetchStatus.ERROR, url
        assert result.error_class is ErrorClass.BLOCKED, (url, result.error_message)
        assert b"credentials" not in result.body
    assert server.requests == []


def test_redirect_from_an_allowed_server_to_localhost_is_refused(
    server: LoopbackServer,
) -> None:
    """127.0.0.2 plays a public host (the injected policy allows it, and only it)."""
    server.route("/secret", body=b"metadata credentials")
    with LoopbackServer("127.0.0.2") as public:
        public.route("/feed", body=FEED)
        public.route(
            "/moved", status=302, headers={"location": f"http://localhost:{server.port}/secret"}
        )

        def policy(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
            return ip == ipaddress.ip_address("127.0.0.2")

        ok, moved = _strict_fetch([public.url("/feed"), public.url("/moved")], policy)
        assert ok.status is FetchStatus.OK
        assert moved.error_class is ErrorClass.BLOCKED
        assert moved.redirects[0].to_url == f"http://localhost:{server.port}/secret"
        assert [r.path for r in public.requests] == ["/feed", "/moved"]
    assert server.requests == []


def test_any_non_public_address_refuses_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with one public and one private address is refused (no picking)."""

    def two_addresses(host: str, port: object, *args: object, **kwargs: object) -> list[object]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 80)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    (result,) = _strict_fetch(["http://rebind.example/feed"])
    assert result.error_class is ErrorClass.BLOCKED
    assert "10.0.0.1" in result.error_message


def test_only_http_and_https() -> None:
    results = _strict_fetch(["file:///etc/passwd", "ftp://example.org/feed", "gopher://x/"])
    assert [r.error_class for r in results] == [ErrorClass.BLOCKED] * 3


def test_env_proxy_is_ignored(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """trust_env=False: an environment proxy would bypass the guard."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9/")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9/")
    server.route("/feed", body=FEED)

    async def go() -> FetchResult:
        loose = FetchSettings(allow_private_networks=True, per_host_delay_seconds=0.0)
        async with Fetcher(loose) as fetcher:
            return await fetcher.fetch(FetchRequest(server.url("/feed")))

    assert run(go()).status is FetchStatus.OK


def test_allow_private_networks_only_disables_the_address_check(
    server: LoopbackServer,
) -> None:
    server.route("/feed", body=FEED)

    async def go() -> list[FetchResult]:
        loose = FetchSettings(allow_private_networks=True, per_host_delay_seconds=0.0)
        async with Fetcher(loose) as fetcher:
            return [
                await fetcher.fetch(FetchRequest(server.url("/feed"))),
                await fetcher.fetch(FetchRequest("file:///etc/passwd")),
            ]

    ok, scheme = run(go())
    assert ok.status is FetchStatus.OK
    assert scheme.error_class is ErrorClass.BLOCKED


def test_the_slot_transport_speaks_only_http_and_https() -> None:
    """Below the fetcher's own scheme check, the transport refuses other schemes too."""

    async def go() -> None:
        transport = SlotTransport(is_public_address, httpx.create_ssl_context)
        await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/feed"))

    with pytest.raises(httpx.UnsupportedProtocol, match="ftp"):
        run(go())


def test_mock_transport_is_used_when_given() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=FEED)

    async def go() -> FetchResult:
        async with Fetcher(FetchSettings(), transport=httpx.MockTransport(handler)) as fetcher:
            return await fetcher.fetch(FetchRequest("http://feeds.example.org/rss"))

    result = run(go())
    assert result.status is FetchStatus.OK
    assert result.body == FEED


def test_through_a_proxy_targets_are_still_vetted(server: LoopbackServer) -> None:
    """With a proxy the socket goes to the proxy (operator's choice), so the fetcher vets
    the target host itself: an internal target never reaches the proxy."""
    server.route("/secret", body=b"metadata credentials")

    async def go(allow: bool) -> FetchResult:
        proxied = FetchSettings(
            proxy=server.url("/"), allow_private_networks=allow, per_host_delay_seconds=0.0
        )
        async with Fetcher(proxied) as fetcher:
            return await fetcher.fetch(FetchRequest("http://127.0.0.1:9/secret"))

    blocked = run(go(allow=False))
    assert blocked.error_class is ErrorClass.BLOCKED
    assert server.requests == []
    run(go(allow=True))
    # An HTTP proxy receives the absolute URL: the request went through the proxy.
    assert [r.path for r in server.requests] == ["http://127.0.0.1:9/secret"]
