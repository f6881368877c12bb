"""Policy room: the vocabulary every rule is written in.

A rule is a plain function over plain data, so the same code judges a real preview (the
Pulumi CLI hands `ResourceValidationArgs.props` to `policy/__main__.py`) and an offline
graph (`policy/evaluator.py` hands `Node.inputs` merged with `Node.outputs`). Both sides
normalise their values first: unknown preview values become `UNKNOWN`, secrets the string
"[secret]", proxies plain dicts and lists. Nothing here imports pulumi or pulumi_policy.

Resource rules: `(props: dict, ctx: Ctx) -> list[str]` (one message per violation).
Stack rules: `(stack: StackView, ctx: Ctx) -> list[Finding]` (urn of the offender or None).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "mandatory", "disabled"]

SECRET = "[secret]"

# The sentinels the Pulumi engine uses for values unknown during preview (pulumi_policy/proxy.py).
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)


class _Unknown:
    """A value the engine cannot know yet (preview): rules treat it as "cannot judge"."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        raise TypeError("an unknown value has no truth value: test it with is_unknown() first")


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def normalize(value: Any) -> Any:
    """Plain dicts/lists with UNKNOWN for unknown sentinels (unwraps pulumi_policy proxies and secrets)."""
    if type(value).__name__ in ("_DictProxy", "_ListProxy", "_DictSecretsProxy", "_ListSecretsProxy"):
        # Reading through the proxy would raise on unknowns: take the raw target instead.
        value = value["__target"]
    if type(value).__name__ == "Secret" and hasattr(value, "value"):
        value = value.value
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    return value


