"""Embedded cloud room: run the Pulumi program under mocks answered by moto, record the graph.

`run_stack()` runs `__main__.py` in this process: it loads `Pulumi.<stack>.yaml` into
the runtime config, installs `CloudMocks` behind a `RecordingMonitor`, awaits every
outstanding RPC and returns the `Graph`. The Python SDK keeps its runtime in module
globals and context variables (settings, root stack, config), so one process runs one
stack: `run_isolated()` runs a stack in a fresh child process that talks to a moto
server owned by the caller, and is what tests, `berth diff`, promotion and DR use.

Lazy pulumi/moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import os
import re
import runpy
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from embedded_cloud.assets import asset_problems
from embedded_cloud.cloud import EmbeddedCloud, share_botocore_loader, speed_up_moto
from embedded_cloud.forks import spawn_run
from embedded_cloud.graph import SECRET, Graph, Node
from embedded_cloud.handlers import (
    INVOKES,
    PURE_INVOKES,
    Ctx,
    Res,
    Unmodelled,
    echoed,
    generic,
    handler_for,
    load_all,
    unwrap_secrets,
)
from embedded_cloud.handlers.route53 import seed_zones
from embedded_cloud.plan import changes

REPO = Path(__file__).resolve().parents[1]
PROJECT = "berth"
# The knob for the account's AZ mapping where no caller passes `zone_ids`: "us-east-1a=use1-az3,...".
ZONE_IDS_ENV = "BERTH_ZONE_IDS"
_ZONE_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
_ZONE_ID = re.compile(r"^[a-z]{2,4}\d-az\d+$")


class ProgramError(Exception):
    """The program failed; `graph` holds whatever was registered before it did."""

    def __init__(self, message: str, graph: Graph | None = None) -> None:
        super().__init__(message)
        self.graph = graph


# ---- stack configuration ----------------------------------------------------------------
def stack_file(stack: str, repo: Path = REPO) -> Path:
    return repo / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, repo: Path = REPO) -> dict[str, Any]:
    """The `config:` map of Pulumi.<stack>.yaml, values as structured data."""
    path = stack_file(stack, repo)
    if not path.exists():
        known = sorted(p.name.split(".")[1] for p in repo.glob("Pulumi.*.yaml"))
        raise ProgramError(f"no stack '{stack}': {path.name} does not exist (stacks here: {', '.join(known)})")
    return read_config_file(path)


def read_config_file(path: Path) -> dict[str, Any]:
    """The `config:` map of a Pulumi stack file (secure values dropped: offline never needs them)."""
    return config_from_text(Path(path).read_text(), str(path))


def config_from_text(text: str, source: str) -> dict[str, Any]:
    """The `config:` map of a stack file's text; `source` names the file in errors."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ProgramError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProgramError(f"{source} must be a mapping with a `config:` key")
    cfg = data.get("config") or {}
    if not isinstance(cfg, dict):
        raise ProgramError(f"{source}: `config:` must be a mapping of keys to values")
    # Encrypted values cannot be read offline; the program must not need them to preview.
    return {k: v for k, v in cfg.items()
            if v is not None and not (isinstance(v, dict) and "secure" in v and len(v) == 1)}


