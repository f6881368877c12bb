"""app room: JSON log lines on stdout, each carrying the current request id; and the access log's
own cheap writer (one line per request is the hottest log call there is).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import json
import logging
import sys
import time
from typing import IO, Any

import orjson

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


class AccessLog:
    """The access log: the same JSON line JsonFormatter would write for
    `logging.getLogger("shipments.access").info("request", extra=fields)`, for a tenth of the cost.

    Through `logging` a line costs a LogRecord, a formatter pass over its attributes and a flush
    (a write system call) per request, about 7 % of a cached GET. Here the line goes into the same
    buffered stdout the logging handler writes to, and the buffer is flushed once per event-loop
    iteration that wrote access lines: a line reaches the log within one loop turn, lines keep
    their order with every other log line (any other record's handler flush writes them first),
    and under load one write carries many lines. What a SIGKILL can lose: one loop turn's lines.

    Until configure_logging() installed our handler (or when the access logger is silenced),
    lines go through `logging` as before.
    """

    def __init__(self) -> None:
        self.logger = logging.getLogger("shipments.access")
        self.stream: IO[str] | None = None
        self._pending = False
        self._second = -1
        self._second_text = ""

    def attach(self, stream: IO[str] | None) -> None:
        self.stream = stream

    def write(self, fields: dict[str, Any]) -> None:
        stream = self.stream
        logger = self.logger
        if stream is None or not logger.isEnabledFor(logging.INFO):
            logger.info("request", extra=fields)
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        entry: dict[str, Any] = {
            "ts": f"{self._second_text}.{int(now % 1 * 1000):03d}Z",
            "level": "info",
            "logger": "shipments.access",
            "msg": "request",
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(fields)
        raw = orjson.dumps(entry, default=str)
        # Lines stay ASCII, as JsonFormatter writes them (a client chooses the path it sends).
        line = raw.decode() if raw.isascii() else json.dumps(entry, default=str, separators=(",", ":"))
        stream.write(line + "\n")
        if not self._pending:
            self._pending = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a script, a test): write through
                self.flush()

    def flush(self) -> None:
        self._pending = False
        stream = self.stream
        if stream is not None:
            # stdout closed or gone: nothing to do about it here.
            with contextlib.suppress(OSError, ValueError):
                stream.flush()


ACCESS_LOG = AccessLog()


_own_stdout: io.TextIOWrapper | None = None


def _buffered_stdout() -> IO[str]:
    """stdout with a buffer of its own when it has none. The image sets PYTHONUNBUFFERED (a one-shot
    command's print must not be lost to a kill), which makes stdout write through: one write system
    call per access line, the cost AccessLog exists to avoid. The log handler then writes to a
    buffered writer on the same descriptor, flushed per record by the handler and once per loop
    turn by AccessLog; a bare print() may overtake at most one turn's access lines."""
    out = sys.stdout
    if not getattr(out, "write_through", False):
        return out
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's capture): leave it
        return out
    global _own_stdout
    if _own_stdout is None or _own_stdout.fileno() != fd:  # one per process: configured twice, one buffer
        raw = io.FileIO(fd, "w", closefd=False)
        _own_stdout = io.TextIOWrapper(io.BufferedWriter(raw, 1 << 16), encoding="utf-8", errors="backslashreplace")
    return _own_stdout


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(_buffered_stdout())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the app logs each request itself
    ACCESS_LOG.attach(handler.stream)
