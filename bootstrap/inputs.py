"""Bootstrap room: the typed, validated settings of one account's bootstrap stack.

`bootstrap/Pulumi.<account>.yaml` holds `berth-bootstrap:*` keys (camelCase); this module is their
only reader. Everything is validated before the program registers a single resource, and every
error names the key as written in the file, the value given and what is allowed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from bootstrap import permissions

PROJECT = "berth-bootstrap"
# The environment kinds the pipeline deploys through, each a GitHub environment with its own role.
KINDS = ("staging", "production", "review", "dr")
RUNNER_DESIGNS = ("codebuild",)
# The runner egress designs that give one address every cluster's publicAccessCidrs can admit.
FIXED_EGRESS = ("natGateway",)
# The CodeBuild project behind the runner label `codebuild-<project>-<run id>-<attempt>`: fixed, so the
# workflows name it without a variable that could be unset (tests/ci check both sides agree).
RUNNER_PROJECT = "berth-runner"
# GitHub's rules: an owner is 1-39 alphanumerics or single hyphens; a repository name [A-Za-z0-9._-].
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9._-]{1,100}$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
GITHUB_ENVIRONMENT = re.compile(r"^[^'\"`,;\\*?]{1,255}$")


class BootstrapConfigError(Exception):
    """The bootstrap stack's configuration is invalid; the message lists every bad key."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration for bootstrap stack '{stack}' (nothing was created):\n{lines}")


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Environment(Model):
    """One environment kind: the GitHub environment its jobs declare, the platform stacks it deploys."""

    github_environment: str
    # Which platform stacks' resource types shape this role's permissions (bootstrap/stack_types.json).
    stacks: list[str] = Field(min_length=1)

    @field_validator("github_environment")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not GITHUB_ENVIRONMENT.match(v):
            raise ValueError(
                f"{v!r} is not a GitHub environment name (1-255 characters, no quotes, commas, "
                "semicolons, backslashes or wildcards)"
            )
        return v


class Registry(Model):
    """The app's image repository in ECR."""

    repository: str = Field(
        "shipments-api",
        pattern=r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$",
        min_length=2,
        max_length=256,
    )
    untagged_expiry_days: int = Field(14, ge=1, le=365)


