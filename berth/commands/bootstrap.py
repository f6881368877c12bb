"""Commands room: `berth bootstrap` -- the account foundation the pipeline deploys through
(bootstrap/: GitHub OIDC, CI roles, the app's ECR repository, CodeBuild runners with one egress address)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from berth.commands.common import REPO, YesOpt, confirm, console, echo, refusals
from berth.commands.views import resource_tree, type_summary
from berth.operations import bootstrap as ops
from berth.operations.errors import OpsError

bootstrap_app = typer.Typer(no_args_is_help=True, help="The account foundation: OIDC, CI roles, ECR, runners.")

DirOpt = Annotated[Path, typer.Option("--dir", help="The bootstrap project's directory.", hidden=True)]
BootstrapStackArg = Annotated[
    str | None, typer.Argument(help="Bootstrap stack: a bootstrap/Pulumi.<stack>.yaml (default: the only one).")
]


def print_variables(variables: dict[str, str], egress: str, title: str) -> None:
    """The repository variables, as a table and as the `gh` commands that set them, and the egress."""
    table = Table("variable", "value", title=title)
    for k, v in variables.items():
        table.add_row(escape(k), escape(v))
    console.print(table)
    console.print("Set them on the repository (Settings → Secrets and variables → Actions → Variables), or:")
    for k, v in variables.items():
        echo(f"gh variable set {k} --body {shlex.quote(v)}")
    console.print(
        f"CI runners leave through {escape(egress)}: every platform stack's "
        "berth:cluster.publicAccessCidrs admits it (`berth bootstrap up` writes it, `check` verifies)."
    )


@bootstrap_app.command("preview")
@refusals
def preview(
    stack: BootstrapStackArg = None,
    out: Annotated[Path, typer.Option(help="Where build/bootstrap goes.")] = REPO / "build",
    tree: Annotated[bool, typer.Option(help="Print the resource tree.")] = True,
    directory: DirOpt = ops.BOOTSTRAP_DIR,
) -> None:
    """Run the bootstrap offline in the embedded cloud; write build/bootstrap/graph.json and policy.json."""
    started = time.perf_counter()
    with console.status("[bold]running the bootstrap in the embedded cloud…", spinner="dots"):
        p = ops.preview(stack, out, directory)
    if tree:
        console.print(resource_tree(p.graph))
    console.print(type_summary(p.graph))
    console.print(
        f"[bold green]✓[/bold green] {len(p.graph.resources)} resources "
        f"({time.perf_counter() - started:.1f}s); wrote {escape(str(out / 'bootstrap'))}/graph.json, "
        "graph.mmd, policy.json"
    )
    print_variables(
        p.variables, p.egress, "repository variables (offline values: `berth bootstrap up` prints the real ones)"
    )
    p.report.render(console)
    if p.report.mandatory_failures:
        raise OpsError(f"{len(p.report.mandatory_failures)} mandatory policy violation(s) in the bootstrap")


@bootstrap_app.command("up")
@refusals
def up(stack: BootstrapStackArg = None, yes: YesOpt = False) -> None:
    """Create or update the foundation for real (Pulumi Automation API, policy pack attached), write the
    runners' egress into the platform stacks' publicAccessCidrs and print the repository variables."""
    applied = ops.up(stack, yes=yes, confirm=confirm, echo=echo)
    for path in applied.linked:
        console.print(
            f"[green]wrote[/green] {escape(path.name)}: berth:cluster.publicAccessCidrs admits "
            f"{escape(applied.egress)} (commit it)"
        )
    print_variables(applied.variables, applied.egress, "repository variables")


@bootstrap_app.command("outputs", help="The same as `vars`.")
@bootstrap_app.command("vars")
@refusals
def variables(
    stack: BootstrapStackArg = None,
    offline: Annotated[bool, typer.Option("--offline", help="From an offline run, not the deployed stack.")] = False,
    directory: DirOpt = ops.BOOTSTRAP_DIR,
) -> None:
    """Print the repository variables the workflows read, from the bootstrap stack's outputs."""
    if offline:
        with console.status("[bold]running the bootstrap in the embedded cloud…", spinner="dots"):
            outs = ops.run_offline(ops.read(stack, directory)).outputs
        print_variables(ops.variables(outs), ops.egress(outs), "repository variables (offline values)")
        return
    outs = ops.outputs(stack, directory)
    print_variables(ops.variables(outs), ops.egress(outs), "repository variables")


@bootstrap_app.command("check")
@refusals
def check(stack: BootstrapStackArg = None) -> None:
    """Fail when a platform stack's cluster endpoint does not admit the deployed runners' egress address, or
    a stack does not name the bootstrap's roles (deploy, review, DR)."""
    file = ops.read(stack)
    outs = ops.outputs(stack)
    cidr = ops.egress(outs)
    missing = ops.unlinked(cidr, ops.platform_stacks(file))
    roles = ops.unlinked_roles(file, dict(outs.get("roleArns") or {}))
    if missing or roles:
        where = [f"berth:cluster.publicAccessCidrs of {', '.join(missing)} does not admit the runners' egress {cidr}"]\
            if missing else []
        where += [f"{r} is not the bootstrap's role" for r in roles]
        raise OpsError("; ".join(where) + ": run `berth bootstrap up` (it writes them) and commit the files")
    console.print(f"[bold green]✓[/bold green] every platform stack admits the runners' egress {escape(cidr)} "
                  "and names the bootstrap's roles")


@bootstrap_app.command("types")
@refusals
def types(
    stacks: Annotated[list[str] | None, typer.Argument(help="Platform stacks (default: staging prod).")] = None,
    build: Annotated[Path, typer.Option(help="Where `berth preview` wrote build/STACK/.")] = REPO / "build",
) -> None:
    """Record each platform stack's resource types (from `berth preview STACK`) in bootstrap/stack_types.json."""
    path = ops.record_types(stacks or ["staging", "prod"], build)
    console.print(f"[green]wrote[/green] {escape(str(path))}")


def register(app: typer.Typer) -> None:
    app.add_typer(bootstrap_app, name="bootstrap", help="The account foundation: GitHub OIDC, CI roles, ECR, runners.")
