"""app room: who the client really is: the address the per-address limits (the inquiry limit, the
failed-authentication throttle) and the access log key on.

The only proxy whose word about the client is believed is CloudFront, and only on a request that
proves it came through CloudFront:

- the request carries the origin secret (`X-Origin-Verify` equal to ORIGIN_VERIFY_SECRET, the header
  CloudFront adds to every origin request; see middleware.OriginGuard), and
- it arrives from a peer in FORWARDED_ALLOW_IPS (in the cluster the VPC range: the nodes that forward
  the load balancer's connections; a peer outside it cannot be the load balancer),

then the client is the address in `X-Viewer-Address`: the distribution's viewer-request function
(components/cdn.py) writes `event.viewer.ip` there, overwriting whatever the client sent. Every
other request is keyed by its TCP peer: locally, without a CDN, that is the client itself.

`X-Forwarded-For` is never read for the client: behind CloudFront its leftmost entries are whatever
the viewer wrote, and without CloudFront all of it is (the load balancer passes TCP through, and a
request that skips CloudFront has no secret). A CDN request without a usable `X-Viewer-Address` (a
distribution without the function) is keyed by its peer, the node, so every viewer would share a few
buckets: that is logged, loudly, rather than believed from a header the viewer controls.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import time
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ORIGIN_HEADER = b"x-origin-verify"
VIEWER_HEADER = b"x-viewer-address"
# A missing viewer address on a CDN request is a configuration error: said at most this often.
_WARN_EVERY_SECONDS = 300.0

log = logging.getLogger("shipments.forwarded")


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


def parse_viewer_address(text: str) -> IPAddress | None:
    """The address in an `X-Viewer-Address` value, else None.

    CloudFront's function writes the bare address (`203.0.113.9`, `2001:db8::1`). `ip:port` with an
    IPv4 address or a bracketed IPv6 one (`[2001:db8::1]:443`) is accepted too; an unbracketed IPv6
    address is read as an address, never as address plus port. Anything else is refused.
    """
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and _port(rest[1:]))):
            return None
        text = host
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not _port(port):
            return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535


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
    """Pure ASGI middleware: set scope["client"] to the viewer CloudFront names, on requests that
    carry the origin secret from a trusted peer; otherwise leave the TCP peer. A trusted peer's
    X-Forwarded-Proto sets scope["scheme"]."""

    def __init__(self, app: ASGIApp, trusted: Sequence[str], origin_secret: str | None = None):
        self.app = app
        self.any_peer, self.networks = parse_trusted(trusted)
        self.secret = origin_secret.encode() if origin_secret else None
        # Peers are few (the nodes behind the load balancer): remember the verdict per peer.
        self._trusted_peer = functools.lru_cache(maxsize=1024)(self._peer_is_trusted)
        self._warned = -_WARN_EVERY_SECONDS

    def _peer_is_trusted(self, peer: str) -> bool:
        if self.any_peer:
            return True
        address = parse_address(peer)
        return address is not None and any(address in net for net in self.networks)

    def viewer(self, headers: Sequence[tuple[bytes, bytes]]) -> tuple[str, int] | None:
        """The viewer CloudFront names, when the headers carry the origin secret; else None."""
        if self.secret is None:
            return None
        supplied = b""
        viewers: list[bytes] = []
        for name, value in headers:
            if name == ORIGIN_HEADER:
                supplied = value  # the last one, as the origin guard reads it
            elif name == VIEWER_HEADER:
                viewers.append(value)
        if not hmac.compare_digest(supplied, self.secret):
            return None
        # CloudFront's function sets the header (one value, the client's overwritten): more than
        # one means something else added it, and nothing that can be told apart is believed.
        parsed = parse_viewer_address(viewers[0].decode("latin-1")) if len(viewers) == 1 else None
        if parsed is None:
            now = time.monotonic()
            if now - self._warned >= _WARN_EVERY_SECONDS:
                self._warned = now
                log.warning(
                    "a request through the CDN has no usable X-Viewer-Address: it is keyed by its peer, so "
                    "viewers share per-address limits; the distribution's viewer-request function must set "
                    "X-Viewer-Address",
                    extra={"values": len(viewers)},
                )
            return None
        return str(parsed), 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = scope.get("client")
            if peer is not None and self._trusted_peer(peer[0]):
                viewer = self.viewer(scope["headers"])
                if viewer is not None:
                    scope["client"] = viewer
                proto = None
                for name, value in scope["headers"]:
                    if name == b"x-forwarded-proto":
                        proto = value
                if proto is not None:
                    scheme = proto.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
                    if scheme in ("http", "https"):
                        scope["scheme"] = scheme
        await self.app(scope, receive, send)
