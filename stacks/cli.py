"""Environment layer: the `berth` command.

`berth preview STACK` runs the program offline in the embedded cloud, prints the tree and
a summary, evaluates the policy pack and writes build/STACK/. `berth diff A B` compares
two environments. `berth policy STACK` prints the policy report. Operations (up, destroy,
promote, dr) and the local topology (`berth local`) register their own commands here.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from stacks.offline.runner import REPO, ProgramError

app = typer.Typer(
    name="berth",
    help="The Shipments API platform: preview offline, compare environments, deploy, promote, recover.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

StackArg = Annotated[str, typer.Argument(help="Stack name: a Pulumi.<stack>.yaml at the repo root.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {message}")
    return typer.Exit(code)


def _evaluate(graph: Any) -> Any | None:
    """The policy report for a graph, or None while the pack has no evaluator."""
    try:
        from policy.evaluator import evaluate
    except ModuleNotFoundError as exc:
        if exc.name not in ("policy.evaluator", "policy"):
            raise
        return None
    return evaluate(graph)


def _run_offline(stack: str, config_file: Path | None = None) -> Any:
    from stacks.offline.runner import read_config_file, run_stack

    config = read_config_file(config_file) if config_file else None
    with console.status(f"[bold]running {stack} in the embedded cloud…", spinner="dots"):
        return run_stack(stack, config=config).graph


@app.command()
def preview(
    stack: StackArg,
    out: Annotated[Path, typer.Option(help="Where build/STACK goes.")] = REPO / "build",
    tree: Annotated[bool, typer.Option(help="Print the resource tree.")] = True,
    cloud: Annotated[bool, typer.Option("--cloud", help="Preview against real AWS with the Pulumi CLI.")] = False,
    config: Annotated[
        Path | None, typer.Option(help="Use this stack config file instead of Pulumi.STACK.yaml.", exists=True)
    ] = None,
) -> None:
    """Run STACK offline: print the resource tree and a summary, check policy, write build/STACK/."""
    if cloud:
        try:
            from stacks.deploy import preview_cloud
        except ImportError:
            raise _fail("real previews are not available in this build (stacks/deploy.py missing)") from None
        preview_cloud(stack)
        return
    from stacks import render

    started = time.perf_counter()
    try:
        graph = _run_offline(stack, config)
    except ProgramError as exc:
        raise _fail(f"the program failed for stack '{stack}':\n{exc}") from None
    if tree:
        console.print(render.resource_tree(graph))
    console.print(render.type_summary(graph))
    report = _evaluate(graph)
    target = out / stack
    written = render.write_build(graph, target, policy=report.to_dict() if report is not None else None)
    manifests = sum(1 for p in written if p.parent.name == "manifests")
    console.print(
        f"[bold green]✓[/bold green] {len(graph.resources)} resources in {len(graph.components)} components "
        f"({time.perf_counter() - started:.1f}s); wrote {target}/graph.json, graph.mmd, timeline.mmd, "
        f"{manifests} manifests" + (", policy.json" if report is not None else "")
    )
    from stacks.preflight import check
    from stacks.timeline import summary

    console.print(f"[bold]timeline:[/bold] {summary(graph)}")
    placeholders = check(stack, graph.config, registries=False).findings
    if placeholders:
        err.print(f"[yellow]warning:[/yellow] {len(placeholders)} config value(s) are fine offline but cannot "
                  f"deploy for real (`berth preflight {stack}` lists them; `berth up` refuses them): "
                  + ", ".join(sorted({f.key for f in placeholders})), soft_wrap=True)
    if report is not None:
        report.render(console)
        if report.mandatory_failures:
            raise _fail(f"{len(report.mandatory_failures)} mandatory policy violation(s) in stack '{stack}'")


@app.command()
def policy(stack: StackArg) -> None:
    """Run STACK offline and print the policy pack's report (non-zero on mandatory violations)."""
    try:
        graph = _run_offline(stack)
    except ProgramError as exc:
        raise _fail(f"the program failed for stack '{stack}':\n{exc}") from None
    report = _evaluate(graph)
    if report is None:
        raise _fail("the policy pack has no evaluator (policy/evaluator.py)")
    report.render(console)
    if report.mandatory_failures:
        raise typer.Exit(1)


@app.command()
def diff(
    stack_a: StackArg,
    stack_b: StackArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the difference as JSON.")] = False,
) -> None:
    """What differs between two environments: config key by key, resources by type and by name."""
    from stacks import render
    from stacks.offline.cloud import EmbeddedCloud
    from stacks.offline.runner import run_isolated

    def run(stack: str) -> Any:
        with EmbeddedCloud.serve() as cloud:
            return run_isolated(stack, endpoint_url=cloud.endpoint_url or "")

    with console.status(f"[bold]running {stack_a} and {stack_b} in the embedded cloud…"):
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                ga, gb = pool.map(run, [stack_a, stack_b])
        except ProgramError as exc:
            raise _fail(str(exc)) from None
    d = render.diff_graphs(ga, gb)
    if as_json:
        print(json.dumps(d, indent=1, default=str))
        return
    a, b = stack_a, stack_b
    t = Table(title=f"config: {a} vs {b}")
    for col in ("key", a, b):
        t.add_column(col)
    for row in d["config"]:
        t.add_row(row["key"], _show(row[a]), _show(row[b]))
    console.print(t)
    t = Table(title="resources by type")
    for col in ("type", a, b):
        t.add_column(col, justify="left" if col == "type" else "right")
    for row in d["types"]:
        t.add_row(row["type"], str(row[a]), str(row[b]))
    console.print(t)
    for side in (a, b):
        only = d[f"only_in_{side}"]
        if only:
            console.print(f"[bold]only in {side}[/bold] ({len(only)}):")
            for item in only:
                console.print(f"  {item}")
    t = Table(title="same resource, different inputs")
    for col in ("resource", "input", a, b):
        t.add_column(col)
    for ch in d["changed"]:
        for i, row in enumerate(ch["inputs"]):
            t.add_row(f"{ch['name']}" if i == 0 else "", row["input"], _show(row[a]), _show(row[b]))
    console.print(t)


def _show(value: Any) -> str:
    if value is None:
        return "[dim]—[/dim]"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _register_optional() -> None:
    """Commands from other rooms: operations and the local topology."""
    try:
        from stacks.cli_ops import register
    except ModuleNotFoundError as exc:
        if exc.name != "stacks.cli_ops":
            raise
    else:
        register(app)
    try:
        from stacks.cli_delivery import register as register_delivery
    except ModuleNotFoundError as exc:
        if exc.name != "stacks.cli_delivery":
            raise
    else:
        register_delivery(app)
    try:
        from stacks.local import local_app
    except ModuleNotFoundError as exc:
        if exc.name != "stacks.local":
            raise
    else:
        app.add_typer(local_app, name="local", help="The Shipments API on this machine, production-shaped.")


_register_optional()


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
