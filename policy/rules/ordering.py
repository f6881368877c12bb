"""Policy room: first-deploy ordering of Kubernetes workloads against what they connect to.

A workload's pods start as soon as Kubernetes has the object; nothing waits for the endpoints
they open connections to. pulumi-kubernetes reports a Deployment or Job created only when its
pods are ready or done, and the AWS provider reports a database created only when it is
available, so the one way to make a pod start after its backends is a dependency path in the
graph. This rule finds, for every workload, the endpoints it is configured with -- through its
own spec and the ConfigMaps and Secrets it reads, by property dependency (the value was computed
from the endpoint's outputs) or by value (the endpoint's host name appears in it) -- and
requires each backend to be upstream of the workload:

- an RDS instance or an ElastiCache replication group: that resource;
- a Kubernetes Service: the workloads behind it (its selector), since a Service exists at once
  and its endpoints only when their pods are ready.

A Job that starts too early fails its backoff limit, and the Deployment waiting on it never rolls.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policy.core import Ctx, Finding, Resource, StackView, get, is_unknown, items, stack_rule
from policy.rules.kubernetes import DAEMONSET, DEPLOYMENT, JOB, STATEFULSET, pod_spec

DB_INSTANCE = "aws:rds/instance:Instance"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
WORKLOAD_TYPES = (DEPLOYMENT, STATEFULSET, DAEMONSET, JOB)
_HOST_KEYS = {
    DB_INSTANCE: ("address", "endpoint"),
    REPLICATION_GROUP: ("primaryEndpointAddress", "readerEndpointAddress", "configurationEndpointAddress"),
}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _namespace(r: Resource) -> Any:
    return r.prop("metadata", "namespace")


def _hosts(r: Resource) -> set[str]:
    """Host names a client would be configured with to reach `r`."""
    if r.type == SERVICE:
        name, ns = r.prop("metadata", "name"), _namespace(r)
        if not isinstance(name, str) or not isinstance(ns, str) or is_unknown(name) or is_unknown(ns):
            return set()
        return {f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"}
    out = set()
    for key in _HOST_KEYS.get(r.type, ()):
        v = r.prop(key)
        if isinstance(v, str) and v and not is_unknown(v):
            out.add(v.rsplit(":", 1)[0] if key == "endpoint" else v)
    return out


def _reads(workload: Resource, source: Resource) -> bool:
    """Whether the workload's pods read a ConfigMap or Secret (by dependency or by name)."""
    if workload.depends_on(source, "spec"):
        return True
    name = source.prop("metadata", "name")
    if not isinstance(name, str) or _namespace(source) != _namespace(workload):
        return False
    kind = "configMap" if source.type == CONFIG_MAP else "secret"
    spec = pod_spec(workload.props)
    for v in items(get(spec, "volumes")):
        if get(v, kind, "name" if kind == "configMap" else "secretName") == name:
            return True
        if any(get(src, kind, "name") == name for src in items(get(v, "projected", "sources"))):
            return True
    for key in ("containers", "initContainers"):
        for c in items(get(spec, key)):
            if any(get(ef, f"{kind}Ref", "name") == name for ef in items(get(c, "envFrom"))):
                return True
            if any(get(e, "valueFrom", f"{kind}KeyRef", "name") == name for e in items(get(c, "env"))):
                return True
    return False


def _selects(service: Resource, workload: Resource) -> bool:
    selector = service.prop("spec", "selector")
    labels = workload.prop("spec", "template", "metadata", "labels")
    if not isinstance(selector, Mapping) or not selector or not isinstance(labels, Mapping):
        return False
    known = [service.prop("metadata", "namespace"), workload.prop("metadata", "namespace"), *selector.values(),
             *labels.values()]
    if any(is_unknown(v) for v in known):
        return False  # a preview cannot tell yet what the Service selects
    return _namespace(service) == _namespace(workload) and all(labels.get(k) == v for k, v in selector.items())


class _Graph:
    def __init__(self, stack: StackView) -> None:
        self.stack = stack
        self.by_urn = {r.urn: r for r in stack.resources}
        self._up: dict[str, set[str]] = {}

    def upstream(self, r: Resource) -> set[str]:
        """Every URN `r` waits for, directly or through others."""
        if r.urn in self._up:
            return self._up[r.urn]
        seen: set[str] = set()
        todo = [r.urn]
        while todo:
            cur = self.by_urn.get(todo.pop())
            if cur is None:
                continue
            for dep in [*cur.dependencies, *(u for us in cur.property_dependencies.values() for u in us)]:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        self._up[r.urn] = seen
        return seen


