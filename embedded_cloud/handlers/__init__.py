"""Embedded cloud room: the registry of resource and invoke handlers.

A handler answers one Pulumi type token. Resource handlers create the resource in moto
through boto3 (so botocore validates the parameters and moto enforces the semantics)
and return moto's identifier plus the outputs moto computed; the runner merges those
over the inputs. Types moto lacks get a handler of ours that answers as AWS would: the request
the provider would send is checked against the real API's shape (`validated`, botocore's own
validator), what the service checks is checked, and the outputs the provider computes are
filled. A type with no handler is refused by name (`Unmodelled`), so a missing output can never
come back None unnoticed; the types answered by echoing their inputs on purpose, because
nothing of theirs lives in AWS, are listed in ECHOED.

Adding a type is one small function in a module of this package (docs/HACKING.md, "Adding a
resource type"):

    @resource("aws:sns/topic:Topic")
    def topic(ctx: Ctx, r: Res) -> Out:
        arn = ctx.client("sns", r.region).create_topic(Name=r.physical_name())["TopicArn"]
        return arn, {"arn": arn}

Deleting is the reverse: `@deleter(token)` registers a function that deletes one recorded
resource (`Gone`: its id, inputs and outputs) through boto3, so moto enforces the service's
rules on the way down too (a non-empty bucket, deletion protection, a VPC with dependents).
A type without a deleter holds nothing in moto (Kubernetes, random, types moto lacks): the
tear-down just forgets it, as Pulumi forgets what its provider reports gone.

Modules here are imported automatically.

Lazy pulumi/moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.validate import validate_parameters

if TYPE_CHECKING:
    from embedded_cloud.cloud import EmbeddedCloud

Out = tuple[str, dict[str, Any]]
ResourceHandler = Callable[["Ctx", "Res"], Out]
InvokeHandler = Callable[["Ctx", dict[str, Any], str], dict[str, Any]]

RESOURCES: dict[str, ResourceHandler] = {}
# The one list of types answered by echoing their inputs, and why. Everything else needs a handler.
ECHOED: dict[str, str] = {
    "kubernetes:*": "Kubernetes objects: no cluster behind them; handlers/kubernetes.py fills what the API server does",
    "random:*": "pulumi_random: no cloud behind it; handlers/randomness.py derives values per URN",
    "pulumi:providers:*": "providers hold no cloud resource",
}


class Unmodelled(Exception):
    """A resource type the embedded cloud has no model for."""

    def __init__(self, type_: str, name: str) -> None:
        pkg, _, rest = type_.partition(":")
        module = rest.partition(":")[0].split("/")[0] if pkg == "aws" else pkg
        super().__init__(
            f"the embedded cloud has no model for {type_} (resource '{name}'): add a handler, "
            f"`@resource(\"{type_}\")` in embedded_cloud/handlers/{module}.py, that creates it in moto or "
            f"answers as AWS would with the outputs the provider computes (docs/HACKING.md, \"Adding a resource type\")"
        )
        self.type = type_


def echoed(type_: str) -> bool:
    """Whether a type is answered by echoing its inputs on purpose (ECHOED)."""
    return any(type_ == t or (t.endswith("*") and type_.startswith(t[:-1])) for t in ECHOED)


def handler_for(type_: str, name: str) -> ResourceHandler:
    """The handler of a type; the echo for ECHOED types; Unmodelled for anything else."""
    found = RESOURCES.get(type_)
    if found is not None:
        return found
    if echoed(type_):
        return generic
    raise Unmodelled(type_, name)
INVOKES: dict[str, InvokeHandler] = {}
# Invokes whose answer depends only on their arguments and region within one run (the account,
# the partition, a region's name): answered once per run, not once per component that asks.
PURE_INVOKES: set[str] = set()
DELETERS: dict[str, Callable[[Ctx, Gone], None]] = {}


def resource(*tokens: str) -> Callable[[ResourceHandler], ResourceHandler]:
    """Register a handler for one or more resource type tokens."""

    def deco(fn: ResourceHandler) -> ResourceHandler:
        for tok in tokens:
            RESOURCES[tok] = fn
        return fn

    return deco


def invoke(*tokens: str, pure: bool = False) -> Callable[[InvokeHandler], InvokeHandler]:
    """Register a handler for one or more invoke (data source) tokens; `pure`: see PURE_INVOKES."""

    def deco(fn: InvokeHandler) -> InvokeHandler:
        for tok in tokens:
            INVOKES[tok] = fn
            if pure:
                PURE_INVOKES.add(tok)
        return fn

    return deco


def deleter(*tokens: str) -> Callable[[Callable[[Ctx, Gone], None]], Callable[[Ctx, Gone], None]]:
    """Register the delete of one or more resource type tokens."""

    def deco(fn: Callable[[Ctx, Gone], None]) -> Callable[[Ctx, Gone], None]:
        for tok in tokens:
            DELETERS[tok] = fn
        return fn

    return deco


def short_hash(*parts: str, n: int = 7) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


@dataclass
class Res:
    """One resource registration as a handler sees it (secrets already unwrapped)."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    region: str
    stack: str
    # `import_`: the id of an existing resource the stack adopts instead of creating one.
    import_id: str = ""

    def physical_name(self, key: str = "name", max_len: int = 63, sep: str = "-") -> str:
        """The name the provider would use: the explicit input, else Pulumi's auto-name."""
        explicit = self.inputs.get(key)
        if explicit:
            return str(explicit)
        prefix = self.inputs.get(f"{key}Prefix")
        base = str(prefix) if prefix else f"{self.name}{sep}"
        return (base + short_hash(self.urn))[:max_len]

    def tags(self) -> dict[str, str]:
        return dict(self.inputs.get("tags") or {})


