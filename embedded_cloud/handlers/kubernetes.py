"""Embedded cloud room: Kubernetes objects, recorded as the API server would return them.

There is no cluster behind them. Each object keeps its inputs (the manifest) and gets
what the provider and the API server fill in: `metadata.name` auto-named as
pulumi-kubernetes does (`<logical name>-<8 chars>`) when the program gives none, and,
for a Service of type LoadBalancer, the hostname the cloud load balancer would publish in
`status.loadBalancer.ingress` (an NLB-style `<name>-<hash>.elb.<region>.amazonaws.com`).

Lazy pulumi/moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from embedded_cloud.handlers import RESOURCES, Ctx, Out, Res, short_hash


def _tokens() -> list[str]:
    """Every Kubernetes resource type token the installed pulumi-kubernetes SDK knows."""
    import pulumi_kubernetes

    src = (Path(pulumi_kubernetes.__file__).parent / "__init__.py").read_text()
    return sorted(set(re.findall(r'"(kubernetes:[\w.\-]+/[\w.\-]+:\w+)"', src)))


def load_balancer_hostname(name: str, urn: str, region: str) -> str:
    """An NLB-style DNS name: 32 characters of name, a hash, the region's ELB domain."""
    base = re.sub(r"[^a-z0-9-]", "-", name.lower())[:32].strip("-")
    return f"{base}-{short_hash(urn, n=16)}.elb.{region}.amazonaws.com"


def k8s_object(ctx: Ctx, r: Res) -> Out:
    meta = copy.deepcopy(r.inputs.get("metadata") or {})
    if not meta.get("name"):
        meta["name"] = f"{r.name}-{short_hash(r.urn, n=8)}".lower()[:253]
    meta.setdefault("uid", short_hash(r.urn, n=32))
    outputs: dict[str, Any] = {"metadata": meta}
    if r.inputs.get("kind") == "Service" and (r.inputs.get("spec") or {}).get("type") == "LoadBalancer":
        host = load_balancer_hostname(meta["name"], r.urn, r.region)
        outputs["status"] = {"loadBalancer": {"ingress": [{"hostname": host}]}}
    ns = meta.get("namespace")
    return (f"{ns}/{meta['name']}" if ns else meta["name"]), outputs


for _token in _tokens():
    RESOURCES.setdefault(_token, k8s_object)