def backends(stack: StackView, endpoint: Resource) -> list[Resource]:
    """What must be ready before a client of `endpoint` starts."""
    if endpoint.type == SERVICE:
        return [w for w in stack.of_type(*WORKLOAD_TYPES) if w.type != JOB and _selects(endpoint, w)]
    return [endpoint]


def connections(stack: StackView, workload: Resource) -> list[tuple[Resource, Resource]]:
    """(endpoint, where the workload is configured with it) for everything the workload connects to."""
    sources = [workload, *(c for c in stack.of_type(CONFIG_MAP, SECRET) if _reads(workload, c))]
    endpoints = stack.of_type(DB_INSTANCE, REPLICATION_GROUP, SERVICE)
    found: list[tuple[Resource, Resource]] = []
    for e in endpoints:
        hosts = _hosts(e)
        for src in sources:
            by_dependency = src is not workload and src.depends_on(e)
            by_value = bool(hosts) and any(h in s for s in _strings(src.props) for h in hosts)
            if by_dependency or by_value:
                found.append((e, src))
                break
    return found


def _label(r: Resource) -> str:
    return f"{r.type.rsplit(':', 1)[-1]} '{r.name}'"


@stack_rule(
    "stack-workload-ordering",
    types=[*WORKLOAD_TYPES, SERVICE, DB_INSTANCE, REPLICATION_GROUP, CONFIG_MAP, SECRET],
    description="Every Kubernetes workload is ordered, through dependencies, after everything that serves an "
    "endpoint it connects to (database instances, the cache, and the workloads behind a Service it uses), so "
    "its first pods never start against a backend that does not exist yet.",
    severity="high",
    remediation="Add the backend (for a Service: the Deployment behind it, e.g. PgBouncer's) to the workload's "
    "depends_on; pulumi-kubernetes then creates the workload only once the backend is ready.",
)
def workload_ordering(stack: StackView, ctx: Ctx) -> list[Finding]:
    g = _Graph(stack)
    out: list[Finding] = []
    for w in stack.of_type(*WORKLOAD_TYPES):
        upstream = g.upstream(w)
        for endpoint, via in connections(stack, w):
            for b in backends(stack, endpoint):
                if b.urn == w.urn or b.urn in upstream:
                    continue
                how = "" if via is w else f" (through {_label(via)})"
                what = f" behind {_label(endpoint)}" if b is not endpoint else ""
                out.append((w.urn, f"{_label(w)} connects to {_label(endpoint)}{how} but is not ordered after "
                                   f"{_label(b)}{what}: on a first deploy its pods start before that backend "
                                   f"exists"))
    return out


def _skips_await(r: Resource) -> bool:
    ann = r.prop("metadata", "annotations")
    return isinstance(ann, Mapping) and str(ann.get("pulumi.com/skipAwait", "")).lower() == "true"


@stack_rule(
    "stack-service-after-its-pods",
    types=[SERVICE, DEPLOYMENT, STATEFULSET, DAEMONSET],
    description="Every Kubernetes Service with a selector is created after the workloads it selects: "
    "pulumi-kubernetes waits at most 10 minutes for a Service's endpoints to target ready pods (and for a "
    "LoadBalancer's address), so a Service created before a slow backend fails the deploy.",
    severity="high",
    remediation="Add the selected Deployment (or StatefulSet) to the Service's depends_on.",
)
def service_after_its_pods(stack: StackView, ctx: Ctx) -> list[Finding]:
    g = _Graph(stack)
    out: list[Finding] = []
    for svc in stack.of_type(SERVICE):
        if svc.prop("spec", "type") == "ExternalName" or _skips_await(svc):
            continue
        upstream = g.upstream(svc)
        for w in backends(stack, svc):
            if w.urn not in upstream:
                out.append((svc.urn, f"{_label(svc)} selects the pods of {_label(w)} but is not ordered after it: "
                                     f"its await can time out before they are ready"))
    return out