@dataclass
class Gone:
    """One recorded resource as its deleter sees it: the id and the outputs the cloud returned."""

    type: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    region: str

    def get(self, key: str, default: Any = None) -> Any:
        """An output, falling back to the input."""
        value = self.outputs.get(key)
        return value if value is not None else self.inputs.get(key, default)


@dataclass
class Ctx:
    """What a handler may use: region-aware boto3 clients, the account, earlier resources."""

    cloud: EmbeddedCloud
    stack: str
    default_region: str
    # urn -> (id, outputs) of everything registered so far
    state: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # The account's availability-zone mapping where it differs from moto's (zone name -> zone ID):
    # AWS shuffles names per account; a run may be told that, say, us-east-1a is use1-az3 here.
    zone_ids: dict[str, str] = field(default_factory=dict)

    def zone_id(self, zone_name: str, default: str) -> str:
        """The zone ID this account gives a zone name (the run's mapping, else moto's `default`)."""
        return self.zone_ids.get(zone_name, default)

    @property
    def account_id(self) -> str:
        return self.cloud.account_id

    def client(self, service: str, region: str | None = None) -> Any:
        return self.cloud.client(service, region or self.default_region)

    def arn(self, service: str, region: str, resource: str) -> str:
        return f"arn:aws:{service}:{region}:{self.account_id}:{resource}"

    def find(self, type_: str, **match: Any) -> list[tuple[str, dict[str, Any]]]:
        """Earlier registrations of a type whose outputs match every given key."""
        out = []
        for urn, (id_, outputs) in self.state.items():
            if urn.split("::")[2].split("$")[-1] != type_:
                continue
            if all(outputs.get(k) == v for k, v in match.items()):
                out.append((id_, outputs))
        return out


def tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in (tags or {}).items()]


def tag_spec(resource_type: str, tags: dict[str, str] | None) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tag_list(tags)}] if tags else []


_SERVICE_OF_MODULE = {
    "cloudwatch": "logs",
    "vpc": "ec2",
    "ec2": "ec2",
    "rds": "rds",
    "iam": "iam",
    "kms": "kms",
    "s3": "s3",
    "eks": "eks",
    "elasticache": "elasticache",
    "cloudfront": "cloudfront",
    "wafv2": "wafv2",
    "backup": "backup",
    "sns": "sns",
    "synthetics": "synthetics",
    "acm": "acm",
}


def _camel_to_kebab(s: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", s).lower()


def validated(ctx: Ctx, service: str, operation: str, params: dict[str, Any], region: str | None = None) -> None:
    """Check a request against the real API's shape (botocore's validator), as the provider's call would be."""
    model = ctx.client(service, region).meta.service_model.operation_model(operation)
    validate_parameters(params, model.input_shape)


def stable_uuid(urn: str) -> str:
    """A UUID-shaped id fixed per URN (CloudFront policies, AWS Backup selections...)."""
    h = hashlib.sha256(urn.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def etag(*parts: str) -> str:
    """A CloudFront-style ETag (E + 13 upper-case characters), fixed per content."""
    return "E" + hashlib.sha256("/".join(parts).encode()).hexdigest()[:13].upper()


def generic(ctx: Ctx, r: Res) -> Out:
    """Echo the inputs and add what a provider computes: a stable id and, for AWS, an ARN.

    Only for the ECHOED types (and as the base of handlers that add their own outputs)."""
    id_ = f"{r.name}-{short_hash(r.urn, n=8)}"
    outputs: dict[str, Any] = {}
    pkg, _, rest = r.type.partition(":")
    if pkg == "aws":
        module, _, cls = rest.partition(":")
        service = _SERVICE_OF_MODULE.get(module.split("/")[0], module.split("/")[0])
        outputs["arn"] = ctx.arn(service, r.region, f"{_camel_to_kebab(cls)}/{id_}")
        outputs["tagsAll"] = r.tags()
    return id_, outputs


def unwrap_secrets(value: Any) -> tuple[Any, list[str]]:
    """Replace Pulumi's secret envelopes by their values; return the top-level secret keys."""
    from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

    secret_keys: list[str] = []

    def rec(v: Any) -> Any:
        if is_rpc_secret(v):
            return rec(unwrap_rpc_secret(v))
        if isinstance(v, dict):
            return {k: rec(x) for k, x in v.items()}
        if isinstance(v, list):
            return [rec(x) for x in v]
        # The wire carries every number as a double; botocore wants ints where ints are meant.
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if is_rpc_secret(v) or (json.dumps(v, default=str).find("1b47061264138c4ac30d75fd1eb44270") >= 0):
                secret_keys.append(k)
            out[k] = rec(v)
        return out, secret_keys
    return rec(value), secret_keys


def load_all() -> None:
    """Import every handler module of this package (each registers itself)."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
