"""Policy room: the pack's rules as pulumi_policy policies (what the Pulumi CLI runs).

`policies()` turns every rule of `policy.registry.RULES` into a `ResourceValidationPolicy`
or `StackValidationPolicy`. Building these objects is cheap and side-effect free (tests
call their `validate` with hand-made `ResourceValidationArgs`); only `policy/__main__.py`
wraps them in a `PolicyPack`, which starts the analyzer's gRPC server and blocks.

The environment a rule judges for comes from, in order: the policy's config
(`environment`, set with `--policy-pack-config`), the stack's `berth:environment` config
(the analyzer receives the stack's config), the BERTH_ENVIRONMENT variable, the
resource's Environment tag (stack rules: the most common one), the stack name.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.core import Ctx, Resource, Rule, StackView, environment_of, normalize
from policy.registry import RULES

ENFORCEMENT = {
    "mandatory": EnforcementLevel.MANDATORY,
    "advisory": EnforcementLevel.ADVISORY,
    "disabled": EnforcementLevel.DISABLED,
}
SEVERITY = {
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "environment": {"type": "string", "enum": ["staging", "prod"]},
        "minBackupRetentionDays": {"type": "integer", "minimum": 1, "maximum": 35},
    }
)


def _stack_name() -> str | None:
    # The engine starts the analyzer with PULUMI_STACK set (pulumi_policy configures the runtime
    # from it); outside an engine run there is no stack, and pulumi.get_stack() would make one up.
    return os.environ.get("PULUMI_STACK") or None


def _stack_environment() -> str | None:
    try:
        import pulumi

        env = pulumi.Config("berth").get("environment")
    except Exception:
        env = None
    env = env or os.environ.get("BERTH_ENVIRONMENT")
    return env if env in ("staging", "prod") else None


def _stack_region() -> str | None:
    try:
        import pulumi

        region = pulumi.Config("aws").get("region")
    except Exception:
        region = None
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def context(config: Mapping[str, Any], tags: Mapping[str, Any] | None = None) -> Ctx:
    """The Ctx for one evaluation (see the module docstring for the order of sources)."""
    stack = _stack_name()
    env = config.get("environment") or _stack_environment() or environment_of(stack, tags)
    return Ctx(environment=env, stack=stack, config=dict(config))


def _tags(props: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in ("tagsAll", "tags"):
        if isinstance(props.get(key), Mapping):
            merged.update(props[key])
    return merged


def resource_validator(rule: Rule) -> Any:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        props = normalize(args.props)
        ctx = context(args.get_config() or {}, _tags(props))
        for message in rule.check(props, ctx):
            report_violation(message, None)

    return validate


def to_resource(r: Any) -> Resource:
    """A pulumi_policy PolicyResource as the rules' plain Resource."""
    props = normalize(r.props)
    return Resource(
        type=r.resource_type,
        name=r.name,
        urn=r.urn,
        props=props,
        parent=r.parent.urn if getattr(r, "parent", None) is not None else None,
        region=props.get("region") if isinstance(props.get("region"), str) else None,
        id=props.get("id") if isinstance(props.get("id"), str) else None,
        dependencies=[d.urn for d in (getattr(r, "dependencies", None) or [])],
        property_dependencies={
            k: [d.urn for d in v] for k, v in (getattr(r, "property_dependencies", None) or {}).items()
        },
        protect=bool(getattr(getattr(r, "opts", None), "protect", False)),
        ignore_changes=list(getattr(getattr(r, "opts", None), "ignore_changes", None) or []),
    )


def stack_validator(rule: Rule) -> Any:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [to_resource(r) for r in args.resources]
        root = next((r for r in resources if r.type == "pulumi:pulumi:Stack"), None)
        view = StackView(
            resources=[r for r in resources if r.type != "pulumi:pulumi:Stack"],
            outputs=dict(root.props) if root else {},
            region=_stack_region(),
        )
        envs = Counter(e for r in view.resources if (e := r.tags.get("Environment")) in ("staging", "prod"))
        config = args.get_config() or {}
        ctx = context(config)
        if ctx.environment is None and envs:
            ctx = Ctx(environment=envs.most_common(1)[0][0], stack=ctx.stack, config=ctx.config)
        for urn, message in rule.check(view, ctx):
            report_violation(message, urn)

    return validate


def to_policy(rule: Rule) -> Policy:
    common: dict[str, Any] = {
        "name": rule.id,
        "description": rule.description,
        "enforcement_level": ENFORCEMENT[rule.enforcement],
        "severity": SEVERITY[rule.severity],
        "remediation_steps": rule.remediation,
        "config_schema": CONFIG_SCHEMA,
        "tags": [rule.service],
    }
    if rule.kind == "resource":
        return ResourceValidationPolicy(validate=resource_validator(rule), **common)
    return StackValidationPolicy(validate=stack_validator(rule), **common)


def policies() -> list[Policy]:
    return [to_policy(r) for r in RULES]