# ---- safe accessors ------------------------------------------------------------------------
def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Nested lookup that never raises: UNKNOWN propagates, anything missing gives default."""
    cur = obj
    for part in path:
        # A redacted secret hides its insides: as unknowable as a preview value.
        if is_unknown(cur) or cur == SECRET:
            return UNKNOWN
        if isinstance(part, int):
            if not isinstance(cur, list) or part >= len(cur):
                return default
            cur = cur[part]
        else:
            if not isinstance(cur, Mapping) or part not in cur:
                return default
            cur = cur[part]
    return UNKNOWN if is_unknown(cur) else cur


def items(value: Any) -> list[Any]:
    """A list property as a list (None/unknown/scalar -> [])."""
    return list(value) if isinstance(value, list) else []


def any_unknown(value: Any) -> bool:
    """Whether a value is unknown or a list holding an unknown element."""
    return is_unknown(value) or (isinstance(value, list) and any(is_unknown(v) for v in value))


def truthy(value: Any) -> bool | None:
    """True/False for a known boolean-ish value (bools arrive as strings from some paths), None if unknown."""
    if is_unknown(value):
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def number(value: Any) -> float | None:
    if is_unknown(value) or value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def has_value(value: Any) -> bool:
    """Set to something (a secret or an unknown counts: it will be set)."""
    return is_unknown(value) or value not in (None, "", [], {})


def arn_region(arn: Any) -> str | None:
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 3 else None


def is_aws_managed_key(key: Any) -> bool:
    """An AWS-managed key (alias/aws/...) is not a customer key: its policy cannot be controlled."""
    return isinstance(key, str) and (":alias/aws/" in key or key.startswith("alias/aws/"))


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_by_digest(image: str) -> bool:
    return bool(_DIGEST.search(image))


# ---- context -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Ctx:
    """What a rule knows besides the resource: the environment and the stack."""

    environment: str | None = None  # "staging" | "prod" | None (cannot tell)
    stack: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


def environment_of(stack: str | None, tags: Mapping[str, Any] | None = None) -> str | None:
    """The environment a resource or stack belongs to, from its Environment tag or its stack name."""
    env = (tags or {}).get("Environment")
    if isinstance(env, str) and env in ("staging", "prod"):
        return env
    if stack:
        if stack == "prod" or stack.startswith("prod-") or stack.startswith("prod_"):
            return "prod"
        if stack.startswith("staging"):
            return "staging"
    return None


# ---- stack view --------------------------------------------------------------------------
@dataclass
class Resource:
    """One resource as a stack rule sees it (outputs merged over inputs)."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    parent: str | None = None
    region: str | None = None
    id: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # The `protect` resource option (pulumi refuses to delete the resource).
    protect: bool = False
    # The `ignore_changes` resource option: property paths (wire names) an update leaves alone.
    ignore_changes: list[str] = field(default_factory=list)

    def prop(self, *path: str | int, default: Any = None) -> Any:
        return get(self.props, *path, default=default)

    def depends_on(self, other: Resource, key: str | None = None) -> bool:
        """Whether this resource's property `key` (or any property) was computed from `other`."""
        if key is not None:
            return other.urn in self.property_dependencies.get(key, [])
        return other.urn in self.dependencies or any(
            other.urn in urns for urns in self.property_dependencies.values()
        )

    def identifiers(self) -> set[str]:
        """Every string that names this resource in another's inputs: id, arn, name, identifier."""
        out = {self.id} if isinstance(self.id, str) and self.id else set()
        for key in ("id", "arn", "identifier", "name", "bucket", "replicationGroupId", "keyId"):
            v = self.props.get(key)
            if isinstance(v, str) and v and not is_unknown(v):
                out.add(v)
        return out

    @property
    def tags(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for key in ("tagsAll", "tags"):
            v = self.props.get(key)
            if isinstance(v, Mapping):
                merged.update(v)
        return merged


@dataclass
class StackView:
    """The whole stack as a stack rule sees it."""

    resources: list[Resource]
    outputs: dict[str, Any] = field(default_factory=dict)
    region: str | None = None

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def by_urn(self, urn: str) -> Resource | None:
        return next((r for r in self.resources if r.urn == urn), None)


Finding = tuple[str | None, str]
ResourceCheck = Callable[[dict[str, Any], Ctx], list[str]]
StackCheck = Callable[[StackView, Ctx], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """One guardrail: metadata for humans plus the function that judges."""

    id: str
    description: str
    severity: Severity
    remediation: str
    kind: Literal["resource", "stack"]
    check: Callable[..., Any]
    # Resource type tokens a resource rule applies to (stack rules: the types they read).
    types: frozenset[str] = frozenset()
    enforcement: Enforcement = "mandatory"
    # Why a rule is not mandatory (required when it is not).
    enforcement_reason: str = ""
    service: str = ""

    def applies_to(self, type_: str) -> bool:
        return type_ in self.types


_REGISTERED: list[Rule] = []


def _register(rule: Rule) -> Rule:
    if rule.enforcement != "mandatory" and not rule.enforcement_reason:
        raise ValueError(f"rule {rule.id} is {rule.enforcement}: say why in enforcement_reason")
    if any(r.id == rule.id for r in _REGISTERED):
        raise ValueError(f"duplicate rule id {rule.id}")
    _REGISTERED.append(rule)
    return rule


def resource_rule(
    id: str,
    *,
    types: Iterable[str],
    description: str,
    severity: Severity,
    remediation: str,
    enforcement: Enforcement = "mandatory",
    enforcement_reason: str = "",
) -> Callable[[ResourceCheck], ResourceCheck]:
    """Register a resource rule: the decorated function judges one resource's props."""

    def deco(fn: ResourceCheck) -> ResourceCheck:
        _register(
            Rule(id, description, severity, remediation, "resource", fn, frozenset(types), enforcement,
                 enforcement_reason, fn.__module__.rsplit(".", 1)[-1])
        )
        return fn

    return deco


def stack_rule(
    id: str,
    *,
    types: Iterable[str] = (),
    description: str,
    severity: Severity,
    remediation: str,
    enforcement: Enforcement = "mandatory",
    enforcement_reason: str = "",
) -> Callable[[StackCheck], StackCheck]:
    """Register a stack rule: the decorated function judges the whole stack."""

    def deco(fn: StackCheck) -> StackCheck:
        _register(
            Rule(id, description, severity, remediation, "stack", fn, frozenset(types), enforcement,
                 enforcement_reason, fn.__module__.rsplit(".", 1)[-1])
        )
        return fn

    return deco


def registered() -> list[Rule]:
    return list(_REGISTERED)
