"""Commands room: `berth local up|status|down` -- the Shipments API on this machine, production-shaped."""

from __future__ import annotations

import json

import typer

from local_topology import session

local_app = typer.Typer(
    help="The Shipments API on this machine: PostgreSQL primary+replica, PgBouncer, Redis, app.",
    no_args_is_help=True,
)


@local_app.command()
def up(
    apps: int = typer.Option(1, min=1, max=8, help="Number of app processes."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: url, writer_key, admin_key."),
) -> None:
    """Start everything in the background and print the URLs and fresh writer/admin API keys."""
    try:
        s = session.up(apps)
    except session.SessionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    topo, writer = s.topology, s.writer_key
    url = topo.app_urls[0]
    if as_json:
        typer.echo(json.dumps({"url": url, "urls": topo.app_urls, "writer_key": writer, "admin_key": s.admin_key}))
        return
    typer.echo(f"Shipments API: {', '.join(topo.app_urls)}")
    typer.echo(f"  health:      {url}/api/health/detailed")
    typer.echo(f"  openapi:     {url}/api/openapi.json")
    typer.echo(f"  writer key:  {writer}")
    typer.echo(f"  admin key:   {s.admin_key}")
    typer.echo(f"  PostgreSQL:  primary 127.0.0.1:{topo.ports['primary']}, replica 127.0.0.1:{topo.ports['replica']}")
    typer.echo(f"  PgBouncer:   127.0.0.1:{topo.ports['pgbouncer']} (shipments, shipments_ro)")
    typer.echo(f"  Redis:       {topo.redis_url}")
    typer.echo(f"  state:       {s.state_path} (stop with `berth local down`)")
    typer.echo(f'  try:         curl -H "Authorization: Bearer {writer}" {url}/api/shipments')


@local_app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
    """Show what runs, from the state file, checking each pid."""
    found = session.status()
    if found is None:
        typer.echo("berth local is not running")
        raise typer.Exit(1)
    urls, rows = found
    if as_json:
        typer.echo(json.dumps({"urls": urls, "services": [
            {"name": r.name, "pid": r.pid, "port": r.port, "running": r.running} for r in rows]}))
    else:
        for r in rows:
            typer.echo(f"{r.name:<10} {'running' if r.running else 'STOPPED':<8} pid {r.pid!s:<8} 127.0.0.1:{r.port}")
        typer.echo(f"urls: {', '.join(urls)}")
    if not all(r.running for r in rows):
        raise typer.Exit(1)


@local_app.command()
def down() -> None:
    """Stop everything `up` started and delete its data."""
    typer.echo("berth local stopped" if session.down() else "berth local is not running")


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local", help="The Shipments API on this machine, production-shaped.")
