"""Operations room: promote a release from staging to prod.

Promotion copies the PROMOTABLE keys -- the app image digest, the app's behaviour
settings, the engines' minor versions -- from the source stack's config to the target's,
and nothing else: sizes, counts, domains, regions and every other key stay the target's
own. Before a single byte is written, gates must pass, each refusing with what failed:

1. `digest`    -- no mutable tag reaches prod: the image is pinned `repo@sha256:<64 hex>`;
2. `versions`  -- no engine version goes backwards (dotted versions compared numerically),
                  and no major upgrade hides in a promotion;
3. `config`    -- the target's config with the new values still validates;
4. `running`   -- the source stack actually runs that image (its `appImage` output; with
                  `offline`, the source is deployed in the embedded cloud and its graph read);
5. `health`    -- the source's `/api/health/ready` answers 200 (`skip_health` offline);
6. `load`      -- a bounded load against the source meets the target's SLOs (`berth:slo`, see
                  berth.operations.loadtest; `skip_load` offline);
7. `policy`    -- the target with the new values passes the policy pack (offline preview).

The target file is rewritten with ruamel.yaml round-trip (comments, order and quoting
kept), the unified diff is shown and the user asked (`yes` skips); `apply` then deploys
the target for real through berth.operations.deploy (whose preflight runs before anything else).
"""

from __future__ import annotations

import difflib
import io
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import ScalarString

from berth.operations import deploy, loadtest
from berth.operations.errors import Confirm, OpsError, Printer
from berth.operations.policy import Evaluate, default_evaluator, describe_violation
from berth.operations.stackfile import REPO, StackFile, round_trip_yaml
from embedded_cloud import EmbeddedCloud, ProgramError, run_isolated
from embedded_cloud.graph import Graph
from stacks.config import IMAGE_KEYS, PROMOTABLE, VERSION_KEYS, Settings, is_digest

HEALTH_PATH = "/api/health/ready"
# Stack outputs that may carry the source's public domain, most specific first.
DOMAIN_OUTPUTS: tuple[str, ...] = ("appUrl", "cdnUrl", "cdnDomainName", "cdnDomain", "domainName")


