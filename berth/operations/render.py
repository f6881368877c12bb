"""Operations room: what `berth preview` writes and `berth diff` compares.

Pure functions over a recorded `Graph`: the Mermaid picture of the architecture, the Kubernetes
manifests, the files of build/STACK/, and the environment-to-environment comparison. (How they are
printed, the tree and the per-type table, is the commands' business: berth/commands/views.py.)
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from berth.operations import quotas
from berth.operations.timeline import gantt
from embedded_cloud.graph import SECRET, Graph, Node, strip_ids

# ---- Mermaid ----------------------------------------------------------------------------

_FRIENDLY = {
    "aws:rds/instance:Instance": "RDS instance",
    "aws:elasticache/replicationGroup:ReplicationGroup": "Redis replication group",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/natGateway:NatGateway": "NAT gateway",
    "aws:eks/cluster:Cluster": "EKS cluster",
    "aws:eks/nodeGroup:NodeGroup": "node group",
    "aws:cloudfront/distribution:Distribution": "CloudFront distribution",
    "aws:s3/bucket:Bucket": "S3 bucket",
    "aws:s3/bucketV2:BucketV2": "S3 bucket",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "alarm",
    "aws:backup/vault:Vault": "backup vault",
    "aws:backup/plan:Plan": "backup plan",
    "kubernetes:apps/v1:Deployment": "Deployment",
    "kubernetes:core/v1:Service": "Service",
    "aws:wafv2/webAcl:WebAcl": "WAF web ACL",
    "aws:kms/key:Key": "KMS key",
}


def _mid(urn: str) -> str:
    """A Mermaid node id unique per resource: its type's last segment plus its logical name."""
    type_ = urn.split("::")[2].split("$")[-1].split(":")[-1]
    return re.sub(r"[^A-Za-z0-9]", "_", f"{type_}_{urn.split('::')[-1]}")


def mermaid(graph: Graph) -> str:
    """A flowchart of the components and what flows between them, with key resource counts."""
    def outermost(n: Node) -> Node | None:
        # A component inside another (the Cluster's autoscaler) is drawn as part of it.
        found = [a for a in [n, *graph.ancestors(n)] if a.type.startswith("berth:")]
        return found[-1] if found else None

    comps = [n for n in graph.nodes if n.type.startswith("berth:") and outermost(n) is n]
    owner: dict[str, str] = {}
    for n in graph.nodes:
        c = outermost(n)
        if c is not None:
            owner[n.urn] = c.urn
    lines = ["flowchart LR", "  users((Users)) -->|HTTPS| " + _first(comps, "berth:cdn:", "users_end")]
    for c in comps:
        counts: Counter[str] = Counter(d.type for d in graph.descendants(c.urn) if d.custom)
        regions = sorted({d.region for d in graph.descendants(c.urn) if d.region})
        parts = [f"{v} {_FRIENDLY[k]}{'s' if v > 1 else ''}" for k, v in counts.most_common() if k in _FRIENDLY][:4]
        label = f"<b>{c.type.split(':')[-1]}</b><br/>{c.name}"
        if parts:
            label += "<br/>" + "<br/>".join(parts)
        if regions:
            label += "<br/><i>" + ", ".join(regions) + "</i>"
        lines.append(f'  {_mid(c.urn)}["{label}"]')
    edges: set[tuple[str, str]] = set()
    for n in graph.nodes:
        dst = owner.get(n.urn)
        deps = set(n.dependencies)
        for urns in n.property_dependencies.values():
            deps.update(urns)
        for d in deps:
            src = owner.get(d)
            if src and dst and src != dst and not _is_ancestor(graph, src, dst):
                edges.add((src, dst))
    for src, dst in sorted(edges):
        lines.append(f"  {_mid(src)} --> {_mid(dst)}")
    return "\n".join(lines) + "\n"


def _first(comps: list[Node], prefix: str, fallback: str) -> str:
    found = next((c for c in comps if c.type.startswith(prefix)), None)
    return _mid(found.urn) if found else fallback


def _is_ancestor(graph: Graph, a: str, b: str) -> bool:
    node = graph.node(b)
    return any(x.urn == a for x in graph.ancestors(node))


