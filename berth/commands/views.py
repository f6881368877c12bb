"""Commands room: how a graph and values look in the terminal (rich renderables, plain text)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from embedded_cloud.graph import Graph, Node


def _label(n: Node) -> str:
    extra = []
    if n.region and n.region != (n.region and None):
        extra.append(n.region)
    if n.protect:
        extra.append("protected")
    if n.retain_on_delete:
        extra.append("retained")
    suffix = f" [dim]({', '.join(extra)})[/dim]" if extra else ""
    style = "bold cyan" if not n.custom else "green"
    return f"[{style}]+[/{style}] {n.type} [bold]{n.name}[/bold]{suffix}"


def resource_tree(graph: Graph) -> Tree:
    """The graph nested by parent, resources sorted by type then name under each parent."""
    root_node = next((n for n in graph.nodes if n.type == "pulumi:pulumi:Stack"), None)
    title = f"[bold]{graph.project}-{graph.stack}[/bold] (pulumi:pulumi:Stack) · {graph.region}"
    tree = Tree(title)
    children: dict[str | None, list[Node]] = defaultdict(list)
    for n in graph.nodes:
        if n is root_node:
            continue
        parent = n.parent if n.parent and (root_node is None or n.parent != root_node.urn) else None
        children[parent].append(n)

    def add(branch: Tree, parent: str | None) -> None:
        kids = sorted(children.get(parent, []), key=lambda n: (n.custom, n.type, n.name))
        for kid in kids:
            sub = branch.add(_label(kid))
            add(sub, kid.urn)

    add(tree, None)
    return tree


def type_summary(graph: Graph) -> Table:
    table = Table(title=f"{graph.stack}: resources by type", show_lines=False)
    table.add_column("type")
    table.add_column("count", justify="right")
    counts = graph.type_counts()
    for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(t, str(c))
    table.add_row("[bold]total[/bold]", f"[bold]{sum(counts.values())}[/bold]")
    return table




def show(value: Any, width: int = 80) -> str:
    """A config or input value for a table cell: JSON for structures, an em dash for nothing."""
    if value is None:
        return "[dim]—[/dim]"
    text = value if isinstance(value, str) else json.dumps(value)
    text = text if len(text) <= width else text[: width - 3] + "…"
    return escape(text)
