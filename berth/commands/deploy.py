"""Commands room: `berth up`, `berth destroy` and `berth preflight` -- real deployments and their checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from berth.commands.common import REPO, ConfigDirOpt, StackArg, YesOpt, confirm, console, echo, err, refusals
from berth.operations import deploy, quotas, teardown
from berth.operations.aws import clients
from berth.operations.errors import OpsError
from berth.operations.preflight import check
from berth.operations.stackfile import StackFile


@refusals
def up(stack: StackArg, yes: YesOpt = False, config_dir: ConfigDirOpt = REPO) -> None:
    """Deploy STACK for real (Pulumi Automation API, policy pack attached); prod asks first."""
    outputs = deploy.up(StackFile.read(stack, config_dir), yes=yes, confirm=confirm, echo=echo)
    table = Table("output", "value", title=f"{escape(stack)} outputs")
    for k, v in outputs.items():
        table.add_row(escape(k), escape(json.dumps(v) if not isinstance(v, str) else v))
    console.print(table)


@refusals
def destroy(
    stack: StackArg,
    yes: YesOpt = False,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Bring STACK up in the embedded cloud, fill its buckets, destroy it in reverse "
                          "dependency order and prove nothing is left (embedded_cloud/teardown.py).")] = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Destroy STACK's resources for real (protected prod resources refuse), or rehearse it offline."""
    file = StackFile.read(stack, config_dir)
    if offline:
        teardown.destroy_offline(file, echo=echo)
        return
    deploy.destroy(file, yes=yes, confirm=confirm, echo=echo)
    console.print(f"[green]destroyed[/green] {escape(stack)}")


@refusals
def preflight(
    stack: StackArg,
    registries: Annotated[bool, typer.Option("--registries/--no-registries",
                                             help="Ask each image's registry whether it holds the digest.")] = True,
    account: Annotated[bool, typer.Option(
        "--account/--no-account", help="Compare what STACK needs (build/STACK/quotas.json) with the account's "
                                       "quotas and usage (Service Quotas, describe calls).")] = True,
    endpoint: Annotated[str | None, typer.Option(help="A moto server (embedded cloud) instead of AWS.")] = None,
    build: Annotated[Path, typer.Option(help="Where `berth preview` wrote build/STACK.")] = REPO / "build",
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """List every config value of STACK that a real deploy cannot use, and every quota it will not fit (exit 1 if any)."""
    file = StackFile.read(stack, config_dir)
    report = check(stack, file.config, registries=registries)
    problems = len(report.findings)
    for w in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(w.key)} = {escape(w.value)}: {escape(w.problem)}; "
                  f"{escape(w.fix)}", soft_wrap=True)
    if report.ok:
        checked = " and every pinned digest is in its registry" if registries else " (registries not asked)"
        console.print(f"[bold green]✓[/bold green] {escape(file.path.name)} holds no placeholder{checked}")
    else:
        table = Table(title=f"{escape(file.path.name)}: {len(report.findings)} value(s) a real deploy cannot use",
                      show_lines=True)
        for col in ("key", "value", "problem", "set instead"):
            table.add_column(col, overflow="fold")
        for f in report.findings:
            table.add_row(escape(f.key), escape(f.value), escape(f.problem), escape(f.fix))
        console.print(table)
    if account:
        file.settings  # noqa: B018 - a config that does not parse is refused before the offline run
        try:
            client = clients(endpoint)
        except OpsError as exc:
            console.print(f"[red]account not checked:[/red] {escape(exc.message)} (or --no-account)")
            raise OpsError(f"{stack} is not ready for a real deploy: fix the {problems + 1} finding(s) above") from None
        fit = quotas.account_check(quotas.for_config(stack, file.config, build), client)
        problems += len(fit.findings) + (1 if fit.unreadable else 0)
        for w in fit.warnings:
            console.print(f"[yellow]warning:[/yellow] {escape(w)}")
        if fit.ok and not fit.unreadable:
            console.print(f"[bold green]✓[/bold green] {escape(stack)} fits the account's quotas "
                          f"({len(fit.checked)} checked)")
        elif fit.findings:
            table = Table(title=f"{escape(stack)}: {len(fit.findings)} quota(s) it will not fit", show_lines=True)
            for col in ("quota", "where", "problem", "to make it fit"):
                table.add_column(col, overflow="fold")
            for f in fit.findings:
                table.add_row(escape(f.key), escape(f.value), escape(f.problem), escape(f.fix))
            console.print(table)
    if problems:
        raise OpsError(f"{stack} is not ready for a real deploy: fix the {problems} finding(s) above")


def register(app: typer.Typer) -> None:
    app.command("preflight")(preflight)
    app.command("up")(up)
    app.command("destroy")(destroy)
