"""Commands room: `berth preview`, `berth policy` and `berth diff` -- the offline views of a stack."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from berth.commands.common import (
    REPO,
    JsonOpt,
    StackArg,
    console,
    echo,
    err,
    fail,
    parse_set,
    print_json,
    print_table,
    refusals,
)
from berth.commands.views import resource_tree, type_summary
from berth.operations import again as agains
from berth.operations import deploy, render
from berth.operations import preview as previews
from berth.operations.errors import OpsError
from berth.operations.stackfile import StackFile
from berth.operations.timeline import summary


@refusals
def preview(
    stack: StackArg,
    out: Annotated[Path, typer.Option(help="Where build/STACK goes.")] = REPO / "build",
    tree: Annotated[bool, typer.Option(help="Print the resource tree.")] = True,
    cloud: Annotated[bool, typer.Option("--cloud", help="Preview against real AWS with the Pulumi CLI.")] = False,
    config: Annotated[
        Path | None, typer.Option(help="Use this stack config file instead of Pulumi.STACK.yaml.", exists=True)
    ] = None,
    again: Annotated[bool, typer.Option(
        "--again", help="Plan the second `up`: deploy offline, refresh, run the program again and list every "
                        "update or replace it would make (exit 1 if any).")] = False,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE", help="With --again: what this config edit would do to the deployed stack, "
                                           "e.g. berth:app.replicas=4 (repeatable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run STACK offline: print the resource tree and a summary, check policy, write build/STACK/."""
    if set_ and not again:
        raise OpsError("--set needs --again: it shows what a config edit would do to the deployed stack")
    if again:
        _again(stack, parse_set(set_), as_json)
        return
    if cloud:
        deploy.preview_cloud(StackFile.read(stack), echo=echo)
        return
    started = time.perf_counter()
    with console.status(f"[bold]running {escape(stack)} in the embedded cloud…", spinner="dots"):
        p = previews.preview(stack, out, config)
    graph = p.graph
    if as_json:
        print_json(previews.as_dict(p, summary(graph)))
        if p.report.mandatory_failures:
            raise typer.Exit(1)
        return
    if tree:
        console.print(resource_tree(graph))
    print_table(type_summary(graph))
    target = out / stack
    files = sorted(w.name for w in p.written if w.parent == target)
    console.print(
        f"[bold green]✓[/bold green] {len(graph.resources)} resources in {len(graph.components)} components "
        f"({time.perf_counter() - started:.1f}s); wrote {escape(str(target))}/: {escape(', '.join(files))} and "
        f"manifests/ ({p.manifests} Kubernetes objects)"
    )
    console.print(f"[bold]timeline:[/bold] {escape(summary(graph))}")
    if p.placeholders:
        err.print(f"[yellow]warning:[/yellow] {len(p.placeholders)} config value(s) are fine offline but cannot "
                  f"deploy for real (`berth preflight {escape(stack)}` lists them; `berth up` refuses them): "
                  + escape(", ".join(sorted({f.key for f in p.placeholders}))), soft_wrap=True)
    p.report.render(console)
    if p.report.mandatory_failures:
        raise OpsError(f"{len(p.report.mandatory_failures)} mandatory policy violation(s) in stack '{stack}'")


def _again(stack: str, sets: dict[str, object], as_json: bool) -> None:
    with console.status(f"[bold]deploying {escape(stack)} offline, refreshing it, planning it again…"):
        a = agains.again(StackFile.read(stack), sets)
    if as_json:
        print_json(a.to_dict())
    else:
        what = "the program unchanged" if not sets else "with " + ", ".join(f"{k}={v}" for k, v in sets.items())
        if not a.steps:
            console.print(f"[bold green]✓[/bold green] second up of {escape(stack)} ({escape(what)}): "
                          f"nothing would change ({a.resources} resources)", soft_wrap=True)
            return
        console.print(f"second up of {escape(stack)} ({escape(what)}): {len(a.steps)} resource(s) would change",
                      soft_wrap=True)
        for step in a.steps:
            console.print(f"  {escape(step.op)} {escape(step.type)} {escape(step.name)}", soft_wrap=True)
            for c in step.changes:
                verb = ("forces replacement" if c.replace else "fails at apply" if step.op == "blocked"
                        else "update in place")
                old, new = show_pair(c.old, c.new)
                console.print(f"      {escape(c.prop)}: {escape(old)} -> {escape(new)}"
                              f" ({verb}: {escape(c.why)})", soft_wrap=True, highlight=False)
        for step in a.refused:
            err.print(f"[red]mandatory policy violation[/red] stateful-replacement: {escape(step.name)} "
                      f"({escape(step.type)}) would be replaced in prod; if that is meant, name it in "
                      "berth:intendedReplacements", soft_wrap=True)
    if a.refused or a.blocked:
        raise typer.Exit(1)
    if a.steps and not sets:
        raise typer.Exit(1)


