"""Environment layer (operations): the `berth` commands that change environments.

`register(app)` adds `up`, `destroy`, `promote` and the `dr` group (`plan`, `rebuild`,
`drill`) to the lead's typer app. The work lives in stacks.deploy, stacks.promote and
stacks.dr; this module only parses options, asks questions and prints with rich. Every
refusal is an OpsError (a click exception): its message is printed, the exit status is 1.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from stacks.deploy import OpsError
from stacks.offline.runner import REPO

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

StackArg = Annotated[str, typer.Argument(help="Stack name: a Pulumi.<stack>.yaml at the repo root.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask: for scripts and CI.")]
ConfigDirOpt = Annotated[Path, typer.Option("--config-dir", help="Where the Pulumi.<stack>.yaml files are.",
                                            hidden=True)]


def _ops(fn: Callable[..., None]) -> Callable[..., None]:
    """Refusals print as `error: ...` (unwrapped, greppable) and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except OpsError as exc:
            err.print(f"[bold red]error:[/bold red] {exc.message}", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _echo(text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _confirm(question: str) -> bool:
    return typer.confirm(question, default=False)


def _show_diff(diff: str) -> None:
    console.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))


def _parse_set(values: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or ":" not in key:
            raise OpsError(f"--set takes KEY=VALUE with a namespaced key such as berth:app.tlsCertificateArn=..., "
                           f"not {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _clients(endpoint: str | None) -> Any:
    """boto3 clients for real AWS, or for the embedded cloud (a moto server) at endpoint."""
    if endpoint:
        from stacks.offline import EmbeddedCloud

        return EmbeddedCloud(endpoint_url=endpoint).client
    import boto3

    from stacks.deploy import SET_AWS

    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise OpsError(f"no AWS credentials found: {SET_AWS} (or --endpoint URL for an embedded cloud)")
    return lambda service, region: session.client(service, region_name=region)


def up(stack: StackArg, yes: YesOpt = False, config_dir: ConfigDirOpt = REPO) -> None:
    """Deploy STACK for real (Pulumi Automation API, policy pack attached); prod asks first."""
    from stacks import deploy

    outputs = deploy.up(stack, yes=yes, confirm=_confirm, repo=config_dir, echo=_echo)
    table = Table("output", "value", title=f"{stack} outputs")
    for k, v in outputs.items():
        table.add_row(k, json.dumps(v) if not isinstance(v, str) else v)
    console.print(table)


def destroy(
    stack: StackArg,
    yes: YesOpt = False,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Bring STACK up in the embedded cloud, fill its buckets, destroy it in reverse "
                          "dependency order and prove nothing is left (stacks/teardown.py).")] = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Destroy STACK's resources for real (protected prod resources refuse), or rehearse it offline."""
    from stacks import deploy

    if offline:
        from stacks import teardown

        teardown.destroy_offline(stack, config_dir=config_dir, echo=_echo)
        return
    deploy.destroy(stack, yes=yes, confirm=_confirm, repo=config_dir, echo=_echo)
    console.print(f"[green]destroyed[/green] {stack}")


def promote(
    src: Annotated[str, typer.Argument(help="Stack to promote from (staging).")],
    dst: Annotated[str, typer.Argument(help="Stack to promote to (prod).")],
    yes: YesOpt = False,
    apply: Annotated[bool, typer.Option("--apply", help="Then deploy DST for real (pulumi up).")] = False,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Read what SRC runs from an offline deployment in the embedded cloud.")] = False,
    skip_health: Annotated[bool, typer.Option(
        "--skip-health", help="Do not ask SRC's /api/health/ready (offline use).")] = False,
    health_url: Annotated[str | None, typer.Option(
        "--health-url", help="Check this URL instead of SRC's CDN domain.")] = None,
    skip_load: Annotated[bool, typer.Option(
        "--skip-load", help="Do not load SRC against DST's SLOs (offline use).")] = False,
    load_url: Annotated[str | None, typer.Option(
        "--load-url", help="Load this base URL instead of SRC's CDN domain.")] = None,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Copy the promotable keys (app image, app settings, engine minor versions) from SRC to DST."""
    from stacks import promote as promotion

    p = promotion.promote(
        src, dst, config_dir=config_dir, offline=offline, skip_health=skip_health, yes=yes, apply=apply,
        confirm=_confirm, echo=_echo, show_diff=_show_diff, url=health_url, skip_load=skip_load,
        load_url=load_url,
    )
    if not p.changes:
        return
    summary = Table("key", f"{dst} before", "after", title=f"promoted {src} -> {dst}")
    for c in p.changes:
        summary.add_row(c.key, str(c.old), str(c.new))
    console.print(summary)
    console.print(f"gates passed: {', '.join(p.gates_passed)}")


dr_app = typer.Typer(help="Disaster recovery: what can be recovered, rebuilding in the DR region, drills.",
                     no_args_is_help=True)


def _print_plan(p: Any) -> None:
    from stacks.dr import humanize

    table = Table(title=f"recovery material for {p.stack} in {p.region} (best first)")
    table.add_column("#")
    table.add_column("kind")
    table.add_column("material", overflow="fold")
    # Identifiers and ARNs are what an operator copies: fold them, never cut them.
    table.add_column("identifier", overflow="fold")
    table.add_column("recovery point (UTC)")
    table.add_column("RPO")
    table.add_column("detail", overflow="fold")
    for i, o in enumerate(p.options, 1):
        table.add_row(str(i), o.kind, o.source, o.identifier,
                      o.recovery_point.strftime("%Y-%m-%d %H:%M:%S") if o.recovery_point else "?",
                      humanize(o.rpo_seconds), o.detail)
    console.print(table)
    for n in p.notes:
        err.print(f"[yellow]note:[/yellow] {n}", markup=True)


@dr_app.command("plan")
@_ops
def dr_plan(
    stack: StackArg,
    region: Annotated[str | None, typer.Option(help="Look here instead of berth:dr.region.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="A moto server (embedded cloud) instead of AWS.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """List the recovery material of STACK in its DR region and the RPO each gives, best first."""
    from stacks import dr

    p = dr.plan(stack, _clients(endpoint), config_dir=config_dir, region=region)
    if as_json:
        console.print_json(json.dumps({"stack": p.stack, "region": p.region, "at": p.at.isoformat(),
                                       "options": [o.as_dict() for o in p.options], "notes": p.notes}))
    else:
        _print_plan(p)
    if not p.options:
        raise OpsError(f"no recovery material for {stack} in {p.region}: a rebuild there is impossible")


@dr_app.command("rebuild")
@_ops
def dr_rebuild(
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
    import contextlib

    from stacks import dr
    from stacks.offline.cloud import EmbeddedCloud

    with contextlib.ExitStack() as scope:
        if offline and endpoint is None:
            # A fresh embedded cloud holds no material: the rebuild refuses, as it should.
            endpoint = scope.enter_context(EmbeddedCloud.serve()).endpoint_url
        clients = _clients(endpoint)
        r = dr.rebuild(stack, clients, config_dir=config_dir, region=region, kind=source,
                       new_dr_region=new_dr_region, offline=offline, endpoint_url=endpoint, yes=yes,
                       confirm=_confirm, echo=_echo, overrides=_parse_set(set_))
        _print_plan(r.plan)
        if r.graph is not None:
            checks = dr.verify(r.graph, clients, r.option.region, r.option, promoted=r.promoted)
            _print_checks(checks)
            if not all(c.ok for c in checks):
                raise OpsError(f"{r.dr_stack} is incomplete in {r.option.region}: "
                               + "; ".join(f"{c.tier}: {c.detail}" for c in checks if not c.ok))
        _print_steps(r.steps)


def _print_checks(checks: list[Any]) -> None:
    if not checks:
        return
    table = Table("tier", "ok", "detail", title="tiers in the DR region")
    for c in checks:
        table.add_row(c.tier, "[green]yes[/green]" if c.ok else "[red]NO[/red]", c.detail)
    console.print(table)


def _print_steps(steps: list[Any]) -> None:
    table = Table("step", "seconds", title="measured steps")
    for s in steps:
        table.add_row(s.name, f"{s.seconds:.1f}")
    table.add_row("[bold]total[/bold]", f"[bold]{sum(s.seconds for s in steps):.1f}[/bold]")
    console.print(table)


@dr_app.command("drill")
@_ops
def dr_drill(
    stack: StackArg,
    source: Annotated[str | None, typer.Option(
        "--from", help="Restore from: replica, pitr or snapshot (default: the best material).")] = None,
    new_dr_region: Annotated[str | None, typer.Option(
        help="Where the rebuilt stack copies its backups (default: back to STACK's region).")] = None,
    out: Annotated[Path | None, typer.Option(help="Keep the drill's Pulumi.STACK-dr.yaml here.")] = None,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Run the whole recovery offline: deploy, seed, plan, rebuild, verify, policy; print timings and RPO."""
    from stacks import dr

    d = dr.drill(stack, config_dir=config_dir, out_dir=out, kind=source, new_dr_region=new_dr_region, echo=_echo)
    if d.plan is not None:
        _print_plan(d.plan)
    _print_checks(d.checks)
    _print_steps(d.steps)
    if d.option is not None:
        console.print(f"restored from the {d.option.source} {d.option.identifier}: "
                      f"RPO achieved {dr.humanize(d.rpo_seconds)}, "
                      f"recovery time {d.rto_seconds:.1f}s (plan to verified platform, embedded cloud)")
    if d.config_path is not None:
        console.print(f"DR config: {d.config_path}")
    for f in d.policy_failures:
        err.print(f"[red]policy:[/red] {f}")
    if not d.ok:
        reasons = [d.error] if d.error else []
        reasons += [f"tier {c.tier}: {c.detail}" for c in d.checks if not c.ok]
        reasons += [f"policy: {f}" for f in d.policy_failures]
        raise OpsError("the drill failed:\n" + "\n".join(f"  - {r}" for r in reasons))
    console.print("[bold green]drill passed[/bold green]")


def preflight(
    stack: StackArg,
    registries: Annotated[bool, typer.Option("--registries/--no-registries",
                                             help="Ask each image's registry whether it holds the digest.")] = True,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """List every config value of STACK that a real deploy cannot use (exit 1 if any)."""
    from stacks.offline.runner import ProgramError, read_stack_config
    from stacks.preflight import check

    try:
        config = read_stack_config(stack, config_dir)
    except ProgramError as exc:
        raise OpsError(str(exc)) from None
    report = check(stack, config, registries=registries)
    if report.ok:
        checked = " and every pinned digest is in its registry" if registries else " (registries not asked)"
        console.print(f"[bold green]✓[/bold green] Pulumi.{stack}.yaml holds no placeholder{checked}")
        return
    table = Table(title=f"Pulumi.{stack}.yaml: {len(report.findings)} value(s) a real deploy cannot use",
                  show_lines=True)
    for col in ("key", "value", "problem", "set instead"):
        table.add_column(col, overflow="fold")
    for f in report.findings:
        table.add_row(f.key, f.value, f.problem, f.fix)
    console.print(table)
    raise OpsError(f"{stack} is not ready for a real deploy: fix the {len(report.findings)} value(s) above")


def register(app: typer.Typer) -> None:
    """Add the operations commands to the `berth` app."""
    app.command("preflight")(_ops(preflight))
    app.command("up")(_ops(up))
    app.command("destroy")(_ops(destroy))
    app.command("promote")(_ops(promote))
    app.add_typer(dr_app, name="dr")
