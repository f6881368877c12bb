"""Commands room: `berth local up|status|down|key create` -- the Shipments API on this machine, production-shaped."""

from __future__ import annotations

import typer

from berth.commands.common import echo, fail, print_json
from local_topology import session

local_app = typer.Typer(
    help="The Shipments API on this machine: PostgreSQL primary+replica, PgBouncer, Redis, app.",
    no_args_is_help=True,
)
key_app = typer.Typer(help="API keys of the running local API.", no_args_is_help=True)


@local_app.command()
def up(
    apps: int = typer.Option(1, min=1, max=8, help="Number of app processes."),
    relaxed_limits: bool = typer.Option(
        False, "--relaxed-limits", help="Lift the per-key rate limits (20 writes/min in production) for seeding."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (docs/json.md)."),
) -> None:
    """Start everything in the background and print the URLs and fresh writer/admin API keys."""
    try:
        s = session.up(apps, relaxed_limits=relaxed_limits)
    except session.SessionError as exc:
        raise fail(str(exc)) from None
    topo = s.topology
    url = topo.app_urls[0]
    if as_json:
        print_json({"url": url, "urls": topo.app_urls, "writer_key": s.writer_key, "admin_key": s.admin_key,
                    "health": f"{url}/api/health", "detailed_health": f"{url}/api/health/detailed",
                    "metrics": s.metrics_urls[0] if s.metrics_urls else None, "metrics_urls": s.metrics_urls,
                    "relaxed_limits": s.relaxed_limits, "state": str(s.state_path)})
        return
    echo(f"Shipments API: {', '.join(topo.app_urls)}")
    for line in _links(url, s.metrics_urls, {"writer": [s.writer_key], "admin": [s.admin_key]}):
        echo(line)
    echo(f"  PostgreSQL:  primary 127.0.0.1:{topo.ports['primary']}, replica 127.0.0.1:{topo.ports['replica']}")
    echo(f"  PgBouncer:   127.0.0.1:{topo.ports['pgbouncer']} (shipments, shipments_ro)")
    echo(f"  Redis:       {topo.redis_url}")
    echo("  limits:      " + ("relaxed (--relaxed-limits)" if s.relaxed_limits else
                              "production's (20 writes, 100 reads a minute per key; --relaxed-limits lifts them)"))
    echo(f"  state:       {s.state_path} (keys again: `berth local status`; stop with `berth local down`)")


def _links(url: str, metrics: list[str], keys: dict[str, list[str]]) -> list[str]:
    """Where to look first (the public health URL), how to see the detailed health (admin only),
    where Prometheus scrapes, and the keys."""
    admin = (keys.get("admin") or ["ADMIN_KEY"])[-1]
    writer = (keys.get("writer") or ["WRITER_KEY"])[-1]
    lines = [
        f"  health:      {url}/api/health",
        f'  detailed:    curl -H "Authorization: Bearer {admin}" {url}/api/health/detailed',
        f"  metrics:     {', '.join(metrics) or '(no metrics listener)'}",
        f"  openapi:     {url}/api/openapi.json",
    ]
    for role in ("reader", "writer", "admin"):
        for key in keys.get(role, []):
            lines.append(f"  {role} key:{' ' * (7 - len(role))}{key}")
    lines.append(f'  try:         curl -H "Authorization: Bearer {writer}" {url}/api/shipments')
    return lines


@local_app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the status as JSON (docs/json.md).")) -> None:
    """Show what runs (checking each pid), the URLs and the API keys `up` and `key create` minted."""
    found = session.status()
    if found is None:
        raise fail("berth local is not running (`berth local up` starts it)")
    keys = found.keys
    if as_json:
        print_json({"urls": found.urls, "writer_key": (keys.get("writer") or [None])[-1],
                    "admin_key": (keys.get("admin") or [None])[-1], "keys": keys,
                    "metrics_urls": found.metrics_urls, "relaxed_limits": found.relaxed_limits,
                    "services": [{"name": r.name, "pid": r.pid, "port": r.port, "running": r.running}
                                 for r in found.services]})
    else:
        for r in found.services:
            echo(f"{r.name:<10} {'running' if r.running else 'STOPPED':<8} pid {r.pid!s:<8} 127.0.0.1:{r.port}")
        echo(f"Shipments API: {', '.join(found.urls)}")
        for line in _links(found.urls[0], found.metrics_urls, keys):
            echo(line)
    if not all(r.running for r in found.services):
        raise typer.Exit(1)


@key_app.command("create")
def key_create(role: str = typer.Argument(..., help="reader, writer or admin.")) -> None:
    """Mint a new API key with ROLE in the running API's database (recorded for `berth local status`)."""
    try:
        key = session.key_create(role)
    except session.SessionError as exc:
        raise fail(str(exc)) from None
    echo(key)


@local_app.command()
def down() -> None:
    """Stop everything `up` started and delete its data."""
    echo("berth local stopped" if session.down() else "berth local is not running")


local_app.add_typer(key_app, name="key")


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local", help="The Shipments API on this machine, production-shaped.")
