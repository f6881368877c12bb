"""Commands room: `berth up`, `berth destroy` and `berth preflight` -- real deployments and their checks."""

from __future__ import annotations

import json
from dataclasses import asdict
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
from berth.operations import deploy, teardown
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
    as_json: JsonOpt = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """List every config value of STACK that a real deploy cannot use (exit 1 if any)."""
    file = StackFile.read(stack, config_dir)
    file.settings  # noqa: B018 -- a config AWS would refuse is refused before any registry is asked
    report = check(stack, file.config, registries=registries)
    if as_json:
        print_json({"stack": stack, "ok": report.ok, "checkedRegistries": report.checked_registries,
                    "findings": [asdict(f) for f in report.findings],
                    "warnings": [asdict(w) for w in report.warnings]})
        if not report.ok:
            raise typer.Exit(1)
        return
    for w in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(w.key)} = {escape(w.value)}: {escape(w.problem)}; "
                  f"{escape(w.fix)}", soft_wrap=True)
    if report.ok:
        checked = " and every pinned digest is in its registry" if registries else " (registries not asked)"
        console.print(f"[bold green]✓[/bold green] {escape(file.path.name)} holds no placeholder{checked}")
        return
    table = Table(title=f"{escape(file.path.name)}: {len(report.findings)} value(s) a real deploy cannot use",
                  show_lines=True)
    for col in ("key", "value", "problem", "set instead"):
        table.add_column(col)
    for f in report.findings:
        table.add_row(escape(f.key), escape(f.value), escape(f.problem), escape(f.fix))
    print_table(table)
    raise OpsError(f"{stack} is not ready for a real deploy: fix the {len(report.findings)} value(s) above")


def register(app: typer.Typer) -> None:
    app.command("preflight")(preflight)
    app.command("up")(up)
    app.command("destroy")(destroy)
