"""Commands room: `berth up`, `berth destroy` and `berth preflight` -- real deployments and their checks."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

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
    err,
    print_json,
    print_table,
    refusals,
)
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
    print_table(table)


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
        "--account/--no-account", help="Also compare what STACK needs (build/STACK/quotas.json) with the "
                                       "account's quotas and usage (Service Quotas, describe calls; AWS "
                                       "credentials or --endpoint). `berth up` always does.")] = False,
    endpoint: Annotated[str | None, typer.Option(help="A moto server (embedded cloud) instead of AWS.")] = None,
    build: Annotated[Path, typer.Option(help="Where `berth preview` wrote build/STACK.")] = REPO / "build",
    as_json: JsonOpt = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """List every config value of STACK that a real deploy cannot use, and every quota it will not fit (exit 1 if any)."""
    file = StackFile.read(stack, config_dir)
    file.settings  # noqa: B018 -- a config AWS would refuse is refused before any registry is asked
    report = check(stack, file.config, registries=registries)
    fit: quotas.AccountReport | None = None
    unchecked: str | None = None
    if account:
        try:
            client = clients(endpoint)
        except OpsError as exc:
            unchecked = exc.message
        else:
            fit = quotas.account_check(quotas.for_config(stack, file.config, build), client)
    fits = fit is not None and fit.ok and not fit.unreadable
    ok = report.ok and (not account or fits)
    if as_json:
        print_json({"stack": stack, "ok": ok, "checkedRegistries": report.checked_registries,
                    "findings": [asdict(f) for f in report.findings],
                    "warnings": [asdict(w) for w in report.warnings],
                    "quotas": None if not account else {
                        "checked": fit is not None and not fit.unreadable,
                        "notChecked": unchecked or (fit.unreadable if fit else None),
                        "findings": [asdict(f) for f in fit.findings] if fit else [],
                        "warnings": fit.warnings if fit else []}})
        if not ok:
            raise typer.Exit(1)
        return
    for w in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(w.key)} = {escape(w.value)}: {escape(w.problem)}; "
                  f"{escape(w.fix)}", soft_wrap=True)
    problems = len(report.findings)
    if report.ok:
        checked = " and every pinned digest is in its registry" if registries else " (registries not asked)"
        console.print(f"[bold green]✓[/bold green] {escape(file.path.name)} holds no placeholder{checked}")
    else:
        table = Table(title=f"{escape(file.path.name)}: {len(report.findings)} value(s) a real deploy cannot use",
                      show_lines=True)
        for col in ("key", "value", "problem", "set instead"):
            table.add_column(col)
        for f in report.findings:
            table.add_row(escape(f.key), escape(f.value), escape(f.problem), escape(f.fix))
        print_table(table)
    if unchecked is not None:
        problems += 1
        err.print(f"[red]account not checked:[/red] {escape(unchecked)} (or --no-account)", soft_wrap=True)
    if fit is not None:
        problems += len(fit.findings) + (1 if fit.unreadable else 0)
        for w in fit.warnings:
            err.print(f"[yellow]warning:[/yellow] {escape(w)}", soft_wrap=True)
        if fits:
            console.print(f"[bold green]✓[/bold green] {escape(stack)} fits the account's quotas "
                          f"({len(fit.checked)} checked)")
        elif fit.findings:
            table = Table(title=f"{escape(stack)}: {len(fit.findings)} quota(s) it will not fit", show_lines=True)
            for col in ("quota", "where", "problem", "to make it fit"):
                table.add_column(col)
            for f in fit.findings:
                table.add_row(escape(f.key), escape(f.value), escape(f.problem), escape(f.fix))
            print_table(table)
    if problems:
        raise OpsError(f"{stack} is not ready for a real deploy: fix the {problems} finding(s) above")


def register(app: typer.Typer) -> None:
    app.command("preflight")(preflight)
    app.command("up")(up)
    app.command("destroy")(destroy)