def apply_overrides(config: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-set `berth:database.replicas`-style keys (None deletes) on a copy of config."""
    out = copy.deepcopy(config)
    for dotted, value in overrides.items():
        ns_key, _, path = dotted.partition(".")
        if not path:
            if value is None:
                out.pop(ns_key, None)
            else:
                out[ns_key] = value
            continue
        cur = out.setdefault(ns_key, {})
        parts = path.split(".")
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        if value is None:
            cur.pop(parts[-1], None)
        else:
            cur[parts[-1]] = value
    return out


def project_name(repo: Path = REPO) -> str:
    """The `name:` of the Pulumi project in `repo` (its Pulumi.yaml): the platform's is `berth`, the
    account bootstrap's (bootstrap/) `berth-bootstrap`. Config keys and URNs carry it."""
    path = repo / "Pulumi.yaml"
    if not path.exists():
        return PROJECT
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProgramError(f"{path} is not valid YAML: {exc}") from None
    name = doc.get("name") if isinstance(doc, dict) else None
    if not isinstance(name, str) or not name:
        raise ProgramError(f"{path} names no project (`name:`)")
    return name


def _runtime_config(config: Mapping[str, Any]) -> dict[str, str]:
    """As the Pulumi CLI hands config to a program: strings, structured values as JSON."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = json.dumps(value)
    return out


def parse_zone_ids(value: str | Mapping[str, str] | None) -> dict[str, str]:
    """An account's zone name -> zone ID mapping, from a mapping or "us-east-1a=use1-az3,..."."""
    if not value:
        return {}
    pairs = value.items() if isinstance(value, Mapping) else (
        tuple(part.split("=", 1)) if "=" in part else (part, "") for part in value.split(",") if part.strip())
    out: dict[str, str] = {}
    for name, zone_id in pairs:
        name, zone_id = str(name).strip(), str(zone_id).strip()
        if not _ZONE_NAME.match(name) or not _ZONE_ID.match(zone_id):
            raise ProgramError(f"zone mapping {name}={zone_id!r}: write ZONE_NAME=ZONE_ID pairs such as "
                               f"us-east-1a=use1-az3, separated by commas ({ZONE_IDS_ENV})")
        out[name] = zone_id
    if len(set(out.values())) != len(out):
        raise ProgramError(f"zone mapping {out}: two zone names cannot share one zone ID")
    return out


# ---- mocks and monitor ------------------------------------------------------------------
def _import_pulumi() -> Any:
    import pulumi.runtime.mocks as mocks

    return mocks


# A value a planned replacement will only know once it exists (`pulumi preview`'s "output<string>").
UNKNOWN = "(known after replacement)"
# A deployed stack as the next run plans against it: (urn -> (id, outputs), urn -> inputs).
Kept = tuple[dict[str, tuple[str, dict[str, Any]]], dict[str, dict[str, Any]]]


class CloudMocks:
    """pulumi.runtime.Mocks answered by the handlers (moto); a type with no handler is refused by name.

    With `prior` (a deployed stack's state, urn -> (id, outputs as the cloud reports them)) it plans
    instead of deploying, as `pulumi preview` of a second `up` does: a resource the stack already has
    answers with its state (the new inputs over it), or, when the provider would replace it, with its
    new inputs and UNKNOWN for what the cloud fills in (so what is built from it plans a change too);
    nothing is created in the cloud; a resource the stack does not have yet (it would be created)
    answers with its inputs and a placeholder id. Every registration's inputs
    (unredacted) are kept in `inputs`, deploying or planning."""

    def __init__(self, ctx: Ctx, prior: Kept | None = None) -> None:
        self.ctx = ctx
        self._answers: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.prior, self.prior_inputs = prior if prior is not None else (None, {})
        self.inputs: dict[str, dict[str, Any]] = {}

    def _plan(self, res: Res) -> tuple[str, dict[str, Any]]:
        assert self.prior is not None
        if res.urn in self.prior:
            id_, outputs = self.prior[res.urn]
            if any(c.replace for c in changes(res.type, outputs, self.prior_inputs.get(res.urn, {}), res.inputs)):
                # Replaced: what the provider computes is not known until the new one exists, so
                # everything built from it plans a change too (as `pulumi preview` shows).
                return UNKNOWN, _unknown_over(outputs, res.inputs)
            return id_, _overlay(outputs, res.inputs)
        if echoed(res.type):  # no cloud behind it: its answer is the same as a deploy's
            return self._deploy(res)
        return generic(self.ctx, res)[0], dict(res.inputs)

    def new_resource(self, res: Res) -> tuple[str, dict[str, Any]]:
        self.inputs[res.urn] = res.inputs
        if self.prior is not None:
            id_, outputs = self._plan(res)
            self.ctx.state[res.urn] = (id_, outputs)
            return id_, outputs
        return self._deploy(res)

    def _deploy(self, res: Res) -> tuple[str, dict[str, Any]]:
        try:
            handler = handler_for(res.type, res.name)
        except Unmodelled as exc:
            raise ProgramError(str(exc)) from None
        with self.ctx.lock:
            try:
                id_, computed = handler(self.ctx, res)
            except Exception as exc:
                raise ProgramError(f"embedded cloud refused {res.type} '{res.name}': {exc}") from exc
        outputs = {**res.inputs, **computed}
        if res.type.startswith("aws:") and "arn" not in outputs:
            outputs["arn"] = generic(self.ctx, res)[1]["arn"]
        if res.type.startswith("aws:") and "tags" in res.inputs and "tagsAll" not in outputs:
            outputs["tagsAll"] = res.inputs["tags"]
        outputs.setdefault("id", id_)
        self.ctx.state[res.urn] = (id_, outputs)
        return id_, outputs

    def call(self, token: str, args: dict[str, Any], region: str) -> dict[str, Any]:
        handler = INVOKES.get(token)
        if handler is None:
            raise ProgramError(f"embedded cloud has no answer for the invoke {token}")
        key = (token, json.dumps(args, sort_keys=True, default=str), region) if token in PURE_INVOKES else None
        with self.ctx.lock:
            if key is not None and key in self._answers:
                return copy.deepcopy(self._answers[key])
            answer = handler(self.ctx, args, region)
            if key is not None:
                self._answers[key] = copy.deepcopy(answer)
            return answer

    def register_transform(self, transform: Any) -> None:  # pragma: no cover - unused
        pass

    def register_invoke_transform(self, transform: Any) -> None:  # pragma: no cover - unused
        pass


def _unknown_over(outputs: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A replaced resource's planned outputs: its new inputs, and unknown wherever the cloud fills in."""
    out: dict[str, Any] = {}
    for key, old in outputs.items():
        if key not in inputs:
            out[key] = UNKNOWN
        elif isinstance(old, dict) and isinstance(inputs[key], dict):
            out[key] = _unknown_over(old, inputs[key])
        else:
            out[key] = inputs[key]
    return {**inputs, **out}


def _overlay(outputs: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A planned resource's outputs: the new inputs over its state, object by object, so what the cloud
    or the provider filled in inside an object the program sets (a Kubernetes object's generated
    metadata.name) stays as the state has it, as `pulumi preview` keeps it."""
    out = dict(outputs)
    for key, value in inputs.items():
        old = out.get(key)
        out[key] = _overlay(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def _make_monitor(mocks: CloudMocks, ctx: Ctx) -> Any:
    """A MockMonitor that records every registration request into graph Nodes."""
    from google.protobuf import empty_pb2
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.proto import provider_pb2, resource_pb2
    from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

    class RecordingMonitor(MockMonitor):
        def __init__(self) -> None:
            super().__init__(mocks)  # type: ignore[arg-type]
            self.nodes: list[Node] = []
            self.provider_regions: dict[str, str] = {}
            self.outputs: dict[str, dict[str, Any]] = {}
            self._lock = threading.Lock()

        def _region_of(self, type_: str, inputs: dict[str, Any], provider_ref: str) -> str | None:
            if not type_.startswith("aws:") and not type_.startswith("pulumi:providers:aws"):
                return None
            if type_.startswith("aws:iam/"):
                return None  # IAM is global
            if isinstance(inputs.get("region"), str) and inputs["region"]:
                return inputs["region"]
            provider_urn = provider_ref.split("::")[0:4]
            return self.provider_regions.get("::".join(provider_urn), ctx.default_region)

        def RegisterResource(self, request: Any) -> Any:
            urn = self.make_urn(request.parent, request.type, request.name)
            _ensure_event_loop()
            raw = rpc.deserialize_properties(request.object) if request.type != "pulumi:pulumi:Stack" else {}
            inputs, secret_keys = unwrap_secrets(raw)
            recorded_inputs = _recordable(raw)
            provider_ref = request.provider or ""
            region = self._region_of(request.type, inputs, provider_ref)
            node = Node(
                urn=urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent or None,
                dependencies=sorted(set(request.dependencies)),
                property_dependencies={
                    k: sorted(set(v.urns)) for k, v in request.propertyDependencies.items() if v.urns
                },
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=list(request.ignoreChanges),
                provider=provider_ref.split("::")[3] if provider_ref.count("::") >= 3 else None,
                region=region,
                inputs=recorded_inputs,
                secret_keys=secret_keys,
            )
            if request.type == "pulumi:pulumi:Stack":
                with self._lock:
                    self.nodes.append(node)
                return resource_pb2.RegisterResourceResponse(urn=urn)
            if request.type.startswith("pulumi:providers:aws"):
                self.provider_regions[urn] = inputs.get("region") or ctx.default_region

            if request.custom:
                problems = asset_problems(request.type, request.name, raw)
                if problems:
                    raise ProgramError("embedded cloud refused " + "; ".join(problems))
                res = Res(request.type, request.name, urn, inputs, region or ctx.default_region, ctx.stack,
                          request.importId)
                id_, state = mocks.new_resource(res)
            else:
                id_, state = "", {}
            node.id = id_ or None
            secret_out = set(secret_keys) | set(request.additionalSecretOutputs)
            for key in request.additionalSecretOutputs:
                _note_secrets(state.get(key))
            _note_leaf_secrets(raw)
            node.outputs = (
                {
                    k: (recorded_inputs.get(k, SECRET) if k in secret_keys and v == inputs.get(k)
                        else SECRET if k in secret_out else _recordable(v))
                    for k, v in state.items()
                }
                if request.custom
                else {}
            )
            node.secret_keys = sorted(secret_out)
            with self._lock:
                self.nodes.append(node)
            wire = {k: (rpc.wrap_rpc_secret(v) if k in secret_out else v) for k, v in state.items()}
            obj_proto = _sync_await(rpc.serialize_properties(wire, {}))
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
            return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj_proto)

        def ReadResource(self, request: Any) -> Any:
            _ensure_event_loop()
            urn = self.make_urn(request.parent, request.type, request.name)
            raw = rpc.deserialize_properties(request.properties)
            inputs, secret_keys = unwrap_secrets(raw)
            region = self._region_of(request.type, inputs, request.provider or "")
            res = Res(request.type, request.name, urn, {**inputs, "__read_id": request.id},
                      region or ctx.default_region, ctx.stack)
            id_, state = mocks.new_resource(res)
            state.pop("__read_id", None)
            node = Node(urn=urn, type=request.type, name=request.name, custom=True,
                        parent=request.parent or None, region=region, id=id_,
                        inputs=_recordable(raw), outputs=_redact(_recordable(state), secret_keys))
            with self._lock:
                self.nodes.append(node)
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
            props = _sync_await(rpc.serialize_properties(state, {}))
            return resource_pb2.ReadResourceResponse(urn=urn, properties=props)

        def Invoke(self, request: Any) -> Any:
            _ensure_event_loop()
            if request.tok == "pulumi:pulumi:getResource":
                return super().Invoke(request)
            args, _ = unwrap_secrets(rpc.deserialize_properties(request.args))
            region = args.get("region") or self.provider_regions.get(
                "::".join((request.provider or "").split("::")[0:4]), ctx.default_region
            )
            try:
                ret = mocks.call(request.tok, args, region)
                failures = None
            except ProgramError as exc:
                ret = {}
                failures = [provider_pb2.CheckFailure(property="", reason=str(exc))]
            ret_proto = _sync_await(rpc.serialize_properties(ret, {}))
            return resource_pb2.ResourceInvokeResponse(**{"failures": failures, "return": ret_proto})

        def RegisterResourceOutputs(self, request: Any) -> Any:
            _ensure_event_loop()
            outs = _recordable(rpc.deserialize_properties(request.outputs))
            with self._lock:
                self.outputs[request.urn] = outs
            return empty_pb2.Empty()

    return RecordingMonitor()


# Secret strings seen so far in this run (generated passwords, tokens, secret leaves): the SDK
# marks a whole structured property secret when one nested value is, and these let the graph
# redact just that value and keep the rest of the structure judgeable.
_KNOWN_SECRETS: set[str] = set()


def _note_secrets(value: Any) -> None:
    from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

    if is_rpc_secret(value):
        value = unwrap_rpc_secret(value)
    if isinstance(value, str) and len(value) >= 8:
        _KNOWN_SECRETS.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _note_secrets(v)
    elif isinstance(value, list):
        for v in value:
            _note_secrets(v)


def _note_leaf_secrets(value: Any) -> None:
    """Remember the strings that travel as secrets on their own (not a whole structure)."""
    from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

    if is_rpc_secret(value):
        inner = unwrap_rpc_secret(value)
        if not isinstance(inner, dict | list):
            _note_secrets(inner)
        return
    if isinstance(value, dict):
        for v in value.values():
            _note_leaf_secrets(v)
    elif isinstance(value, list):
        for v in value:
            _note_leaf_secrets(v)


def _redact_known(value: Any) -> tuple[Any, bool]:
    """Inside a wholly-secret structure: redact leaves holding a known secret; say if any did."""
    if isinstance(value, dict):
        pairs = {k: _redact_known(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(hit for _, hit in pairs.values())
    if isinstance(value, list):
        items = [_redact_known(v) for v in value]
        return [v for v, _ in items], any(hit for _, hit in items)
    if isinstance(value, str) and any(s in value for s in _KNOWN_SECRETS):
        return SECRET, True
    return _recordable(value), False


def _recordable(value: Any) -> Any:
    """A wire value as the graph keeps it: secrets redacted where they sit, assets described."""
    import pulumi
    from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret

    if is_rpc_secret(value):
        inner = unwrap_rpc_secret(value)
        if isinstance(inner, dict | list):
            redacted, found = _redact_known(inner)
            # No known secret inside: which part is secret cannot be told, so all of it is.
            return redacted if found else SECRET
        return SECRET
    if isinstance(value, dict):
        return {k: _recordable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_recordable(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return describe_asset(value)
    return value


def describe_asset(value: Any, by_content: bool = False) -> Any:
    """An asset or archive as data: the graph names a file by its path; with `by_content` (a kept state
    the next run diffs against, as the engine compares assets) a file is its bytes' hash. A string
    is its text's hash either way, an archive its members, a remote one its URI."""
    import pulumi

    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {k: describe_asset(v, by_content) for k, v in sorted(value.assets.items())}}
    if isinstance(value, pulumi.StringAsset):
        return {"asset": "string", "sha256": hashlib.sha256(value.text.encode()).hexdigest()}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {"asset": type(value).__name__, "uri": value.uri}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        p = Path(value.path)
        if not by_content:
            return {"asset": type(value).__name__, "path": str(value.path)}
        if p.is_file():
            return {"asset": type(value).__name__, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        if p.is_dir():
            return {"archive": {str(f.relative_to(p)): hashlib.sha256(f.read_bytes()).hexdigest()
                                for f in sorted(p.rglob("*")) if f.is_file()}}
    return str(value)


def _redact(values: dict[str, Any], secret_keys: list[str]) -> dict[str, Any]:
    return {k: (SECRET if k in secret_keys else v) for k, v in values.items()}


# ---- running ----------------------------------------------------------------------------
@dataclass
class RunResult:
    graph: Graph
    cloud: EmbeddedCloud
    # urn -> (id, outputs): what the cloud answered, unredacted (the next run's `prior`)
    state: dict[str, tuple[str, dict[str, Any]]]
    # urn -> the inputs each resource was registered with (unredacted)
    inputs: dict[str, dict[str, Any]]


def run_stack(
    stack: str,
    *,
    config: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    cloud: EmbeddedCloud | None = None,
    repo: Path = REPO,
    prior: Kept | None = None,
    zone_ids: Mapping[str, str] | None = None,
) -> RunResult:
    """Run the program for one stack in this process (once per process) and record its graph.

    `repo` is the Pulumi project's directory: its `Pulumi.yaml` names the project, its
    `Pulumi.<stack>.yaml` holds the config and its `__main__.py` is the program (the platform at the
    repository root, the account bootstrap in bootstrap/).
    With `prior` (an earlier run's kept state and inputs, refreshed) it plans a second `up` instead: see
    CloudMocks. `zone_ids`: the account's AZ mapping where it differs from moto's (zone name -> zone
    ID); without it, the BERTH_ZONE_IDS environment variable, else moto's mapping.
    Raises ProgramError (with the partial graph) when the program fails.
    """
    started = time.perf_counter()
    cfg = dict(config) if config is not None else read_stack_config(stack, repo)
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    region = cfg.get("aws:region")
    if not isinstance(region, str):
        raise ProgramError(f"stack '{stack}' sets no aws:region in {stack_file(stack, repo).name}")

    import pulumi
    from pulumi.runtime import settings as rt_settings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    if rt_settings.get_root_resource() is not None:
        raise RuntimeError("the Pulumi runtime already ran a program in this process; use run_isolated()")

    share_botocore_loader()  # before the handlers import moto: its import already loads botocore data
    load_all()
    speed_up_moto()
    cloud = cloud or EmbeddedCloud()
    # The collector's full passes walked the millions of objects the SDKs and moto import (pulumi_aws,
    # botocore's models): about a fifth of a prod preview. What exists now lives for the whole run, so
    # it leaves the collector's view, and young objects are collected in larger batches. Measured on
    # `berth preview prod`: 18.2 s -> 13.4 s with (10 000, 10, 10), a further ~8 % with (50 000, 20, 20), peak RSS
    # unchanged (benchmarks/README.md).
    gc.freeze()
    old_thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    ctx = Ctx(cloud=cloud, stack=stack, default_region=region,
              zone_ids=parse_zone_ids(zone_ids if zone_ids is not None else os.environ.get(ZONE_IDS_ENV)))
    # Account prerequisites the stack does not own (its public DNS zone), as a real account has them.
    if prior is None:
        seed_zones(ctx, cfg)
    mocks = CloudMocks(ctx, prior)
    monitor = _make_monitor(mocks, ctx)
    set_all_config(_runtime_config(cfg), [])
    mocks_mod = _import_pulumi()
    project = project_name(repo)
    mocks_mod.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)  # type: ignore[arg-type]
    rt_settings.SETTINGS.root_directory = str(repo)

    sys.path.insert(0, str(repo))
    old_cwd = os.getcwd()
    os.chdir(repo)
    error: BaseException | None = None
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(repo / "__main__.py"), run_name="__main__")))
    except BaseException as exc:
        error = exc
    finally:
        os.chdir(old_cwd)
        gc.set_threshold(*old_thresholds)

    outputs: dict[str, Any] = {}
    root = rt_settings.get_root_resource()
    if error is None and root is not None:
        for name, value in getattr(root, "outputs", {}).items():
            out = pulumi.Output.from_input(value)
            resolved = _sync_await(out.future())
            outputs[name] = SECRET if _sync_await(out.is_secret()) else resolved
    stack_urn = next((n.urn for n in monitor.nodes if n.type == "pulumi:pulumi:Stack"), None)
    if stack_urn:
        monitor.outputs.setdefault(stack_urn, outputs)
    graph = Graph(
        stack=stack,
        project=project,
        nodes=list(monitor.nodes),
        outputs=outputs,
        config=cfg,
        region=region,
        duration_seconds=time.perf_counter() - started,
    )
    for n in graph.nodes:
        if n.is_component and n.urn in monitor.outputs:
            n.outputs = monitor.outputs[n.urn]
    if error is not None:
        raise ProgramError(_explain(error), graph) from error
    return RunResult(graph=graph, cloud=cloud, state=dict(ctx.state), inputs=mocks.inputs)


