"""Policy room: run the pack's rules on an offline graph, in process (no CLI, no PolicyPack).

    from policy.evaluator import evaluate
    report = evaluate(graph)          # embedded_cloud.graph.Graph
    report.passed, report.mandatory_failures, report.to_dict(), report.render(console)

Resource rules see each custom resource's inputs with its outputs merged over them (the
embedded cloud's computed values: ids, ARNs, endpoints), plus `region` as pulumi-aws v7
computes it; stack rules see every resource and the stack's outputs. The environment
comes from the stack's `berth:environment` config, else the resource's Environment tag,
else the stack name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from policy.core import Ctx, Resource, Rule, StackView, environment_of, normalize
from policy.registry import RULES

if TYPE_CHECKING:
    from rich.console import Console

    from embedded_cloud.graph import Graph, Node

PACK_NAME = "berth"
PACK_VERSION = "0.1.0"


@dataclass(frozen=True)
class Violation:
    rule_id: str
    enforcement: str
    severity: str
    message: str
    urn: str | None = None
    name: str | None = None
    type: str | None = None
    description: str = ""
    remediation: str = ""

    @property
    def mandatory(self) -> bool:
        return self.enforcement == "mandatory"


@dataclass
class Report:
    stack: str
    environment: str | None
    violations: list[Violation] = field(default_factory=list)
    rules_evaluated: int = 0
    resources_evaluated: int = 0

    @property
    def mandatory_failures(self) -> list[Violation]:
        return [v for v in self.violations if v.mandatory]

    @property
    def advisories(self) -> list[Violation]:
        return [v for v in self.violations if not v.mandatory]

    @property
    def passed(self) -> bool:
        return not self.mandatory_failures

    def by_rule(self, rule_id: str) -> list[Violation]:
        return [v for v in self.violations if v.rule_id == rule_id]

    def rule_ids(self) -> set[str]:
        return {v.rule_id for v in self.violations}

    def to_dict(self) -> dict[str, Any]:
        return {
            "policyPack": {"name": PACK_NAME, "version": PACK_VERSION},
            "stack": self.stack,
            "environment": self.environment,
            "passed": self.passed,
            "rulesEvaluated": self.rules_evaluated,
            "resourcesEvaluated": self.resources_evaluated,
            "summary": {
                "mandatory": len(self.mandatory_failures),
                "advisory": len(self.advisories),
                "bySeverity": dict(Counter(v.severity for v in self.violations)),
            },
            "violations": [asdict(v) for v in self.violations],
        }

    def render(self, console: Console) -> None:
        """Print the report the way `pulumi preview --policy-pack` lists policy violations."""
        from rich.markup import escape

        mark = "[green]✓[/]" if self.passed else "[red]✗[/]"
        console.print(f"[bold]Policies:[/] {escape(self.stack)} ({self.environment or 'unknown environment'})")
        console.print(f"    {mark} {PACK_NAME}@v{PACK_VERSION} (local: policy)")
        colour = {"critical": "red", "high": "red", "medium": "yellow", "low": "cyan"}
        order = {"mandatory": 0, "advisory": 1}
        for v in sorted(self.violations, key=lambda v: (order.get(v.enforcement, 2), v.rule_id, v.urn or "")):
            where = f"{v.type}: {v.name}" if v.type else "stack"
            level = "[red]mandatory[/]" if v.mandatory else "[yellow]advisory[/]"
            console.print(
                f"        - [{level}] [{colour.get(v.severity, 'white')}]\\[severity: {v.severity}][/] "
                f"[bold]{escape(v.rule_id)}[/]  ({escape(where)})"
            )
            console.print(f"          {escape(v.description)}")
            console.print(f"          {escape(v.message)}")
            console.print(f"          [dim]remediation: {escape(v.remediation)}[/]")
        n_m, n_a = len(self.mandatory_failures), len(self.advisories)
        summary = (
            f"{self.rules_evaluated} rules on {self.resources_evaluated} resources: "
            f"{n_m} mandatory violation{'s' * (n_m != 1)}, {n_a} advisor{'ies' if n_a != 1 else 'y'}"
        )
        console.print(f"    [{'green' if self.passed else 'red'}]{summary}[/]")


# ---- graph -> plain data ---------------------------------------------------------------------
def node_props(node: Node) -> dict[str, Any]:
    """What the CLI would hand a rule: inputs, with the cloud's outputs merged over them."""
    props = {**normalize(node.inputs), **normalize(node.outputs)}
    if node.type.startswith("aws:") and node.region and not props.get("region"):
        props["region"] = node.region  # pulumi-aws v7 computes every resource's region
    return props


def stack_view(graph: Graph) -> StackView:
    resources = [
        Resource(
            type=n.type,
            name=n.name,
            urn=n.urn,
            props=node_props(n),
            parent=n.parent,
            region=n.region,
            id=n.id,
            dependencies=list(n.dependencies),
            property_dependencies={k: list(v) for k, v in n.property_dependencies.items()},
            protect=n.protect,
            ignore_changes=list(n.ignore_changes),
        )
        for n in graph.nodes
        if n.custom
    ]
    return StackView(resources=resources, outputs=normalize(dict(graph.outputs)), region=graph.region)


def graph_environment(graph: Graph) -> str | None:
    env = graph.config.get("berth:environment")
    return env if isinstance(env, str) and env else environment_of(graph.stack)


def _violation(rule: Rule, enforcement: str, message: str, res: Resource | None) -> Violation:
    return Violation(
        rule_id=rule.id,
        enforcement=enforcement,
        severity=rule.severity,
        message=message,
        urn=res.urn if res else None,
        name=res.name if res else None,
        type=res.type if res else None,
        description=rule.description,
        remediation=rule.remediation,
    )


def evaluate_view(
    view: StackView,
    *,
    stack: str,
    environment: str | None,
    rules: list[Rule] | None = None,
    enforcement: Mapping[str, str] | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Report:
    """Run rules on a StackView. `enforcement` overrides levels per rule id ("disabled" skips)."""
    rules = RULES if rules is None else rules
    enforcement = enforcement or {}
    config = config or {}
    report = Report(stack=stack, environment=environment, resources_evaluated=len(view.resources))
    for rule in rules:
        level = enforcement.get(rule.id, rule.enforcement)
        if level == "disabled":
            continue
        report.rules_evaluated += 1
        rule_config = config.get(rule.id, {})
        if rule.kind == "resource":
            for res in view.resources:
                if not rule.applies_to(res.type):
                    continue
                env = environment or environment_of(stack, res.tags)
                ctx = Ctx(environment=env, stack=stack, config=rule_config)
                try:
                    messages = rule.check(res.props, ctx)
                except Exception as exc:  # a crashing rule must be seen, not hide the others
                    messages = [f"rule could not judge this resource: {type(exc).__name__}: {exc}"]
                report.violations += [_violation(rule, level, m, res) for m in messages]
        else:
            ctx = Ctx(environment=environment, stack=stack, config=rule_config)
            try:
                findings = rule.check(view, ctx)
            except Exception as exc:
                findings = [(None, f"rule could not judge the stack: {type(exc).__name__}: {exc}")]
            for urn, message in findings:
                report.violations.append(_violation(rule, level, message, view.by_urn(urn) if urn else None))
    return report


def evaluate(
    graph: Graph,
    *,
    rules: list[Rule] | None = None,
    enforcement: Mapping[str, str] | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Report:
    """Run every rule (or `rules`) on an offline graph and return the report."""
    return evaluate_view(
        stack_view(graph),
        stack=graph.stack,
        environment=graph_environment(graph),
        rules=rules,
        enforcement=enforcement,
        config=config,
    )