# ---- Kubernetes manifests ---------------------------------------------------------------


def manifests(graph: Graph) -> dict[str, dict[str, Any]]:
    """Every Kubernetes object of the graph as the manifest Pulumi would apply, by file name."""
    out: dict[str, dict[str, Any]] = {}
    for n in graph.nodes:
        if n.package != "kubernetes" or not n.custom or n.type.startswith("pulumi:providers"):
            continue
        api_version = n.inputs.get("apiVersion")
        kind = n.inputs.get("kind")
        if not api_version or not kind:
            continue
        obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
        meta = dict(n.outputs.get("metadata") or n.inputs.get("metadata") or {})
        obj["metadata"] = meta
        for key, value in n.inputs.items():
            if key not in ("apiVersion", "kind", "metadata") and value is not None:
                if value == SECRET and kind == "Secret" and key in ("data", "stringData"):
                    # The payload stays in the encrypted state; the manifest keeps a valid shape.
                    value = {"redacted": SECRET}
                obj[key] = value
        name = meta.get("name") or n.name
        ns = meta.get("namespace")
        fname = f"{kind.lower()}-{ns + '-' if ns else ''}{name}.yaml"
        out[fname] = obj
    return out


def write_build(graph: Graph, out_dir: Path, policy: dict[str, Any] | None = None) -> list[Path]:
    """Write graph.json, graph.mmd, timeline.mmd, manifests/*.yaml, quotas.json (and policy.json) under out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    graph.write(out_dir / "graph.json")
    written.append(out_dir / "graph.json")
    (out_dir / "graph.mmd").write_text(mermaid(graph))
    written.append(out_dir / "graph.mmd")
    (out_dir / "timeline.mmd").write_text(gantt(graph))
    written.append(out_dir / "timeline.mmd")
    mdir = out_dir / "manifests"
    mdir.mkdir(exist_ok=True)
    for old in mdir.glob("*.yaml"):
        old.unlink()
    for fname, obj in manifests(graph).items():
        (mdir / fname).write_text(yaml.safe_dump(obj, sort_keys=False))
        written.append(mdir / fname)
    written.append(quotas.write(graph, out_dir))
    if policy is not None:
        written.append(write_policy(out_dir, policy))
    return written


def write_policy(out_dir: Path, policy: dict[str, Any]) -> Path:
    """out_dir/policy.json: the policy pack's report (`berth preview` and `berth policy`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "policy.json"
    path.write_text(json.dumps(policy, indent=1, default=str))
    return path