def _explain(error: BaseException) -> str:
    import pulumi

    if isinstance(error, pulumi.RunError | ProgramError):
        return str(error)
    cause = error
    while cause.__cause__ is not None and not isinstance(cause, pulumi.RunError | ProgramError):
        cause = cause.__cause__
    if isinstance(cause, pulumi.RunError | ProgramError):
        return str(cause)
    return f"{type(error).__name__}: {error}"


def run_isolated(
    stack: str,
    *,
    endpoint_url: str,
    overrides: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    repo: Path = REPO,
    timeout: float = 300,
    keep: Path | None = None,
    prior: Path | None = None,
    zone_ids: Mapping[str, str] | None = None,
) -> Graph:
    """Run one stack in a fresh child process (forked warm: embedded_cloud/forks.py) against the
    moto server at endpoint_url. Raises ProgramError (with the partial graph) when the program fails.

    `keep`: also write the run's unredacted state and inputs there as JSON (`read_kept`); `prior`:
    such a file (its state refreshed) to plan a second `up` against (CloudMocks); `zone_ids`: see run_stack."""
    zones = parse_zone_ids(zone_ids if zone_ids is not None else os.environ.get(ZONE_IDS_ENV))
    graph, error = spawn_run(stack, endpoint_url=endpoint_url, overrides=overrides, config=config, repo=repo,
                             timeout=timeout, keep=keep, prior=prior, zone_ids=zones)
    if error is not None:
        raise ProgramError(error, graph)
    assert graph is not None
    return graph


def write_kept(path: Path, state: Mapping[str, tuple[str, dict[str, Any]]],
               inputs: Mapping[str, dict[str, Any]]) -> None:
    """A run's unredacted state (urn -> [id, outputs]) and inputs, as JSON (assets as their text)."""
    path.write_text(json.dumps({"state": {u: [i, o] for u, (i, o) in state.items()}, "inputs": inputs},
                               default=lambda v: describe_asset(v, by_content=True)))


def read_kept(path: Path) -> Kept:
    """What write_kept wrote: (state, inputs)."""
    data = json.loads(path.read_text())
    return {u: (i, o) for u, (i, o) in data["state"].items()}, data["inputs"]
