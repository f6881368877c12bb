"""Commands room: releases -- `berth promote`, `berth rollback`, `berth set-image`, `berth loadtest` and
`berth ci-summary`, the commands the delivery pipeline runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
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
    print_json,
    print_table,
    refusals,
    show_diff,
)
from berth.operations import loadtest as lt
from berth.operations import promote as promotion
from berth.operations import rollback as rb
from berth.operations.errors import OpsError
from berth.operations.stackfile import StackFile


@refusals
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
    load_key: Annotated[str | None, typer.Option(
        "--load-key", envvar="BERTH_LOAD_KEY",
        help="A reader API key of SRC: the load gate then also reads the API with it (env BERTH_LOAD_KEY).")]
    = None,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Copy the promotable keys (app image, app settings, engine minor versions) from SRC to DST."""
    p = promotion.promote(
        src, dst, config_dir=config_dir, offline=offline, skip_health=skip_health, yes=yes, apply=apply,
        confirm=confirm, echo=echo, show_diff=show_diff, url=health_url, skip_load=skip_load,
        load_url=load_url, load_key=load_key,
    )
    if not p.changes:
        return
    summary = Table("key", f"{escape(dst)} before", "after", title=f"promoted {escape(src)} -> {escape(dst)}")
    for c in p.changes:
        summary.add_row(escape(c.key), escape(str(c.old)), escape(str(c.new)))
    print_table(summary)
    echo(f"gates passed: {', '.join(p.gates_passed)}")


@refusals
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
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", help="'Name: value' on every request (repeatable), e.g. 'Authorization: Bearer KEY'.")]
    = None,
    as_json: JsonOpt = False,
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Drive a bounded load at URL and check the SLOs; exit non-zero with the figures when one is missed."""
    slo = StackFile.read(stack, config_dir).settings.slo
    given = {"rate": rate, "duration_seconds": duration, "connections": connections, "path": path,
             "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "error_percent": errors}
    headers = dict(lt.parse_header(h) for h in header or [])
    try:
        slo = type(slo).model_validate({**slo.model_dump(), **{k: v for k, v in given.items() if v is not None}})
    except ValidationError as exc:
        raise OpsError("invalid load gate options:\n" + "\n".join(
            f"  - {_option_error(e, given)}" for e in exc.errors())) from None
    verdict = lt.gate(url, slo, headers=headers)
    if as_json:
        print_json({"ok": verdict.ok, "misses": verdict.misses, **verdict.result.as_dict()})
    else:
        r = verdict.result
        table = Table("measure", "measured", "target", "met",
                      title=f"{escape(r.url)}: {r.requests} requests, {r.achieved_rate:.1f}/s of {r.target_rate}/s, "
                            f"{r.duration_seconds:.1f}s, {r.connections} connections")
        for name, measured, target, met in verdict.rows():
            table.add_row(name, measured, target, "[green]yes[/green]" if met else "[red]NO[/red]")
        print_table(table)
    if not verdict.ok:
        raise OpsError(f"the load gate failed ({stack}'s SLOs): " + "; ".join(verdict.misses)
                       + f"\n  {verdict.summary()}")
    if not as_json:
        console.print(f"[bold green]load gate passed[/bold green] ({escape(stack)}'s SLOs)")


# The loadtest options behind each field of berth:slo, as the user typed them.
_OPTIONS = {"rate": "--rate", "duration_seconds": "--duration", "connections": "--connections", "path": "--path",
            "p50_ms": "--p50", "p95_ms": "--p95", "p99_ms": "--p99", "error_percent": "--errors"}
_FILE_KEYS = {"p50Ms": "--p50", "p95Ms": "--p95", "p99Ms": "--p99", "rate": "--rate", "connections": "--connections"}


def _option_error(e: Any, given: dict[str, Any]) -> str:
    """A validation error as the option that caused it, its value and what is allowed."""
    msg = str(e["msg"]).removeprefix("Value error, ")
    if e["loc"]:
        field = str(e["loc"][0])
        option = _OPTIONS.get(field, field)
        shown = given.get(field)
        if e["type"] == "string_pattern_mismatch":
            msg = "not a URL path starting with /, such as /api/health/ready"
        return f"{option} {shown!r}: {msg}" if shown is not None else f"{option} (from berth:slo): {msg}"
    for key, option in _FILE_KEYS.items():  # a rule between fields names them as the file does
        msg = re.sub(rf"\b{key}\b", option, msg)
    return msg


@refusals
def set_image(
    stack: StackArg,
    ref: Annotated[str, typer.Argument(help="The image by digest: repo/name@sha256:<64 hex>.")],
    config_dir: ConfigDirOpt = REPO,
) -> None:
    """Pin STACK's app image (berth:app.image) to a digest, keeping the file's comments."""
    old, new = rb.set_image(stack, ref, config_dir=config_dir)
    if old == new:
        echo(f"{stack} already runs {new}")
    else:
        echo(f"Pulumi.{stack}.yaml: berth:app.image {old} -> {new}")


@refusals
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
    r = rb.rollback(stack, to=to, steps=steps, config_dir=config_dir, offline=offline, yes=yes, apply=apply,
                    confirm=confirm, echo=echo, show_diff=show_diff)
    table = Table("#", "image", "from", title=f"{escape(stack)} release history (newest first)")
    for i, rel in enumerate(r.releases):
        mark = " [bold](was)[/bold]" if rel.image == r.current else (" [bold](now)[/bold]" if rel.image == r.target
                                                                     else "")
        table.add_row(str(i), escape(rel.image) + mark, escape(rel.source))
    print_table(table)
    # The operation has said what it rolled back from and to: only the gates are left to say.
    echo(f"gates passed: {', '.join(r.gates_passed)}")


@refusals
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
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("set-image")(set_image)
    app.command("loadtest")(loadtest)
    app.command("ci-summary")(ci_summary)
