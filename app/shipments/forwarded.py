"""app room: who the client really is behind the CDN and the load balancer: the client address and
scheme from X-Forwarded-For / X-Forwarded-Proto, trusted only when the immediate peer is a trusted proxy.

Written here rather than left to uvicorn's `proxy_headers`: with FORWARDED_ALLOW_IPS="*" (what berth's
ConfigMap sets, since only the load balancer reaches the pods) uvicorn takes the *leftmost*
X-Forwarded-For entry, which the client writes itself. CloudFront appends the viewer's address to
whatever the viewer sent, so a random header per request would dodge every per-address limit (the
inquiry limit, the failed-authentication throttle). Each proxy appends the address it saw, so the
client is the rightmost entry that is not itself a trusted proxy; "*" trusts the immediate peer only,
that is one hop: the address CloudFront appended.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(entries: Sequence[str]) -> tuple[bool, tuple[IPNetwork, ...]]:
    """(any peer is trusted, networks of trusted proxies); raises ValueError naming a bad entry."""
    if list(entries) == ["*"]:
        return True, ()
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (or use * alone)") from None
    return False, tuple(networks)


def parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it (`1.2.3.4`, `1.2.3.4:567`, `::1`, `[::1]:567`), else None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def rate_limit_bucket(host: str) -> str:
    """Who a per-address limit counts: an IPv4 address, or an IPv6 address's /64. A single IPv6
    subscriber is usually given a whole /64 (CloudFront serves IPv6 viewers), so per address it
    could rotate through 2**64 of them."""
    address = parse_address(host)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address is not None else host


class ClientAddress:
    """Pure ASGI middleware: rewrite scope["client"] (and "scheme") from the forwarding headers of a
    trusted peer. An entry that is not an address stops the walk and the peer's address is kept."""

    def __init__(self, app: ASGIApp, trusted: Sequence[str]):
        self.app = app
        self.any_peer, self.networks = parse_trusted(trusted)
        # Peers are few (the load balancer's addresses): remember the verdict per peer.
        self._trusted_peer = functools.lru_cache(maxsize=1024)(self._peer_is_trusted)

    def _peer_is_trusted(self, peer: str) -> bool:
        return self.any_peer or self._trusted(parse_address(peer))

    def _trusted(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in net for net in self.networks)

    def client_from(self, forwarded_for: str) -> str | None:
        entries = forwarded_for.split(",")
        first: IPAddress | None = None
        for entry in reversed(entries):
            address = parse_address(entry)
            if address is None:
                return None
            if self.any_peer or not self._trusted(address):
                return str(address)
            first = address
        # Every hop is a trusted proxy: the leftmost one is the client.
        return str(first) if first is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = scope.get("client")
            if peer is not None and self._trusted_peer(peer[0]):
                forwarded: list[bytes] = []
                proto = None
                for name, value in scope["headers"]:
                    if name == b"x-forwarded-for":
                        forwarded.append(value)
                    elif name == b"x-forwarded-proto":
                        proto = value
                if forwarded:
                    client = self.client_from(b",".join(forwarded).decode("latin-1"))
                    if client is not None:
                        scope["client"] = (client, 0)
                if proto is not None:
                    scheme = proto.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
                    if scheme in ("http", "https"):
                        scope["scheme"] = scheme
        await self.app(scope, receive, send)
