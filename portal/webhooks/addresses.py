"""Which addresses a webhook may be sent to: https only, and never an address inside a private,
loopback, link-local or otherwise non-public network (SSRF: a portal user must not make the server
call its own admin interfaces or cloud metadata). Checked when an endpoint is registered and again
before every delivery, on the addresses the host name resolves to then. WEBHOOKS_ALLOW_INSECURE
(development, tests) also allows http:// and loopback addresses, and nothing else."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000

#: getaddrinfo(host, port, ...) -> [(family, type, proto, canonname, sockaddr), ...]
Resolver = Callable[..., list]


class UrlRefused(ValueError):
    """The URL may not receive webhooks. `code`: malformed, scheme, credentials, unresolvable, private."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def check_url(url: str, *, allow_insecure: bool, resolve: Resolver = socket.getaddrinfo) -> str:
    """The URL, stripped, if it may receive webhooks (its shape and the addresses its host has now)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("malformed", "not a URL") from None
    if len(url) > MAX_URL_LENGTH or not parts.hostname or parts.fragment or any(c.isspace() for c in url):
        raise UrlRefused("malformed", "not a URL")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("credentials", "a URL with a user name or password")
    if parts.scheme != "https" and not (allow_insecure and parts.scheme == "http"):
        raise UrlRefused("scheme", "webhooks go to https:// addresses")
    check_host(parts.hostname, port or (443 if parts.scheme == "https" else 80), allow_insecure=allow_insecure,
               resolve=resolve)  # fmt: skip
    return url


def check_host(host: str, port: int, *, allow_insecure: bool, resolve: Resolver = socket.getaddrinfo) -> str:
    """Every address `host` resolves to must be public (or loopback, with `allow_insecure`); returns
    the one to connect to (the delivery pins its connection to it: no second look-up to rebind)."""
    try:
        found = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlRefused("unresolvable", f"cannot resolve {host}") from None
    addresses = {info[4][0] for info in found}
    if not addresses:
        raise UrlRefused("unresolvable", f"cannot resolve {host}")
    for text in addresses:
        if not allowed_address(text, allow_insecure=allow_insecure):
            raise UrlRefused("private", f"{host} resolves to a non-public address")
    return sorted(addresses)[0].split("%", 1)[0]


#: Networks refused whatever `is_global` says (older Pythons call some of them global).
_REFUSED = tuple(
    ipaddress.ip_network(net)
    for net in ("192.0.0.0/24", "fec0::/10", "64:ff9b:1::/48", "2001:db8::/32", "100::/64", "2001:10::/28")
)
#: IPv6 ranges that carry an IPv4 address in their last 32 bits: NAT64 and IPv4-compatible.
_LAST_32_BITS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through a translation or tunnel: IPv4-mapped,
    NAT64 (64:ff9b::/96), IPv4-compatible (::/96), 6to4 (2002::/16), Teredo (2001::/32, server and client)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if any(address in net for net in _LAST_32_BITS) and int(address) > 1:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def allowed_address(text: str, *, allow_insecure: bool) -> bool:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, like 127.0.0.1
        elif not all(allowed_address(str(ip), allow_insecure=False) for ip in inner):
            return False  # and the IPv6 address itself must pass too (Teredo, ::/96: never global)
    if allow_insecure and address.is_loopback:
        return True
    if any(address in net for net in _REFUSED if net.version == address.version):
        return False
    return address.is_global and not address.is_multicast and not address.is_reserved