class Runners(Model):
    """Where CI jobs that talk to cluster APIs run: CodeBuild-hosted GitHub Actions runners in a VPC
    of the bootstrap whose NAT gateway's Elastic IP is the one egress address."""

    design: str = "codebuild"
    egress: str = "natGateway"
    vpc_cidr: str = "10.250.0.0/20"
    # A CodeConnections (CodeStar) connection to GitHub, made and approved once in the console: CodeBuild
    # creates the repository webhook through it and fetches the runner's registration token.
    connection_arn: str = Field(
        pattern=r"^arn:aws[\w-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:"
        r"connection/[0-9a-f-]{36}$"
    )
    compute_type: Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"] = (
        "BUILD_GENERAL1_MEDIUM"
    )
    image: str = "aws/codebuild/standard:7.0"
    build_timeout_minutes: int = Field(150, ge=5, le=2160)  # above the longest job (120 min)

    @field_validator("design")
    @classmethod
    def _design(cls, v: str) -> str:
        if v not in RUNNER_DESIGNS:
            raise ValueError(f"{v!r} is not a runner design; allowed: {', '.join(RUNNER_DESIGNS)}")
        return v

    @field_validator("egress")
    @classmethod
    def _egress(cls, v: str) -> str:
        if v not in FIXED_EGRESS:
            raise ValueError(
                f"{v!r} gives the runners no fixed egress address (outside a VPC, CodeBuild leaves from AWS's "
                f"shared ranges, which no cluster's publicAccessCidrs can pin); allowed: {', '.join(FIXED_EGRESS)}"
            )
        return v

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        try:
            net = ipaddress.ip_network(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a network in CIDR form (e.g. 10.250.0.0/20)") from None
        if net.version != 4 or not net.is_private or not 16 <= net.prefixlen <= 22:
            raise ValueError(f"{v!r}: need a private IPv4 range from /16 to /22 (three /24 subnets fit)")
        return v


class BootstrapSettings(Model):
    """Everything the account foundation is made from."""

    stack: str
    region: str
    repository: str
    regions: list[str] = Field(min_length=1)
    environments: dict[str, Environment]
    registry: Registry = Registry()
    runners: Runners

    @field_validator("repository")
    @classmethod
    def _repository(cls, v: str) -> str:
        if not REPOSITORY.match(v):
            raise ValueError(f"{v!r} is not a GitHub repository of the form OWNER/REPO (e.g. acme/shipments)")
        return v

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        bad = [r for r in v if not REGION.match(r)]
        if bad:
            raise ValueError(f"{bad} are not AWS region names (e.g. us-east-1)")
        return v

    @field_validator("environments")
    @classmethod
    def _kinds(cls, v: dict[str, Environment]) -> dict[str, Environment]:
        unknown = sorted(set(v) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown environment kind(s) {unknown}; allowed: {', '.join(KINDS)}")
        missing = [k for k in KINDS if k not in v]
        if missing:
            raise ValueError(
                f"missing environment kind(s) {missing}: each kind's jobs need a role; "
                f"allowed and required: {', '.join(KINDS)}"
            )
        return v

    @model_validator(mode="after")
    def _known_stacks(self) -> BootstrapSettings:
        known = permissions.stack_types()
        for kind, env in self.environments.items():
            unknown = [s for s in env.stacks if s not in known]
            if unknown:
                raise ValueError(
                    f"environments.{kind}.stacks = {unknown} have no recorded resource types; allowed: "
                    f"{', '.join(sorted(known))} (bootstrap/stack_types.json, `berth bootstrap types`)"
                )
        return self

    @model_validator(mode="after")
    def _primary_first(self) -> BootstrapSettings:
        if self.regions[0] != self.region:
            raise ValueError(
                f"regions[0] = {self.regions[0]!r}: the first region must be the bootstrap's own "
                f"aws:region {self.region!r} (the registry and runners live there)"
            )
        return self

    @property
    def allowed_regions(self) -> list[str]:
        """Regions the deploy roles may call: the stacks' regions, and us-east-1 where the global services
        (IAM, CloudFront, Route 53, ACM for CloudFront, WAF for CloudFront) take their requests."""
        return sorted({*self.regions, "us-east-1"})

    def tags(self) -> dict[str, str]:
        return {"Project": "berth", "Environment": "account", "Stack": self.stack, "ManagedBy": "pulumi"}


def _key(loc: tuple[Any, ...]) -> str:
    head, *rest = (str(p) for p in loc)
    if head in ("stack", "region"):
        return "aws:region" if head == "region" else "stack"
    tail = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in rest)
    return f"{PROJECT}:{head}{tail}"


def _value_at(raw: Mapping[str, Any], loc: tuple[Any, ...]) -> Any:
    cur: Any = raw
    for part in loc:
        held = (isinstance(cur, Mapping) and part in cur) or (
            isinstance(cur, list) and isinstance(part, int) and part < len(cur)
        )
        if held:
            cur = cur[part]
        else:
            return "(not set)"
    return cur


def parse(stack: str, raw: Mapping[str, Any]) -> BootstrapSettings:
    """Validate raw settings (camelCase keys) into BootstrapSettings; BootstrapConfigError naming every bad key."""
    try:
        return BootstrapSettings.model_validate({"stack": stack, **raw})
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = tuple(e["loc"])
            msg = str(e["msg"]).removeprefix("Value error, ")
            if not loc:  # a check across keys: its message names them
                problems.append(f"{PROJECT}:{msg}")
                continue
            value = _value_at(raw, loc)
            shown = json.dumps(value) if not isinstance(value, str) else value
            problems.append(f"{_key(loc)} = {shown}: {msg}")
        raise BootstrapConfigError(stack, problems) from None


def raw_from_config_map(config: Mapping[str, Any]) -> dict[str, Any]:
    """`berth-bootstrap:*` entries of a stack file (structured, or JSON strings as the runtime hands them)."""
    raw: dict[str, Any] = {}
    unknown = []
    for full_key, value in config.items():
        ns, _, key = full_key.partition(":")
        if isinstance(value, str) and value[:1] in "{[":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        if full_key == "aws:region":
            raw["region"] = value
        elif ns == PROJECT:
            if key not in BootstrapSettings.model_fields and to_snake(key) not in BootstrapSettings.model_fields:
                unknown.append(full_key)
            raw[key] = value
    if unknown:
        known = ", ".join(
            f"{PROJECT}:{to_camel(k)}" for k in BootstrapSettings.model_fields if k not in ("stack", "region")
        )
        raw["__unknown__"] = f"unknown key(s) {sorted(unknown)}; allowed: {known}"
    return raw


def to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def settings_from_config_map(stack: str, config: Mapping[str, Any]) -> BootstrapSettings:
    """Validate a bootstrap stack file's `config:` map."""
    raw = raw_from_config_map(config)
    unknown = raw.pop("__unknown__", None)
    if unknown:
        raise BootstrapConfigError(stack, [unknown])
    return parse(stack, raw)


def load() -> BootstrapSettings:
    """This stack's settings from the Pulumi runtime config; raises before any resource is registered."""
    import pulumi
    from pulumi.runtime.config import CONFIG

    config = {k: v for k, v in CONFIG.get().items() if k.startswith(f"{PROJECT}:") or k == "aws:region"}
    try:
        return settings_from_config_map(pulumi.get_stack(), config)
    except BootstrapConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
