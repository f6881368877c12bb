"""Embedded cloud room: the Pulumi program run offline under mocks answered by moto.

`run_stack` runs one stack in this process; `run_isolated` runs one in a fresh child
process against a moto server (`EmbeddedCloud.serve()`), which is how several stacks
share a session without sharing the Pulumi runtime's global state.

Imports of pulumi (~0.6 s, `python -X importtime -c "import pulumi"`) and moto (~0.4 s) are made
inside the functions that run a program or a cloud, on purpose: the `berth` command imports this
package for every command (to read stack files, to describe a graph), and must not pay them to
print its help or read a stack file. Everything else is imported at module top.
"""

from embedded_cloud.cloud import EmbeddedCloud
from embedded_cloud.graph import Graph, Node
from embedded_cloud.runner import ProgramError, RunResult, read_stack_config, run_isolated, run_stack

__all__ = [
    "EmbeddedCloud",
    "Graph",
    "Node",
    "ProgramError",
    "RunResult",
    "read_stack_config",
    "run_isolated",
    "run_stack",
]