def show_pair(old: object, new: object, width: int = 60) -> tuple[str, str]:
    """Two planned values on one line each; long ones cut to a window around where they first differ,
    so the part that changed is the part shown."""
    a, b = (("(unset)" if v is None else v if isinstance(v, str) and "\n" not in v else json.dumps(v, default=str))
            for v in (old, new))
    if len(a) <= width and len(b) <= width:
        return a, b
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, at - width // 3)

    def cut(t: str) -> str:
        return ("..." if start else "") + t[start:start + width] + ("..." if start + width < len(t) else "")

    return cut(a), cut(b)


@refusals
def policy(
    stack: StackArg,
    out: Annotated[Path, typer.Option(help="Where build/STACK/policy.json goes.")] = REPO / "build",
    as_json: JsonOpt = False,
) -> None:
    """Run STACK offline, print the policy pack's report and write build/STACK/policy.json (non-zero on
    mandatory violations)."""
    with console.status(f"[bold]running {escape(stack)} in the embedded cloud…", spinner="dots"):
        report = previews.policy(stack, out)
    if as_json:
        print_json(report.to_dict())
    else:
        report.render(console)
        echo(f"wrote {out / stack / 'policy.json'}")
    if report.mandatory_failures:
        raise typer.Exit(1)


def diff(stack_a: StackArg, stack_b: StackArg, as_json: JsonOpt = False) -> None:
    """What differs between two environments: config key by key, resources by type and by name
    (both stacks' names read <stack>). Exit 1 when anything differs, like `git diff --exit-code`;
    2 when the comparison could not be made (a missing stack, a program that fails)."""
    try:
        a_file, b_file = StackFile.read(stack_a), StackFile.read(stack_b)
        with console.status(f"[bold]running {escape(stack_a)} and {escape(stack_b)} in the embedded cloud…"):
            d = previews.diff(a_file, b_file)
    except OpsError as exc:
        raise fail(exc.message, code=2) from None
    if as_json:
        print_json(d)
    elif not d["differs"]:
        echo(f"{stack_a} and {stack_b} do not differ (config, resources and their inputs, stack names aside)")
    else:
        _print_diff(d, stack_a, stack_b)
    if d["differs"]:
        raise typer.Exit(1)


def _print_diff(d: dict[str, Any], a: str, b: str) -> None:
    if d["config"]:
        t = Table(title=f"config: {escape(a)} vs {escape(b)}")
        for col in ("key", a, b):
            t.add_column(escape(col))
        for row in d["config"]:
            t.add_row(escape(row["key"]), *map(escape, excerpt_cells(row[a], row[b])))
        print_table(t)
    if d["types"]:
        t = Table(title="resources by type")
        for col in ("type", a, b):
            t.add_column(escape(col), justify="left" if col == "type" else "right")
        for row in d["types"]:
            t.add_row(row["type"], str(row[a]), str(row[b]))
        print_table(t)
    for side in (a, b):
        only = d.get(f"only_in_{side}", [])
        if only:
            console.print(f"[bold]only in {escape(side)}[/bold] ({len(only)}):")
            for item in only:
                echo(f"  {item}")
    if d["changed"]:
        t = Table(title="same resource, different inputs (the differing part of long values)")
        for col in ("resource", "input", a, b):
            t.add_column(escape(col))
        for ch in d["changed"]:
            for i, row in enumerate(ch["inputs"]):
                t.add_row(escape(ch["name"]) if i == 0 else "", escape(row["input"]),
                          *map(escape, excerpt_cells(row[a], row[b])))
        print_table(t)


def excerpt_cells(a: object, b: object) -> tuple[str, str]:
    """Two differing values for table cells: — for nothing, the differing part of long values."""
    if a is None or b is None:
        return tuple("—" if v is None else render.excerpt(v, "")[0] for v in (a, b))  # type: ignore[return-value]
    return render.excerpt(a, b)


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
    app.command("policy")(policy)
    app.command("diff")(diff)
