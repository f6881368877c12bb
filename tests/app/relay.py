"""app tests room: one TCP relay on loopback in front of a server the tests started, to inject
the network faults a real deployment meets between the app and its database or Redis:

- `cut()`: close every relayed connection and refuse new ones (the server unreachable from the
  processes behind this relay only); `restore()` lets connections through again;
- `silence()`: connections open now stay open but nothing passes any more (the peer's node
  vanished without a FIN or RST), while new ones are relayed as usual (its replacement);
- `delay`: start listening only after that many seconds (an endpoint that comes up late).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class Relay:
    def __init__(self, target_port: int, *, port: int = 0, delay: float = 0.0):
        self.target_port = target_port
        self.passing = True
        self._generation = 0  # silence() moves it on: connections of older generations go quiet
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        if delay <= 0:
            self._listener = socket.create_server(("127.0.0.1", port))
            port = self._listener.getsockname()[1]
        self.port: int = port
        threading.Thread(target=self._serve, args=(delay,), daemon=True).start()

    def _serve(self, delay: float) -> None:
        if self._listener is None:
            if self._stop.wait(delay):
                return
            self._listener = socket.create_server(("127.0.0.1", self.port))
        listener = self._listener
        listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port)) if self.passing else None
            except OSError:
                upstream = None
            with self._lock:
                if upstream is None or not self.passing:
                    for sock in (conn, upstream):
                        if sock is not None:
                            sock.close()
                    continue
                self._socks |= {conn, upstream}
                born = self._generation
            for src, dst in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(src, dst, born), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, born: int) -> None:
        try:
            while data := src.recv(65536):
                if self._generation == born:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            self.passing = False
            socks, self._socks = self._socks, set()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.passing = True

    def silence(self) -> None:
        with self._lock:
            self._generation += 1

    def close(self) -> None:
        self._stop.set()
        self.cut()
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
