"""Where partner webhooks may go: public addresses only, checked after DNS, connected by IP.

A URL is checked when an endpoint is registered and again before every attempt. The request is
then sent to the very address that was checked (the URL's host is replaced by the IP; `Host`
and TLS SNI keep the name, and the certificate is verified against the name), so a DNS answer
that changes between the check and the connection (rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from switchboard.common.errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges `is_global` lets through that no partner endpoint should ever be on.
_ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "100.64.0.0/10",  # carrier-grade NAT (also where some clouds put metadata services)
        "192.0.0.0/24",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "ff00::/8",
        "64:ff9b:1::/48",
    )
)


class TargetRefused(BadRequest):
    """The URL is not an allowed webhook target (scheme, or an address that is not public)."""

    code = "webhook_target_refused"


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    allow_private: bool = False
    allow_http: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the addresses it resolved to (every one of them allowed)."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]


def is_public(address: IPAddress) -> bool:
    """Whether `address` is a public unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public(mapped)
        if address.teredo is not None:
            return is_public(address.teredo[1])
    if any(address in network for network in _ALWAYS_REFUSED):
        return False
    return address.is_global and not (address.is_multicast or address.is_unspecified)


def check_url(url: str, policy: TargetPolicy) -> httpx.URL:
    """The URL parsed, or `TargetRefused` if its form is not allowed (before any DNS)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TargetRefused(f"Not a valid URL: {exc}.") from exc
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parsed.scheme not in allowed:
        raise TargetRefused("Webhook URLs must use https.")
    if not parsed.host:
        raise TargetRefused("The webhook URL has no host.")
    if parsed.userinfo:
        raise TargetRefused("Webhook URLs cannot carry credentials.")
    return parsed


async def resolve(url: str, policy: TargetPolicy) -> Target:
    """Check `url`, resolve its host and pick an address; every address must be allowed."""
    parsed = check_url(url, policy)
    addresses = await _addresses(
        parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)
    )
    if not policy.allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise TargetRefused(f"{parsed.host} resolves to a non-public address ({refused[0]}).")
    return Target(url=parsed, addresses=tuple(addresses))


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as exc:
        raise TargetRefused(f"{host} does not resolve.") from exc
    # Scope ids ("fe80::1%eth0") are dropped: such an address is link-local and refused anyway.
    found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not found:
        raise TargetRefused(f"{host} does not resolve.")
    return list(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Pinned:
    """How to reach `target` at one checked address while it still sees its own name."""

    url: str  # the target's URL with the address in place of the name
    host: str  # the Host header: the name (and port) the partner registered
    server_hostname: str | None  # TLS SNI and certificate name; None for plain http


def pinned(target: Target, address: IPAddress) -> Pinned:
    host = target.url.host
    port = target.url.port
    literal = f"[{address}]" if address.version == 6 else str(address)
    return Pinned(
        url=str(target.url.copy_with(host=literal)),
        host=host if port is None else f"{host}:{port}",
        server_hostname=host if target.url.scheme == "https" else None,
    )