class PromotionRefused(OpsError):
    """A gate failed; nothing was written. `gates` names the failed gates."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.gates = [g for g, _ in failures]
        self.failures = failures
        lines = "\n".join(f"  - {g}: {msg}" for g, msg in failures)
        super().__init__(f"promotion refused, nothing was written:\n{lines}")


@dataclass
class Change:
    key: str
    old: Any
    new: Any


@dataclass
class Promotion:
    """A computed promotion: the changes, the source's file, and the target's before and after."""

    source: StackFile
    target: StackFile
    promoted: StackFile  # the target's file with the promoted values (not written until the gates pass)
    changes: list[Change]
    written: bool = False
    applied: bool = False
    gates_passed: list[str] = field(default_factory=list)

    @property
    def src(self) -> str:
        return self.source.name

    @property
    def dst(self) -> str:
        return self.target.name

    @property
    def path(self) -> Path:
        return self.target.path

    @property
    def old_text(self) -> str:
        return self.target.text

    @property
    def new_text(self) -> str:
        return self.promoted.text

    @property
    def src_config(self) -> dict[str, Any]:
        return self.source.config

    @property
    def new_config(self) -> dict[str, Any]:
        return self.promoted.config

    @property
    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.old_text.splitlines(keepends=True),
                self.new_text.splitlines(keepends=True),
                fromfile=f"{self.path.name} (now)",
                tofile=f"{self.path.name} (promoted from {self.src})",
            )
        )

    @property
    def image(self) -> str | None:
        return next((c.new for c in self.changes if c.key in IMAGE_KEYS), None)


# ---- keys -------------------------------------------------------------------------------
def _split(key: str) -> tuple[str, list[str]]:
    ns, _, path = key.partition(".")
    return ns, path.split(".") if path else []


def _raw(config: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    ns, path = _split(key)
    cur: Any = config.get(ns)
    if cur is None:
        return False, None
    for part in path:
        if not isinstance(cur, Mapping) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def _effective(settings: Settings, key: str) -> Any:
    """The validated value a stack runs with (the model's default when the file is silent)."""
    ns, path = _split(key)
    obj: Any = getattr(settings, ns.split(":", 1)[1])
    for part in path:
        name = next((n for n, f in type(obj).model_fields.items() if (f.alias or n) == part), part)
        obj = getattr(obj, name)
    return obj


def version_tuple(version: str) -> tuple[int, ...]:
    """'16.10' -> (16, 10): dotted versions compare numerically, never as strings."""
    try:
        return tuple(int(p) for p in str(version).split("."))
    except ValueError:
        raise OpsError(f"not a dotted numeric version: {version!r}") from None


# ---- the file -----------------------------------------------------------------------------
def _styled(old: Any, new: Any) -> Any:
    # Keep the target's quoting: engineVersion: "16.4" stays a quoted string.
    if isinstance(old, ScalarString) and isinstance(new, str):
        return type(old)(new)
    return new


def rewrite(text: str, values: Mapping[str, Any]) -> str:
    """Set dotted keys in a Pulumi.<stack>.yaml text, keeping comments, order and quoting."""
    y = round_trip_yaml()
    doc = y.load(text)
    cfg = doc["config"]
    for key, value in values.items():
        ns, path = _split(key)
        if ns not in cfg or cfg[ns] is None:
            cfg[ns] = CommentedMap()
        cur = cfg[ns]
        for part in path[:-1]:
            if part not in cur:
                cur[part] = CommentedMap()
            cur = cur[part]
        leaf = path[-1]
        cur[leaf] = _styled(cur.get(leaf), value)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def plan(source: StackFile, target: StackFile) -> Promotion:
    """Compute what promoting source -> target changes in target's file (no gate, nothing written)."""
    changes: list[Change] = []
    values: dict[str, Any] = {}
    for key in PROMOTABLE:
        new = _effective(source.settings, key)
        old = _effective(target.settings, key)
        if new == old:
            continue
        present, raw = _raw(source.config, key)
        values[key] = raw if present else new
        changes.append(Change(key, old, values[key]))
    promoted = target.with_text(rewrite(target.text, values)) if values else target
    return Promotion(source, target, promoted, changes)


# ---- gates --------------------------------------------------------------------------------
def static_gates(p: Promotion) -> list[tuple[str, str]]:
    """The gates that need no deployment: digest pinning, version order, config validity."""
    failures: list[tuple[str, str]] = []
    src_file = f"Pulumi.{p.src}.yaml"
    for key in IMAGE_KEYS:
        ok, image = _raw(p.new_config, key)
        if ok and not is_digest(str(image)):
            failures.append((
                "digest",
                f"{key} = {image!r} (from {src_file}) is a mutable tag: {p.dst} only takes images pinned "
                f"by digest (repo/name@sha256:<64 hex>); pin {p.src} to the digest it runs, then promote",
            ))
    for c in p.changes:
        if c.key not in VERSION_KEYS:
            continue
        old_v, new_v = version_tuple(c.old), version_tuple(c.new)
        if new_v < old_v:
            failures.append((
                "versions",
                f"{c.key} would go backwards: {p.dst} runs {c.old}, {p.src} has {c.new} "
                f"(engines cannot be downgraded in place)",
            ))
        elif new_v[:1] != old_v[:1]:
            failures.append((
                "versions",
                f"{c.key} {c.old} -> {c.new} is a major-version upgrade: that is a planned change to "
                f"Pulumi.{p.dst}.yaml, not a promotion",
            ))
    try:
        p.promoted.settings  # noqa: B018 - parsed (once) for its refusal
    except OpsError as exc:
        failures.append(("config", f"{p.dst} with the promoted values is invalid: {exc.message}"))
    return failures


def running_image(graph_or_outputs: Graph | Mapping[str, Any]) -> str | None:
    """The app image a deployed stack runs: its `appImage` output, else its app Deployment's."""
    outputs = graph_or_outputs.outputs if isinstance(graph_or_outputs, Graph) else graph_or_outputs
    if isinstance(outputs.get("appImage"), str):
        return outputs["appImage"]
    if isinstance(graph_or_outputs, Graph):
        for node in graph_or_outputs.by_type("kubernetes:apps/v1:Deployment"):
            comp = graph_or_outputs.component_of(node)
            if comp is None or not comp.type.endswith(":App"):
                continue
            spec = node.inputs.get("spec") or {}
            containers = (((spec.get("template") or {}).get("spec") or {}).get("containers")) or []
            if containers:
                return containers[0].get("image")
    return None


def gate_running(p: Promotion, source: Graph | Mapping[str, Any]) -> tuple[str, str] | None:
    image = p.image or _raw(p.src_config, IMAGE_KEYS[0])[1]
    runs = running_image(source)
    if runs is None:
        return ("running", f"cannot tell which image {p.src} runs: it exports no appImage output "
                           f"and has no app Deployment")
    if runs != image:
        return ("running", f"{p.src} runs {runs}, not {image} (its config is ahead of its deployment: "
                           f"deploy {p.src} first, let it soak, then promote)")
    return None


def health_url(outputs: Mapping[str, Any]) -> str | None:
    """`https://<source domain>/api/health/ready` from a stack's outputs."""
    for key in DOMAIN_OUTPUTS:
        value = outputs.get(key)
        if isinstance(value, str) and value:
            base = value if "://" in value else f"https://{value}"
            return base.rstrip("/") + HEALTH_PATH
    return None


def _outputs(state: Graph | Mapping[str, Any]) -> Mapping[str, Any]:
    return state.outputs if isinstance(state, Graph) else state


def gate_health(url: str | None, src: str, timeout: float = 10) -> tuple[str, str] | None:
    if url is None:
        return ("health", f"{src} exports no public domain ({', '.join(DOMAIN_OUTPUTS)}); cannot reach "
                          f"{HEALTH_PATH} (--skip-health when checking offline)")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return ("health", f"{url} is unreachable ({getattr(exc, 'reason', exc)}); --skip-health when "
                          f"checking offline")
    if status != 200:
        return ("health", f"{url} answered {status}, not 200: {src} is not ready")
    return None


def load_base(outputs: Mapping[str, Any]) -> str | None:
    """`https://<source domain>` from a stack's outputs (the load gate adds its SLO path)."""
    url = health_url(outputs)
    return url.removesuffix(HEALTH_PATH) if url else None


def gate_load(url: str | None, src: str, dst_settings: Settings, key: str | None = None,
              reads_per_minute: int | None = None) -> tuple[str, str] | None:
    """The release meets the target's SLOs under a bounded load on the source (berth.operations.loadtest):
    the SLO's path (the readiness probe) at the SLO's rate and, given a reader `key`, an authenticated
    read of the API (a page of shipments) paced within that key's read limit (`reads_per_minute`,
    the source's app.rateLimitReadsPerMinute)."""
    if url is None:
        return ("load", f"{src} exports no public domain ({', '.join(DOMAIN_OUTPUTS)}); nothing to load "
                        f"(--skip-load when checking offline)")
    phases = [(dst_settings.slo, None)]
    if key is not None:
        api = loadtest.authenticated_read(dst_settings.slo, reads_per_minute or dst_settings.app.rate_limit_reads_per_minute)
        phases.append((api, {"Authorization": f"Bearer {key}"}))
    for slo, headers in phases:
        try:
            verdict = loadtest.gate(url, slo, headers=headers)
        except OpsError as exc:
            return ("load", f"{exc.message} (--skip-load when checking offline)")
        if not verdict.ok:
            return ("load", f"{src} misses {dst_settings.stack}'s SLOs under load on {slo.path}: "
                            f"{'; '.join(verdict.misses)} [{verdict.summary()}]")
    return None


def gate_policy(graph: Graph, dst: str, evaluate: Evaluate) -> tuple[str, str] | None:
    report = evaluate(graph)
    failures = list(getattr(report, "mandatory_failures", []) or [])
    if failures:
        shown = "; ".join(describe_violation(v) for v in failures[:10])
        more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
        return ("policy", f"{dst} with the promoted values fails {len(failures)} mandatory "
                          f"polic{'y' if len(failures) == 1 else 'ies'}: {shown}{more}")
    return None


def deploy_offline(stack: str, config: Mapping[str, Any]) -> Graph:
    """Run a stack in a fresh embedded cloud of its own and return its graph."""
    with EmbeddedCloud.serve() as cloud:
        return run_isolated(stack, endpoint_url=cloud.endpoint_url or "", config=config)


# ---- the operation ------------------------------------------------------------------------
def promote(
    src: str = "staging",
    dst: str = "prod",
    *,
    config_dir: Path = REPO,
    offline: bool = False,
    skip_health: bool = False,
    yes: bool = False,
    apply: bool = False,
    confirm: Confirm | None = None,
    echo: Printer = print,
    show_diff: Callable[[str], None] | None = None,
    evaluate: Evaluate | None = None,
    source: Graph | Mapping[str, Any] | None = None,
    url: str | None = None,
    skip_load: bool = False,
    load_url: str | None = None,
    load_key: str | None = None,
) -> Promotion:
    """Promote src's promotable keys into dst's config file, behind every gate.

    `source` is an already deployed source (an offline Graph, or real outputs) to read
    instead of deploying/reading it here; `url` overrides the health URL, `load_url` the
    base URL the load gate drives, `load_key` a reader key it loads the API with (not only the
    readiness probe); `evaluate` the policy evaluator. Raises PromotionRefused (nothing written) when a gate fails.
    """
    src_file, dst_file = StackFile.read(src, config_dir), StackFile.read(dst, config_dir)
    if apply:
        # A promotion that is to be applied must be able to apply: check before any work.
        deploy.require(dst_file, f"promote {src} to {dst} and apply it", real_config=True)
    if not offline and source is None:
        # What src runs comes from its Pulumi backend: the CLI must be there before any work.
        deploy.require(src_file, f"read what {src} runs (or use --offline)", need_aws=False)
    p = plan(src_file, dst_file)
    if not p.changes:
        echo(f"{dst} already has {src}'s promotable values: nothing to promote")
        return p
    failures = static_gates(p)
    if failures:
        raise PromotionRefused(failures)
    p.gates_passed += ["digest", "versions", "config"]
    dst_settings = p.promoted.settings

    def load_gate(state: Graph | Mapping[str, Any]) -> tuple[str, str] | None:
        return None if skip_load else gate_load(load_url or load_base(_outputs(state)), src, dst_settings,
                                                key=load_key,
                                                reads_per_minute=src_file.settings.app.rate_limit_reads_per_minute)

    evaluate = evaluate or default_evaluator()
    if source is not None:
        # The source is known already: its gates are cheap, the target's offline preview is not.
        early = [f for f in (gate_running(p, source),
                             None if skip_health else gate_health(url or health_url(_outputs(source)), src))
                 if f is not None]
        # Load only a source that runs the release and is healthy: otherwise the figures mean nothing.
        if not early and (f := load_gate(source)) is not None:
            early.append(f)
        if early:
            raise PromotionRefused(early)
    with ThreadPoolExecutor(max_workers=2) as pool:
        if source is not None:
            src_future = None
        elif offline:
            src_future = pool.submit(deploy_offline, src, p.src_config)
        else:
            src_future = pool.submit(deploy.stack_outputs, src_file)
        dst_future = pool.submit(deploy_offline, dst, p.new_config)
        try:
            src_state = source if source is not None else src_future.result()  # type: ignore[union-attr]
        except ProgramError as exc:
            raise PromotionRefused([("running", f"{src} does not deploy offline: {exc}")]) from None
        try:
            dst_graph: Graph | None = dst_future.result()
            dst_error = None
        except ProgramError as exc:
            dst_graph, dst_error = None, str(exc)

    failures = []
    if (f := gate_running(p, src_state)) is not None:
        failures.append(f)
    if not skip_health and (f := gate_health(url or health_url(_outputs(src_state)), src)) is not None:
        failures.append(f)
    if not failures and source is None and (f := load_gate(src_state)) is not None:
        failures.append(f)
    if dst_graph is None:
        failures.append(("policy", f"{dst} with the promoted values does not deploy offline: {dst_error}"))
    elif (f := gate_policy(dst_graph, dst, evaluate)) is not None:
        failures.append(f)
    if failures:
        raise PromotionRefused(failures)
    p.gates_passed += ["running", *([] if skip_health else ["health"]), *([] if skip_load else ["load"]), "policy"]

    (show_diff or echo)(p.diff)
    if not yes and (confirm is None or not confirm(f"Write {p.path.name}?")):
        raise OpsError(f"not promoted: {p.path.name} was left as it is (pass --yes to skip the question)")
    p.path.write_text(p.new_text)
    p.written = True
    echo(f"wrote {p.path}: {len(p.changes)} promotable key(s) from {src}")
    if apply:
        deploy.up(p.promoted, yes=yes, confirm=confirm, echo=echo)
        p.applied = True
    return p
