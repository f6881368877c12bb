"""Embedded cloud room: the recorded resource graph of one program run.

A `Graph` is what the offline runner hands back: every registered resource with its
type, logical name, URN, parent, dependencies, resource options, inputs, outputs,
provider and region. It is plain data (JSON round-trips) so the runner may live in
another process, and it carries the queries tests, the CLI and the policy evaluator
share: by type, by name, children, ancestors, and a signature free of cloud ids.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

SECRET = "[secret]"
_ID_SHAPE = re.compile(r"[:./]|^[a-z]+-[0-9a-f]{8,}$")


@dataclass
class Node:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    provider: str | None = None
    region: str | None = None
    id: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)

    @property
    def package(self) -> str:
        """The provider package: aws, kubernetes, random, berth (components), pulumi."""
        return self.type.split(":", 1)[0]

    @property
    def is_component(self) -> bool:
        return not self.custom and self.type != "pulumi:pulumi:Stack"

    def get(self, key: str, default: Any = None) -> Any:
        """An output (falling back to the input) by top-level key."""
        if key in self.outputs:
            return self.outputs[key]
        return self.inputs.get(key, default)


_NODE_FIELDS = tuple(f.name for f in fields(Node))


@dataclass
class Graph:
    stack: str
    project: str
    nodes: list[Node]
    outputs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    region: str | None = None
    duration_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._by_urn = {n.urn: n for n in self.nodes}

    # ---- lookups -------------------------------------------------------------------
    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, urn: str) -> Node:
        return self._by_urn[urn]

    def get(self, urn: str) -> Node | None:
        """The resource with this URN, or None."""
        return self._by_urn.get(urn)

    def by_type(self, *types: str) -> list[Node]:
        return [n for n in self.nodes if n.type in types]

    def named(self, name: str, type: str | None = None) -> Node:
        """The one resource with this logical name (and type); KeyError when absent or ambiguous."""
        found = [n for n in self.nodes if n.name == name and (type is None or n.type == type)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}" + (f" of type {type}" if type else ""))
        return found[0]

    def children(self, urn: str) -> list[Node]:
        return [n for n in self.nodes if n.parent == urn]

    def descendants(self, urn: str) -> list[Node]:
        out: list[Node] = []
        stack = [urn]
        while stack:
            cur = stack.pop()
            for child in self.children(cur):
                out.append(child)
                stack.append(child.urn)
        return out

    def ancestors(self, node: Node) -> list[Node]:
        out: list[Node] = []
        cur = node.parent
        while cur and cur in self._by_urn:
            parent = self._by_urn[cur]
            out.append(parent)
            cur = parent.parent
        return out

    def waits_for(self, node: Node) -> set[str]:
        """Every URN a resource waits for on a first deploy, directly or through others
        (dependencies and property dependencies, transitively)."""
        seen: set[str] = set()
        todo = [node.urn]
        while todo:
            cur = self._by_urn.get(todo.pop())
            for dep in [*cur.dependencies, *(u for us in cur.property_dependencies.values() for u in us)] if cur else []:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    def component_of(self, node: Node) -> Node | None:
        """The nearest berth component that owns a resource."""
        return next((a for a in self.ancestors(node) if a.type.startswith("berth:")), None)

    @property
    def resources(self) -> list[Node]:
        """Custom resources only (no components, no stack)."""
        return [n for n in self.nodes if n.custom]

    @property
    def components(self) -> list[Node]:
        return [n for n in self.nodes if n.is_component]

    def type_counts(self) -> Counter[str]:
        return Counter(n.type for n in self.nodes if n.type != "pulumi:pulumi:Stack")

    # ---- comparison ----------------------------------------------------------------
    def signature(self) -> list[tuple[Any, ...]]:
        """The graph without cloud-assigned identifiers: what must not vary between runs."""
        rows = []
        for n in self.nodes:
            rows.append(
                (
                    n.urn,
                    n.parent,
                    tuple(sorted(n.dependencies)),
                    n.protect,
                    n.retain_on_delete,
                    n.region,
                    json.dumps(strip_ids(n.inputs, self), sort_keys=True, default=str),
                )
            )
        return sorted(rows)

    # ---- persistence ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "project": self.project,
            "region": self.region,
            "duration_seconds": round(self.duration_seconds, 3),
            "config": self.config,
            "outputs": self.outputs,
            # A shallow record per node (dataclasses.asdict deep-copies every input and output:
            # ~0.2 s of a prod preview); the dict is serialised at once, never kept.
            "nodes": [{f: getattr(n, f) for f in _NODE_FIELDS} for n in self.nodes],
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=False, default=str))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Graph:
        return cls(
            stack=data["stack"],
            project=data["project"],
            region=data.get("region"),
            duration_seconds=data.get("duration_seconds", 0.0),
            config=data.get("config", {}),
            outputs=data.get("outputs", {}),
            nodes=[Node(**n) for n in data["nodes"]],
        )

    @classmethod
    def read(cls, path: Path) -> Graph:
        return cls.from_dict(json.loads(Path(path).read_text()))


def _leaves(value: Any) -> set[str]:
    return {v for _, v in walk(value) if isinstance(v, str)}


def _cloud_values(graph: Graph) -> dict[str, str]:
    """Every value the cloud assigned (ids, ARNs, endpoints) -> a stable reference to its origin.

    A value counts as cloud-assigned when a resource outputs it without having been given it
    in its own inputs. Several resources may output the same value (an S3 bucket's name is
    the id of its policy, ACL, ...): the smallest reference wins, so runs agree.
    """
    candidates: dict[str, set[str]] = {}
    for n in graph.nodes:
        if not n.custom:
            continue  # components only pass their children's values on
        own = _leaves(n.inputs)
        # ARNs nested in outputs too (an RDS instance's managed master secret, in masterUserSecrets).
        nested = [(path, v) for path, v in walk(n.outputs) if "." in path or "[" in path]
        values = [("id", n.id), *n.outputs.items(), *((k, v) for k, v in nested if str(v).startswith("arn:"))]
        for key, v in values:
            if isinstance(v, str) and len(v) >= 6 and v not in own:
                candidates.setdefault(v, set()).add(f"<{n.urn}.{key}>")
    # What a component looked up rather than made (a data source's answer, e.g. a hosted zone's
    # id) has no custom resource behind it: the component that exposes it is its origin.
    for n in graph.nodes:
        if n.custom:
            continue
        for key, v in (n.outputs or {}).items():
            if isinstance(v, str) and len(v) >= 6 and v not in candidates and key.endswith("Id"):
                candidates.setdefault(v, set()).add(f"<{n.urn}.{key}>")
    return {v: min(refs) for v, refs in candidates.items()}


def strip_ids(value: Any, graph: Graph) -> Any:
    """Replace values that came from the cloud with references to the resource they came from."""
    refs = graph.__dict__.get("_refs")
    if refs is None:
        refs = graph.__dict__["_refs"] = _cloud_values(graph)
        graph.__dict__["_refs_sorted"] = sorted(refs, key=len, reverse=True)
    if isinstance(value, dict):
        # A checksum over cloud-assigned values (endpoints in a config) varies with them.
        return {k: ("<checksum>" if "checksum" in k.lower() else strip_ids(v, graph)) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_ids(v, graph) for v in value]
    if isinstance(value, str):
        if value in refs:
            return refs[value]
        # Inside longer strings only values shaped like cloud identifiers are replaced (ARNs,
        # hostnames, prefixed ids): a plain name may legitimately recur in other names.
        for cid in graph.__dict__["_refs_sorted"]:
            if len(cid) >= 10 and cid in value and (_ID_SHAPE.search(cid) or any(c.isdigit() for c in cid)):
                value = re.sub(rf"(?<![A-Za-z0-9-]){re.escape(cid)}(?![A-Za-z0-9-])", refs[cid], value)
    return value


def walk(value: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    """Every leaf of a nested value with its dotted path (policy rules and tests use it)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]")
    else:
        yield path, value
