"""Commands room: `berth env create|list|destroy|expired` -- review environments, a stack per pull request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from berth.commands.common import REPO, ConfigDirOpt, JsonOpt, YesOpt, confirm, echo, print_json, print_table, refusals
from berth.operations import envs, teardown
from berth.operations.aws import clients
from berth.operations.errors import OpsError

env_app = typer.Typer(help="Review environments: create, list, destroy, expired.", no_args_is_help=True)


@env_app.command("create")
@refusals
def create(
    name: Annotated[str, typer.Argument(help=f"The stack name: {envs.NAME_RULE}.")],
    src: Annotated[str, typer.Option("--from", help="The stack whose config it starts from.")] = "staging",
    ttl: Annotated[str, typer.Option(help="How long it may live: 12h, 3d, 1w (at most 30d).")] = "3d",
    check_quotas: Annotated[bool, typer.Option(
        "--quotas/--no-quotas", help="Refuse (writing nothing) when it would not fit the account's quotas beside "
                                     "what runs there (AWS credentials, or --endpoint).")] = False,
    endpoint: Annotated[str | None, typer.Option(help="A moto server (embedded cloud) instead of AWS.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing Pulumi.NAME.yaml (says what it was).")]
    = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Write Pulumi.NAME.yaml: SRC's config, smallest sizes, destroyable, an Expires tag, its own VPC range."""
    client = clients(endpoint) if check_quotas else None
    note = "" if check_quotas else " (account quotas not checked: --quotas)"
    env = envs.create(name, src, ttl, config_dir=config_dir, force=force, client=client)
    old = env.replaced
    if old is not None:
        was = f"{old.expires:%Y-%m-%dT%H:%M:%SZ}" if old.expires else "?"
        echo(f"replaced {env.path.name}: it was from {old.source or '?'}, VPC {old.cidr or '?'}, expiring {was}")
    for w in env.warnings:
        echo(f"warning: {w}")
    echo(f"wrote {env.path.name}: from {src}, VPC {env.cidr}, expires {env.expires:%Y-%m-%dT%H:%M:%SZ}{note}")


@env_app.command("list")
@refusals
def listing(as_json: JsonOpt = False, config_dir: ConfigDirOpt = REPO) -> None:
    """The review environments here, with their expiry."""
    now = datetime.now(UTC)
    if as_json:
        print_json([{"name": e.name, "from": e.source, "cidr": e.cidr,
                     "expires": f"{e.expires:%Y-%m-%dT%H:%M:%SZ}" if e.expires else None,
                     "expired": e.expired(now)} for e in envs.listing(config_dir)])
        return
    table = Table("name", "from", "VPC", "expires (UTC)", "state", title="review environments")
    for e in envs.listing(config_dir):
        state = "[red]expired[/red]" if e.expired(now) else "live"
        table.add_row(escape(e.name), escape(e.source or "?"), e.cidr or "?",
                      f"{e.expires:%Y-%m-%d %H:%M}" if e.expires else "?", state)
    print_table(table)


@env_app.command("destroy")
@refusals
def destroy(
    name: Annotated[str, typer.Argument(help="The review environment.")],
    offline: Annotated[bool, typer.Option(
        "--offline", help="Rehearse: bring it up and tear it down in the embedded cloud; Pulumi.NAME.yaml stays.")]
    = False,
    yes: YesOpt = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Destroy a review environment's resources, remove its stack, and delete Pulumi.NAME.yaml."""
    env = envs.require(name, config_dir)
    if offline:
        teardown.destroy_offline(name, config_dir=config_dir, echo=echo)
        echo(f"rehearsed the destroy of {name}; {env.path.name} is unchanged (the real environment may still run)")
        return
    envs.destroy(name, config_dir=config_dir, yes=yes, confirm=confirm, echo=echo)
    echo(f"destroyed {name} and deleted {env.path.name}")


@env_app.command("expired")
@refusals
def expired(
    region: Annotated[str, typer.Option(help="The region to look in.")] = "us-east-1",
    endpoint: Annotated[str | None, typer.Option(help="A moto server (embedded cloud) instead of AWS.")] = None,
) -> None:
    """Fail, naming them, while resources of a review environment outlive their Expires tag."""
    found = envs.expired(clients(endpoint), region)
    if found:
        lines = "\n".join(f"  - {stack}: {len(arns)} resource(s), e.g. {arns[0]}" for stack, arns in sorted(found.items()))
        raise OpsError(f"expired review environments still hold resources in {region}:\n{lines}\n"
                       f"destroy them: berth env destroy NAME (or close their pull requests)")
    echo(f"no expired review environment holds resources in {region}")


def register(app: typer.Typer) -> None:
    app.add_typer(env_app, name="env", help="Review environments: create, list, destroy, expired.")
