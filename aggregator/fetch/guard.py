"""The SSRF guard: resolve, check every address, then connect to the vetted one.

Why at connect time, in the slot transport's connect (``fetch.wire``): a check on the URL
before the request is defeated by DNS rebinding and by redirects; the connect sees the
exact address it is about to use, on every hop (POLITENESS_AND_SECURITY.md 2.5, after
Miniflux's dialer ``Control`` callback). TLS SNI and certificate checks still use the URL's
host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable

import httpx

from aggregator.errors import AggregatorError

__all__ = [
    "AddressBlocked",
    "AddressPolicy",
    "DNSFailure",
    "allow_all",
    "build_proxy_transport",
    "is_public_address",
    "resolve_checked",
    "strict_policy",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]
"""True when the fetcher may connect to this address."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_EXTRA_BLOCKED: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    _SHARED,
    ipaddress.IPv4Network("0.0.0.0/8"),
    ipaddress.IPv4Network("192.0.0.0/24"),
    ipaddress.IPv4Network("198.18.0.0/15"),
    ipaddress.IPv4Network("240.0.0.0/4"),
    _NAT64_LOCAL,
)


class AddressBlocked(AggregatorError):
    """The guard refused to connect (non-public address, or a scheme we do not speak)."""


class DNSFailure(AggregatorError):
    """The host name did not resolve."""


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_public_address(ip: IPAddress) -> bool:
    """The strict policy: globally routable unicast only, after unwrapping embedded IPv4."""
    inner = _unwrap(ip)
    for candidate in {ip, inner}:
        if not candidate.is_global or candidate.is_multicast:
            return False
        if any(candidate in net for net in _EXTRA_BLOCKED if net.version == candidate.version):
            return False
    return True


strict_policy: AddressPolicy = is_public_address


def allow_all(ip: IPAddress) -> bool:
    """The policy when ``allow_private_networks`` is set."""
    return True


def _check(host: str, addresses: Iterable[str], policy: AddressPolicy) -> str:
    vetted: str | None = None
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        if not policy(ip):
            raise AddressBlocked(f"{host} resolves to non-public address {ip}")
        if vetted is None:
            vetted = text
    if vetted is None:
        raise DNSFailure(f"{host} has no address")
    return vetted


async def resolve_checked(host: str, port: int, policy: AddressPolicy) -> str:
    """Resolve ``host`` (in a thread: getaddrinfo blocks) and return one vetted address.

    Refuses when ANY address is refused, so that a name with one public and one private
    address cannot be used to reach the private one.
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise DNSFailure(f"cannot resolve {host}: {err}") from err
    return _check(host, (str(info[4][0]) for info in infos), policy)


def build_proxy_transport(
    proxy: str, *, ssl_context: ssl.SSLContext, limits: httpx.Limits
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, for requests through ``proxy``.

    Through a proxy the socket goes to the proxy, which the operator chose; the fetcher
    then vets each target host itself before the request (see ``Fetcher``). Environment
    proxies are never read (``trust_env=False``): they would bypass the guard.
    ``ssl_context`` is the fetcher's one verifying context, shared by its transports.
    """
    return httpx.AsyncHTTPTransport(
        verify=ssl_context,
        proxy=proxy,
        retries=0,
        http1=True,
        http2=False,
        trust_env=False,
        limits=limits,
    )
