"""Environment layer (delivery): the `berth` commands the delivery pipeline runs.

`register(app)` adds `loadtest`, `set-image`, `rollback`, `ci-summary` and the `env` group
(review environments: `create`, `list`, `destroy`, `expired`) to the lead's typer app. The work
lives in stacks.loadtest, stacks.rollback, stacks.envs and stacks.teardown; this module parses
options and prints with rich. Refusals print `error: ...` and exit 1 (cli_ops._ops).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stacks.cli_ops import ConfigDirOpt, StackArg, YesOpt, _confirm, _echo, _ops, _show_diff
from stacks.deploy import OpsError
from stacks.offline.runner import REPO

console = Console(highlight=False)


@_ops
def loadtest(
    url: Annotated[str, typer.Argument(help="Base URL (the SLO's path is added) or a full URL to load.")],
    stack: Annotated[str, typer.Option(help="Whose SLOs (berth:slo) to check against.")] = "staging",
    rate: Annotated[int | None, typer.Option(help="Requests per second, at most.")] = None,
    duration: Annotated[int | None, typer.Option(help="Seconds of load.")] = None,
    connections: Annotated[int | None, typer.Option(help="Keep-alive connections.")] = None,
    path: Annotated[str | None, typer.Option(help="Path added to a base URL.")] = None,
    p50: Annotated[float | None, typer.Option(help="Target p50, ms.")] = None,
    p95: Annotated[float | None, typer.Option(help="Target p95, ms.")] = None,
    p99: Annotated[float | None, typer.Option(help="Target p99, ms.")] = None,
    errors: Annotated[float | None, typer.Option(help="Target error share, percent.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Drive a bounded load at URL and check the SLOs; exit non-zero with the figures when one is missed."""
    from pydantic import ValidationError

    from stacks import loadtest as lt
    from stacks.deploy import _stack_config
    from stacks.promote import _settings

    slo = _settings(stack, _stack_config(stack, config_dir)).slo
    given = {"rate": rate, "duration_seconds": duration, "connections": connections, "path": path,
             "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "error_percent": errors}
    try:
        slo = type(slo).model_validate({**slo.model_dump(), **{k: v for k, v in given.items() if v is not None}})
    except ValidationError as exc:
        raise OpsError(f"invalid load gate options: {exc.errors()[0]['msg']}") from None
    verdict = lt.gate(url, slo)
    if as_json:
        print(json.dumps({"ok": verdict.ok, "misses": verdict.misses, **verdict.result.as_dict()}, indent=1))
    else:
        r = verdict.result
        table = Table("measure", "measured", "target", "met",
                      title=f"{r.url}: {r.requests} requests, {r.achieved_rate:.1f}/s of {r.target_rate}/s, "
                            f"{r.duration_seconds:.1f}s, {r.connections} connections")
        for name, measured, target, met in verdict.rows():
            table.add_row(name, measured, target, "[green]yes[/green]" if met else "[red]NO[/red]")
        console.print(table)
    if not verdict.ok:
        raise OpsError(f"the load gate failed ({stack}'s SLOs): " + "; ".join(verdict.misses)
                       + f"\n  {verdict.summary()}")
    console.print(f"[bold green]load gate passed[/bold green] ({stack}'s SLOs)")


@_ops
def set_image(
    stack: StackArg,
    ref: Annotated[str, typer.Argument(help="The image by digest: repo/name@sha256:<64 hex>.")],
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Pin STACK's app image (berth:app.image) to a digest, keeping the file's comments."""
    from stacks.rollback import set_image as pin

    old, new = pin(stack, ref, config_dir=config_dir)
    if old == new:
        console.print(f"{stack} already runs {new}", soft_wrap=True)
    else:
        console.print(f"Pulumi.{stack}.yaml: berth:app.image {old} -> {new}", soft_wrap=True)


@_ops
def rollback(
    stack: StackArg,
    to: Annotated[str | None, typer.Option("--to", help="A digest STACK ran before.")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="How many releases back (default 1).")] = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Read the release history from git (Pulumi.STACK.yaml), not the stack's updates.")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="Then deploy STACK for real (pulumi up).")] = False,
    yes: YesOpt = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Return STACK to an earlier image from its release history, through the promotion's gates."""
    from stacks import rollback as rb

    r = rb.rollback(stack, to=to, steps=steps, config_dir=config_dir, offline=offline, yes=yes, apply=apply,
                    confirm=_confirm, echo=_echo, show_diff=_show_diff)
    table = Table("#", "image", "from", title=f"{stack} release history (newest first)")
    table.columns[1].overflow = "fold"
    for i, rel in enumerate(r.releases):
        mark = " [bold](was)[/bold]" if rel.image == r.current else (" [bold](now)[/bold]" if rel.image == r.target
                                                                     else "")
        table.add_row(str(i), rel.image + mark, rel.source)
    console.print(table)
    console.print(f"rolled back from {r.current}\n            to {r.target}\ngates passed: {', '.join(r.gates_passed)}",
                  soft_wrap=True)


@_ops
def ci_summary(
    build: Annotated[Path, typer.Argument(help="The build/ directory `berth preview` wrote.")],
    stacks: Annotated[list[str], typer.Argument(help="Stacks to summarise.")],
) -> None:
    """Markdown for a CI job summary: each stack's policy report and its architecture picture."""
    out = ["# berth preview", ""]
    for stack in stacks:
        policy, picture = build / stack / "policy.json", build / stack / "graph.mmd"
        out.append(f"## {stack}")
        if not policy.exists():
            out += ["", f"No preview was written for `{stack}` (the program failed: see the job log).", ""]
            continue
        report = json.loads(policy.read_text())
        violations = report.get("violations") or []
        mandatory = [v for v in violations if v.get("enforcement") == "mandatory"]
        verdict = "passed" if not mandatory else f"**{len(mandatory)} mandatory violation(s)**"
        out += ["", f"Policy pack: {verdict}; {report.get('rulesEvaluated', '?')} rules on "
                    f"{report.get('resourcesEvaluated', '?')} resources.", ""]
        if violations:
            out += ["| rule | level | resource | message |", "|---|---|---|---|"]
            out += [f"| `{v['rule_id']}` | {v['enforcement']} | {v.get('name') or 'stack'} | "
                    f"{str(v['message']).replace('|', '/')} |" for v in violations]
            out.append("")
        if picture.exists():
            out += ["<details><summary>architecture</summary>", "", "```mermaid", picture.read_text().rstrip(),
                    "```", "", "</details>", ""]
    print("\n".join(out))


def register(app: typer.Typer) -> None:
    """Add the delivery commands to the `berth` app."""
    app.command("loadtest")(loadtest)
    app.command("set-image")(set_image)
    app.command("rollback")(rollback)
    app.command("ci-summary")(ci_summary)
    try:
        from stacks.envs import env_app
    except ModuleNotFoundError as exc:
        if exc.name != "stacks.envs":
            raise
    else:
        app.add_typer(env_app, name="env", help="Review environments: create, list, destroy, expired.")
