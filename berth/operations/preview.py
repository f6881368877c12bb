"""Operations room: the offline preview (`berth preview`, `berth policy`) and the comparison of two
environments (`berth diff`), both run in the embedded cloud."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from berth.operations import render
from berth.operations.errors import OpsError
from berth.operations.policy import Report, evaluate
from berth.operations.preflight import Finding, check
from berth.operations.stackfile import StackFile
from embedded_cloud import EmbeddedCloud, Graph, ProgramError, run_isolated
from embedded_cloud.runner import read_config_file, run_stack


@dataclass
class Preview:
    """One stack run offline: its graph, the policy report, the files written, and the config values
    that work offline but could not deploy for real."""

    stack: str
    graph: Graph
    report: Report
    written: list[Path] = field(default_factory=list)
    placeholders: list[Finding] = field(default_factory=list)

    @property
    def target(self) -> Path:
        return self.written[0].parent if self.written else Path()

    @property
    def manifests(self) -> int:
        return sum(1 for p in self.written if p.parent.name == "manifests")


def run_offline(stack: str, config_file: Path | None = None) -> Graph:
    """Run the program for STACK in this process (once per process) in a fresh embedded cloud."""
    config = read_config_file(config_file) if config_file else None
    try:
        return run_stack(stack, config=config).graph
    except ProgramError as exc:
        raise OpsError(f"the program failed for stack '{stack}':\n{exc}") from None


def preview(stack: str, out: Path, config_file: Path | None = None) -> Preview:
    """Run STACK offline, evaluate the policy pack and write build/STACK/ under out."""
    graph = run_offline(stack, config_file)
    report = evaluate(graph)
    written = render.write_build(graph, out / stack, policy=report.to_dict())
    placeholders = check(stack, graph.config, registries=False).findings
    return Preview(stack, graph, report, written, placeholders)


def policy(stack: str, out: Path | None = None) -> Report:
    """Run STACK offline and evaluate the policy pack on its graph; with `out`, write the report to
    out/STACK/policy.json (the file `berth preview` writes there too)."""
    report = evaluate(run_offline(stack))
    if out is not None:
        render.write_policy(out / stack, report.to_dict())
    return report


def as_dict(p: Preview, summary: str) -> dict[str, Any]:
    """`berth preview --json` (docs/json.md)."""
    return {
        "stack": p.stack,
        "ok": p.report.passed,
        "resources": len(p.graph.resources),
        "components": len(p.graph.components),
        "types": dict(sorted(p.graph.type_counts().items())),
        "written": [str(w) for w in p.written],
        "timeline": summary,
        "placeholders": [asdict(f) for f in p.placeholders],
        "policy": p.report.to_dict(),
    }


def _run_served(stack: StackFile) -> Graph:
    with EmbeddedCloud.serve() as cloud:
        return run_isolated(stack.name, endpoint_url=cloud.endpoint_url or "", config=stack.config,
                            repo=stack.path.parent)


def diff(a: StackFile, b: StackFile) -> dict[str, Any]:
    """Both stacks run offline side by side (each in its own embedded cloud), then compared."""
    try:
        if a.path == b.path and a.text == b.text:  # one stack against itself: one run
            ga = gb = _run_served(a)
        else:
            with ThreadPoolExecutor(max_workers=2) as pool:
                ga, gb = pool.map(_run_served, [a, b])
    except ProgramError as exc:
        raise OpsError(str(exc)) from None
    return render.diff_graphs(ga, gb)