# ---- diff between environments ----------------------------------------------------------


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config as dotted keys: berth:database.replicas -> 2."""
    out: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = value
    return out


def _neutral(stack: str, text: str) -> str:
    """The stack's name as `<stack>` wherever it stands as a name of its own: in URNs
    (urn:pulumi:staging::...), physical names (berth-staging-vpc), paths (/berth/staging) and
    values (platform-staging@..., Environment=staging); not inside a longer word (prod in product)."""
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(stack)}(?![A-Za-z0-9])", "<stack>", text)


def _unpack(value: Any) -> Any:
    """JSON documents held in string inputs (policies, container definitions) as structures, so they
    compare statement by statement rather than as one long string."""
    if isinstance(value, dict):
        return {k: _unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        return _unpack(parsed) if isinstance(parsed, dict | list) else value
    return value


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a nested value with its path: policy.Statement[0].Principal.AWS -> ..."""
    out: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for k, v in value.items():
            out.update(leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            out.update(leaves(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = value
    return out


# What a run picks at random: UUIDs (with a secret's 6-letter suffix), auto-name suffixes
# (berth-staging-config-f102001a, berth-staging-nodes-bd6150d), load balancer hostnames: hex runs
# after a hyphen. (Digests follow a colon and stay.)
_RANDOM = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-[A-Za-z]{6}(?![0-9A-Za-z]))?"
    r"|(?<=-)(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,}(?![0-9A-Za-z])"
)


def _comparable(graph: Graph, value: Any) -> dict[str, Any]:
    text = _RANDOM.sub("<random>", _neutral(graph.stack, json.dumps(value, default=str)))
    return leaves(_unpack(json.loads(text)))


def _comparable_inputs(graph: Graph, node: Node) -> tuple[dict[str, Any], dict[str, Any]]:
    """A resource's inputs twice: with cloud-assigned values as references to their origin, and as
    given. A difference counts only when both differ: the same reference to another stack's own
    resource (its key's ARN) is no difference, and neither is the same value reached from another
    origin (the one account id)."""
    return _comparable(graph, strip_ids(node.inputs, graph)), _comparable(graph, node.inputs)


def excerpt(a: Any, b: Any, width: int = 100) -> tuple[str, str]:
    """Two long differing values cut to the part that differs, with a little context either side
    (… marks what was cut); short values whole."""
    ta = (a if isinstance(a, str) else json.dumps(a)).replace("\n", "\\n")
    tb = (b if isinstance(b, str) else json.dumps(b)).replace("\n", "\\n")
    if len(ta) <= width and len(tb) <= width:
        return ta, tb
    if not ta or not tb:  # one side only: its beginning
        return tuple(t if len(t) <= width else t[: width - 1] + "…" for t in (ta, tb))  # type: ignore[return-value]
    start = 0
    while start < min(len(ta), len(tb)) and ta[start] == tb[start]:
        start += 1
    end = 0
    while end < min(len(ta), len(tb)) - start and ta[-1 - end] == tb[-1 - end]:
        end += 1
    context = 12
    lo = max(0, start - context)

    def cut(t: str) -> str:
        hi = min(len(t), len(t) - end + context)
        piece = t[lo:hi]
        if len(piece) > width:
            piece = piece[: width - 1] + "…"
        return ("…" if lo > 0 else "") + piece + ("…" if hi < len(t) and not piece.endswith("…") else "")

    return cut(ta), cut(tb)


def diff_graphs(a: Graph, b: Graph) -> dict[str, Any]:
    """Config key by key; resources by type (counts); differing inputs by logical name. Both stacks'
    names read `<stack>` everywhere, so a reference that only names its own stack is no difference."""
    ca = flatten(json.loads(_neutral(a.stack, json.dumps(a.config, default=str))))
    cb = flatten(json.loads(_neutral(b.stack, json.dumps(b.config, default=str))))
    config = [
        {"key": k, a.stack: ca.get(k), b.stack: cb.get(k)}
        for k in sorted(set(ca) | set(cb))
        if ca.get(k) != cb.get(k)
    ]
    ta, tb = a.type_counts(), b.type_counts()
    types = [
        {"type": t, a.stack: ta.get(t, 0), b.stack: tb.get(t, 0)}
        for t in sorted(set(ta) | set(tb))
        if ta.get(t, 0) != tb.get(t, 0)
    ]
    na = {(_neutral(a.stack, n.name), n.type): n for n in a.nodes if n.custom}
    nb = {(_neutral(b.stack, n.name), n.type): n for n in b.nodes if n.custom}
    only_a = sorted(f"{t} {name}" for name, t in set(na) - set(nb))
    only_b = sorted(f"{t} {name}" for name, t in set(nb) - set(na))
    changed = []
    for key in sorted(set(na) & set(nb)):
        (fa, raw_a), (fb, raw_b) = _comparable_inputs(a, na[key]), _comparable_inputs(b, nb[key])
        diffs = [
            {"input": k, a.stack: fa.get(k), b.stack: fb.get(k)}
            for k in sorted(set(fa) | set(fb))
            if fa.get(k) != fb.get(k) and raw_a.get(k) != raw_b.get(k) and not k.startswith("tags")
        ]
        if diffs:
            changed.append({"name": key[0], "type": key[1], "inputs": diffs})
    only = {f"only_in_{a.stack}": only_a, f"only_in_{b.stack}": only_b} if a.stack != b.stack else {}
    return {
        "stacks": [a.stack, b.stack],
        "differs": bool(config or types or only_a or only_b or changed),
        "config": config,
        "types": types,
        **only,
        "changed": changed,
    }
