"""The public URL a provider called, which is what it signed.

By default it is the configured `public_url`. Behind a proxy that rewrites the host or the scheme
(a load balancer terminating TLS, an ingress), the proxy's `X-Forwarded-Proto`, `X-Forwarded-Host`
and `X-Forwarded-Port` say what the provider called, but anyone can send those headers: they are
read only from a peer listed in `trusted_proxies`.
"""

from __future__ import annotations

from ipaddress import ip_address

from starlette.types import Scope

from switchboard.gateway.config import GatewaySettings

FORWARDED_HEADERS = frozenset({b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def public_base(settings: GatewaySettings, scope: Scope, headers: dict[str, str]) -> str:
    """Scheme and authority of the URL the provider called, without a trailing slash."""
    host = _first(headers.get("x-forwarded-host"))
    if host and _from_trusted_proxy(settings, scope):
        scheme = (_first(headers.get("x-forwarded-proto")) or "https").lower()
        port = _first(headers.get("x-forwarded-port"))
        if port and ":" not in host.rsplit("]", 1)[-1] and port != _DEFAULT_PORTS.get(scheme):
            host = f"{host}:{port}"
        return f"{scheme}://{host}"
    return settings.public_url.rstrip("/")


def _first(value: str | None) -> str:
    """The value the first proxy set (the one facing the provider) in a comma-separated chain."""
    return value.split(",", 1)[0].strip() if value else ""


def _from_trusted_proxy(settings: GatewaySettings, scope: Scope) -> bool:
    client = scope.get("client")
    if not settings.trusted_proxies or not client:
        return False
    try:
        peer = ip_address(client[0])
    except ValueError:
        return False
    return any(peer in network for network in settings.trusted_proxies)
