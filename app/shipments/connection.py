"""app room: the HTTP/1.1 connection: uvicorn's httptools protocol plus the limits it lacks.

uvicorn has settings for the concurrency cap (`limit_concurrency`, a 503 past it) and the keep-alive
timeout, and server.py uses them. It has none for these, so they are written here:

- the size of a request head (request line + headers), and of trailers: 431 past MAX_HEADER_BYTES.
  uvicorn's only header limit, `h11_max_incomplete_event_size`, applies to the pure-Python h11
  protocol, which costs ~80 us more CPU per request than httptools (hello-world: ~5,000 vs ~8,500
  req/s here). httptools has no limit and appends each piece of a header value to what it holds
  (`bytes +=`), so a 48 MB header costs quadratic copying and stalls the event loop. Data is
  therefore fed to the parser in slices, and a connection that sends MAX_HEADER_BYTES without the
  parser completing a head (or, after it, any body or chunk event) is answered 431 and closed.
- a header-read timeout: a head not complete HEADER_READ_TIMEOUT_SECONDS after the connection opened
  or after its first byte gets 408 (silent close if nothing at all was sent), so a request whose
  headers never finish cannot hold a connection (and a slot of the concurrency cap) for minutes.
- a body-read timeout: a body not complete BODY_READ_TIMEOUT_SECONDS after its head gets 408 (or,
  when the app has answered already, e.g. 403 or 413 without reading it, the connection is closed).

- a per-address connection cap: a peer (IPv4 address, IPv6 /64) outside the trusted proxies
  (FORWARDED_ALLOW_IPS) with MAX_CONNECTIONS_PER_ADDRESS connections open has further ones closed at
  once, before they count against `limit_concurrency`: one client's idle sockets cannot fill the
  server. The proxies (the load balancer's path, CloudFront) are exempt: behind them the peer is
  not the client.
- a send timeout: a connection whose answer has sat unsent (the transport's buffer over its high
  water mark: the client stopped reading) for SEND_TIMEOUT_SECONDS is aborted, so a client that
  does not read cannot hold its slot, its request task and the queued bytes for ever.

The 503 of the concurrency cap is uvicorn's, with a JSON body and Retry-After like the API's errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from .forwarded import parse_address, parse_trusted, rate_limit_bucket

log = logging.getLogger("shipments.server")


# After a refusal the rest of what the client is still sending is read and dropped for a moment
# (a "lingering close", as nginx does): closing a socket with unread input sends a TCP reset, which
# can destroy the answer before the client reads it. Bounded, so an attacker gains nothing by it.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1 << 20


# A flood logs its refusals at most this often (one line per refused connection would be the flood).
_REFUSAL_LOG_SECONDS = 10.0


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 32768
    header_read_timeout: float = 10.0
    body_read_timeout: float = 10.0
    # 0: no per-address cap.
    max_connections_per_address: int = 0
    send_timeout: float = 10.0
    # FORWARDED_ALLOW_IPS: peers exempt from the per-address cap.
    trusted_proxies: tuple[str, ...] = ()


_OVER_CAPACITY = json.dumps(
    {"error": "unavailable", "message": "the server is at its concurrency limit; retry shortly"}
).encode()


async def over_capacity(scope: Any, receive: Any, send: Any) -> None:
    """uvicorn's concurrency-limit answer in the API's error format."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_OVER_CAPACITY)).encode()),
                (b"retry-after", b"1"),
                (b"cache-control", b"no-store"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _OVER_CAPACITY, "more_body": False})


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits = Limits()

    # Per server (with_limits makes a class per listener): open connections per address bucket.
    per_address: dict[str, int] = {}
    trusted: tuple[bool, tuple[Any, ...]] = (False, ())
    refused_since_log = 0
    last_refusal_log = 0.0

    @classmethod
    def with_limits(cls, limits: Limits) -> type[LimitedHttpToolsProtocol]:
        """A protocol class for uvicorn's `http=` setting (uvicorn instantiates it per connection)."""
        return type(
            cls.__name__,
            (cls,),
            {"limits": limits, "per_address": {}, "trusted": parse_trusted(limits.trusted_proxies)},
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # reading (or waiting for) a request head
        self._stalled = 0  # bytes fed since the parser last made progress
        self._progressed = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._lingering: int | None = None  # bytes dropped since a refusal
        self._bucket: str | None = None  # counted in per_address under this key
        self._send_timer: asyncio.TimerHandle | None = None

    # -- connection --------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cap = self.limits.max_connections_per_address
        if cap and self.client and not self._is_proxy(self.client[0]):
            bucket = rate_limit_bucket(self.client[0])
            open_now = self.per_address.get(bucket, 0)
            if open_now >= cap:
                self._refuse_connection(bucket)
                return
            self.per_address[bucket] = open_now + 1
            self._bucket = bucket
        self._head_timer = self.loop.call_later(self.limits.header_read_timeout, self._head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._bucket is not None:
            left = self.per_address.get(self._bucket, 1) - 1
            if left > 0:
                self.per_address[self._bucket] = left
            else:
                self.per_address.pop(self._bucket, None)
            self._bucket = None
        super().connection_lost(exc)

    def _is_proxy(self, host: str) -> bool:
        any_peer, networks = self.trusted
        if any_peer:
            return True
        address = parse_address(host)
        return address is not None and any(address in n for n in networks)

    def _refuse_connection(self, bucket: str) -> None:
        """Over the per-address cap: closed before it reads a byte (no answer: nothing was asked)."""
        cls = type(self)
        cls.refused_since_log += 1
        now = time.monotonic()
        if now - cls.last_refusal_log >= _REFUSAL_LOG_SECONDS:
            log.warning(
                "connections refused: per-address cap",
                extra={
                    "peer": bucket,
                    "cap": self.limits.max_connections_per_address,
                    "refused": cls.refused_since_log,
                },
            )
            cls.last_refusal_log, cls.refused_since_log = now, 0
        self.transport.abort()

    # -- flow control: a client that does not read -------------------------------------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.send_timeout, self._send_timeout)

    def resume_writing(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        super().resume_writing()

    def _send_timeout(self) -> None:
        self._send_timer = None
        if self.transport.is_closing():
            return
        pending = self.transport.get_write_buffer_size()
        client = self.client[0] if self.client else "?"
        log.info(
            "connection aborted: client not reading",
            extra={"peer": client, "seconds": self.limits.send_timeout, "unsent_bytes": pending},
        )
        # abort, not close: close would wait for the unsent bytes to drain, which is the problem.
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._lingering is not None:
            self._lingering += len(data)
            if self._lingering > LINGER_BYTES:
                self.transport.close()
            return
        limit = self.limits.max_header_bytes
        if len(data) <= limit - self._stalled:
            self._feed(data)
        else:
            view = memoryview(data)
            pos = 0
            while pos < len(data) and not self._done():
                piece = view[pos : pos + limit - self._stalled]
                pos += len(piece)
                self._feed(piece)  # type: ignore[arg-type]  # httptools takes any buffer
        if self._done():
            return
        if self._in_head:
            if self._stalled and self._head_timer is None:
                self._head_timer = self.loop.call_later(self.limits.header_read_timeout, self._head_timeout)
        elif self._body_timer is None:
            self._body_timer = self.loop.call_later(self.limits.body_read_timeout, self._body_timeout)

    def _done(self) -> bool:
        return self._lingering is not None or self.transport.is_closing()

    def _feed(self, piece: bytes) -> None:
        self._progressed = False
        super().data_received(piece)
        if self._done():
            return
        if self._progressed:
            self._stalled = 0
            return
        self._stalled += len(piece)
        if self._stalled >= self.limits.max_header_bytes:
            what = "request head" if self._in_head else "trailer section"
            self._refuse(431, "headers_too_large", f"{what} over {self.limits.max_header_bytes} bytes")

    # -- parser callbacks: what counts as progress ---------------------------------------------------
    def on_headers_complete(self) -> None:
        self._in_head = False
        self._progressed = True
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._progressed = True
        super().on_body(body)

    def on_chunk_header(self) -> None:
        self._progressed = True

    def on_chunk_complete(self) -> None:
        self._progressed = True

    def on_message_complete(self) -> None:
        self._in_head = True
        self._progressed = True
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn logs two warnings per `Upgrade:` request when WebSockets are off (server.py turns
        # them off): a client could triple the log volume per request. The request is served as HTTP.
        log.debug("upgrade request served as plain HTTP")

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        super()._start_asgi_task(cycle, over_capacity if app is service_unavailable else app)

    # -- timeouts and refusals -------------------------------------------------------------------------
    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._send_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self._done() or not self._in_head:
            return
        if not self._stalled:
            # Connected (or kept alive) and sent nothing: nobody to answer.
            self.transport.close()
            return
        self._refuse(408, "request_timeout", f"request head not received within {self.limits.header_read_timeout:g} s")

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self._done() or self._in_head:
            return
        if self.cycle is not None and self.cycle.response_complete:
            # The app answered without reading the body (403, 413): do not wait for the rest.
            self._close(408, "request body not received in time after the response")
            return
        self._refuse(408, "request_timeout", f"request body not received within {self.limits.body_read_timeout:g} s")

    def _refuse(self, status: int, error: str, message: str) -> None:
        """Answer `status` in the API's error format and close (after a short lingering read). A
        request the app is still handling is cut off: its receive() reports a disconnect, its
        answer is dropped, and the access log records `status` (middleware.Observability)."""
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and not self._in_head:
            # Oversized trailers of a request already answered: the client has its answer.
            self._close(status, message)
            return
        if cycle is not None and not cycle.response_complete:
            cycle.scope["state"]["refused"] = status
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:  # too late for another status line
                self._close(status, message)
                return
        body = json.dumps({"error": error, "message": message}).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(
            b"content-type: application/json\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
        )
        self.transport.write(b"".join(head) + body)
        self._log(status, message)
        self._cancel_timers()
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._lingering = 0
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _close(self, status: int, message: str) -> None:
        self._log(status, message)
        self._cancel_timers()
        self.transport.close()

    def _log(self, status: int, message: str) -> None:
        client = self.client[0] if self.client else "?"
        log.info("connection refused", extra={"status": status, "reason": message, "peer": client})
