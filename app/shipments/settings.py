"""app room: the Shipments API's settings, read once from environment variables.

Every knob the Kubernetes Deployment may set lives here; app/README.md lists them. Plain pydantic
(not pydantic-settings) keeps the container's dependency set to the `app` group.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .forwarded import parse_trusted

APP_VERSION = "0.1.0"


class SettingsError(ValueError):
    """A bad environment variable: the message names it, its value and what is allowed."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = Field(description="Read-write DSN: PgBouncer database `shipments` (primary).")
    database_ro_urls: tuple[str, ...] = Field(
        default=(), description="Read-only DSNs (PgBouncer `shipments_ro`), comma-separated; empty = primary."
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_socket_timeout: float = Field(0.25, gt=0)
    db_pool_min: int = Field(1, ge=0)
    db_pool_max: int = Field(10, ge=1)
    db_command_timeout: float = Field(5.0, gt=0)
    rate_limit_reads_per_minute: int = Field(100, ge=1)
    rate_limit_writes_per_minute: int = Field(20, ge=1)
    rate_limit_inquiries_per_minute: int = Field(5, ge=1)
    # Per client address; checked before any key lookup, so strangers cannot buy database work.
    rate_limit_auth_failures_per_minute: int = Field(20, ge=1)
    # Keys made before keys carried a checksum cannot be told from random strings without a lookup;
    # once `keys list` shows no active legacy key, set this false and such strings cost nothing.
    accept_legacy_api_keys: bool = True
    cache_ttl_seconds: int = Field(300, ge=1)
    l1_cache_size: int = Field(500, ge=1)
    l1_cache_ttl_seconds: float = Field(300.0, gt=0)
    replica_max_lag_seconds: float = Field(5.0, gt=0)
    replica_check_interval_seconds: float = Field(1.0, gt=0)
    read_your_writes_seconds: float = Field(5.0, ge=0)
    # A request's database calls, retries included, end within this (503 past it): below the CDN's
    # origin read timeout (CloudFront: 30 s), so the client gets the app's 503, not a 504.
    request_time_budget_seconds: float = Field(25.0, gt=0)
    cors_origins: tuple[str, ...] = ()
    # Above the largest schema-valid body (a 5000-character message, \uXXXX-escaped), so only
    # bodies that could never be valid are cut off with 413.
    max_body_bytes: int = Field(65536, ge=256)
    drain_seconds: float = Field(5.0, ge=0)
    readiness_requires_redis: bool = True
    # The secret CloudFront adds as X-Origin-Verify; when set, requests without it are refused,
    # so the load balancer cannot be used to go around the CDN and its WAF.
    origin_verify_secret: str | None = Field(None, min_length=16)
    log_level: str = "INFO"
    # Peers (in the cluster: the VPC range the load balancer's traffic arrives from) whose
    # X-Viewer-Address (CloudFront's) is believed on requests carrying the origin secret, and whose
    # X-Forwarded-Proto is; "*" is any peer. X-Forwarded-For is never read (shipments.forwarded).
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)
    # Server limits (shipments.server). CloudFront sends at most ~20 KiB of viewer headers plus its
    # own; the keep-alive outlasts CloudFront's 5 s origin keep-alive so that CloudFront, not the
    # app, closes idle connections (no race on a reused connection).
    max_header_bytes: int = Field(32768, ge=4096, le=1048576)
    header_read_timeout_seconds: float = Field(10.0, gt=0)
    body_read_timeout_seconds: float = Field(10.0, gt=0)
    keep_alive_timeout_seconds: int = Field(10, ge=1)
    max_concurrency: int = Field(1000, ge=2)
    # Open connections per client address (IPv6: per /64) outside FORWARDED_ALLOW_IPS; 0: no cap.
    max_connections_per_address: int = Field(64, ge=0)
    # A client that stops reading its answer is cut off after this long.
    send_timeout_seconds: float = Field(10.0, gt=0)
    # Prometheus' /metrics, on a listener of its own that no Service exposes (0: none).
    metrics_port: int = Field(9100, ge=0, le=65535)
    # Liveness and readiness, on a listener client traffic does not reach (0: none; then the
    # probes share the API's port).
    health_port: int = Field(8081, ge=0, le=65535)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parse_trusted(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value


# env var name -> settings field; the README table is generated from the same names.
ENV_VARS: dict[str, str] = {
    "DATABASE_URL": "database_url",
    "DATABASE_RO_URL": "database_ro_urls",
    "REDIS_URL": "redis_url",
    "REDIS_SOCKET_TIMEOUT": "redis_socket_timeout",
    "DB_POOL_MIN": "db_pool_min",
    "DB_POOL_MAX": "db_pool_max",
    "DB_COMMAND_TIMEOUT": "db_command_timeout",
    "RATE_LIMIT_READS_PER_MINUTE": "rate_limit_reads_per_minute",
    "RATE_LIMIT_WRITES_PER_MINUTE": "rate_limit_writes_per_minute",
    "RATE_LIMIT_INQUIRIES_PER_MINUTE": "rate_limit_inquiries_per_minute",
    "RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "rate_limit_auth_failures_per_minute",
    "ACCEPT_LEGACY_API_KEYS": "accept_legacy_api_keys",
    "CACHE_TTL_SECONDS": "cache_ttl_seconds",
    "L1_CACHE_SIZE": "l1_cache_size",
    "L1_CACHE_TTL_SECONDS": "l1_cache_ttl_seconds",
    "REPLICA_MAX_LAG_SECONDS": "replica_max_lag_seconds",
    "REPLICA_CHECK_INTERVAL_SECONDS": "replica_check_interval_seconds",
    "READ_YOUR_WRITES_SECONDS": "read_your_writes_seconds",
    "REQUEST_TIME_BUDGET_SECONDS": "request_time_budget_seconds",
    "CORS_ORIGINS": "cors_origins",
    "MAX_BODY_BYTES": "max_body_bytes",
    "DRAIN_SECONDS": "drain_seconds",
    "READINESS_REQUIRES_REDIS": "readiness_requires_redis",
    "ORIGIN_VERIFY_SECRET": "origin_verify_secret",
    "LOG_LEVEL": "log_level",
    "FORWARDED_ALLOW_IPS": "forwarded_allow_ips",
    "MAX_HEADER_BYTES": "max_header_bytes",
    "HEADER_READ_TIMEOUT_SECONDS": "header_read_timeout_seconds",
    "BODY_READ_TIMEOUT_SECONDS": "body_read_timeout_seconds",
    "KEEP_ALIVE_TIMEOUT_SECONDS": "keep_alive_timeout_seconds",
    "MAX_CONCURRENCY": "max_concurrency",
    "MAX_CONNECTIONS_PER_ADDRESS": "max_connections_per_address",
    "SEND_TIMEOUT_SECONDS": "send_timeout_seconds",
    "METRICS_PORT": "metrics_port",
    "HEALTH_PORT": "health_port",
}
_LISTS = {"database_ro_urls", "cors_origins", "forwarded_allow_ips"}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment; a bad value raises SettingsError naming the variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for env, field in ENV_VARS.items():
        raw = environ.get(env)
        if raw is None or (raw == "" and field != "database_url"):
            continue
        values[field] = tuple(p.strip() for p in raw.split(",") if p.strip()) if field in _LISTS else raw
    if "database_url" not in values:
        raise SettingsError("DATABASE_URL is required (a postgresql:// DSN of the read-write pool)")
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        field_to_env = {f: e for e, f in ENV_VARS.items()}
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            env = field_to_env.get(field, field)
            problems.append(f"{env}={environ.get(env)!r}: {err['msg']}")
        raise SettingsError("; ".join(problems)) from None
