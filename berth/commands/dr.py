"""Commands room: `berth dr plan|rebuild|drill` -- disaster recovery."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from berth.commands.common import (
    REPO,
    ConfigDirOpt,
    JsonOpt,
    StackArg,
    YesOpt,
    confirm,
    console,
    echo,
    echo_err,
    err,
    parse_set,
    print_json,
    print_table,
    refusals,
)
from berth.operations import dr
from berth.operations.aws import clients
from berth.operations.errors import OpsError
from embedded_cloud import EmbeddedCloud

dr_app = typer.Typer(help="Disaster recovery: what can be recovered, rebuilding in the DR region, drills.",
                     no_args_is_help=True)


def _print_plan(p: dr.DrPlan) -> None:
    table = Table(title=f"recovery material for {escape(p.stack)} in {p.region} (best first)")
    table.add_column("#")
    table.add_column("kind")
    # Identifiers and ARNs are what an operator copies: fold them, never cut them (and in a log
    # print_table makes the table as wide as they are).
    table.add_column("material", overflow="fold")
    table.add_column("identifier", overflow="fold")
    table.add_column("recovery point (UTC)")
    table.add_column("RPO")
    table.add_column("detail", overflow="fold")
    for i, o in enumerate(p.options, 1):
        table.add_row(str(i), o.kind, escape(o.source), escape(o.identifier),
                      o.recovery_point.strftime("%Y-%m-%d %H:%M:%S") if o.recovery_point else "?",
                      dr.humanize(o.rpo_seconds), escape(o.detail))
    print_table(table)
    for n in p.notes:
        err.print(f"[yellow]note:[/yellow] {escape(n)}", soft_wrap=True)


def _print_checks(checks: list[dr.TierCheck]) -> None:
    if not checks:
        return
    table = Table("tier", "ok", "detail", title="tiers in the DR region")
    for c in checks:
        table.add_row(c.tier, "[green]yes[/green]" if c.ok else "[red]NO[/red]", escape(c.detail))
    print_table(table)


def _print_steps(steps: list[dr.Step]) -> None:
    table = Table("step", "seconds", title="measured steps")
    for s in steps:
        table.add_row(escape(s.name), f"{s.seconds:.1f}")
    table.add_row("[bold]total[/bold]", f"[bold]{sum(s.seconds for s in steps):.1f}[/bold]")
    print_table(table)


@dr_app.command("plan")
@refusals
def plan(
    stack: StackArg,
    region: Annotated[str | None, typer.Option(help="Look here instead of berth:dr.region.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="A moto server (embedded cloud) instead of AWS.")] = None,
    as_json: JsonOpt = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """List the recovery material of STACK in its DR region and the RPO each gives, best first."""
    p = dr.plan(stack, clients(endpoint), config_dir=config_dir, region=region)
    if as_json:
        print_json(p.as_dict())
    else:
        _print_plan(p)
    if not p.options:
        raise OpsError(f"no recovery material for {stack} in {p.region}: a rebuild there is impossible")


@dr_app.command("rebuild")
@refusals
def rebuild(
    stack: StackArg,
    region: Annotated[str | None, typer.Option(help="Rebuild here (default berth:dr.region).")] = None,
    source: Annotated[str | None, typer.Option(
        "--from", help="Restore from: replica (promote it), pitr (point in time) or snapshot.")] = None,
    new_dr_region: Annotated[str | None, typer.Option(
        help="Keep replicating/copying from the rebuilt stack to this region.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Bring it up in the embedded cloud.")] = False,
    endpoint: Annotated[str | None, typer.Option(
        help="The moto server holding the material (offline; default: a fresh, empty one).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="KEY=VALUE for the DR stack's config, e.g. a certificate in the DR region.")] = None,
    yes: YesOpt = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Write Pulumi.STACK-dr.yaml (DR region, fresh network, restore source) and bring it up there."""
    with contextlib.ExitStack() as scope:
        if offline and endpoint is None:
            # A fresh embedded cloud holds no material: the rebuild refuses, as it should.
            endpoint = scope.enter_context(EmbeddedCloud.serve()).endpoint_url
        factory = clients(endpoint)
        if offline:
            # A rehearsal writes its Pulumi.STACK-dr.yaml beside copies, never beside the real configs.
            config_dir = dr.rehearsal_configs(stack, config_dir)
        r = dr.rebuild(stack, factory, config_dir=config_dir, region=region, kind=source,
                       new_dr_region=new_dr_region, offline=offline, endpoint_url=endpoint, yes=yes,
                       confirm=confirm, echo=echo, overrides=parse_set(set_))
        _print_plan(r.plan)
        if r.graph is not None:
            checks = dr.verify(r.graph, factory, r.option.region, r.option, promoted=r.promoted)
            _print_checks(checks)
            if not all(c.ok for c in checks):
                raise OpsError(f"{r.dr_stack} is incomplete in {r.option.region}: "
                               + "; ".join(f"{c.tier}: {c.detail}" for c in checks if not c.ok))
        _print_steps(r.steps)


@dr_app.command("drill")
@refusals
def drill(
    stack: StackArg,
    source: Annotated[str | None, typer.Option(
        "--from", help="Restore from: replica, pitr or snapshot (default: the best material).")] = None,
    new_dr_region: Annotated[str | None, typer.Option(
        help="Where the rebuilt stack copies its backups (default: back to STACK's region).")] = None,
    out: Annotated[Path | None, typer.Option(help="Keep the drill's Pulumi.STACK-dr.yaml here.")] = None,
    as_json: JsonOpt = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Run the whole recovery offline: deploy, seed, plan, rebuild, verify, policy; print timings and RPO."""
    d = dr.drill(stack, config_dir=config_dir, out_dir=out, kind=source, new_dr_region=new_dr_region,
                 echo=echo if not as_json else echo_err)
    if as_json:
        print_json(d.as_dict())
        if not d.ok:
            raise typer.Exit(1)
        return
    if d.plan is not None:
        _print_plan(d.plan)
    _print_checks(d.checks)
    _print_steps(d.steps)
    if d.option is not None:
        echo(f"restored from the {d.option.source} {d.option.identifier}: "
             f"RPO achieved {dr.humanize(d.rpo_seconds)}, "
             f"recovery time {d.rto_seconds:.1f}s (plan to verified platform, embedded cloud)")
    if d.config_path is not None:
        echo(f"DR config: {d.config_path}")
    for f in d.policy_failures:
        err.print(f"[red]policy:[/red] {escape(f)}", soft_wrap=True)
    if not d.ok:
        reasons: list[Any] = [d.error] if d.error else []
        reasons += [f"tier {c.tier}: {c.detail}" for c in d.checks if not c.ok]
        reasons += [f"policy: {f}" for f in d.policy_failures]
        raise OpsError("the drill failed:\n" + "\n".join(f"  - {r}" for r in reasons))
    console.print("[bold green]drill passed[/bold green]")


def register(app: typer.Typer) -> None:
    app.add_typer(dr_app, name="dr")
