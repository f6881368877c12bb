"""Embedded cloud room: the Pulumi program run offline under mocks answered by moto.

`run_stack` runs one stack in this process; `run_isolated` runs one in a fresh child
process against a moto server (`EmbeddedCloud.serve()`), which is how several stacks
share a session without sharing the Pulumi runtime's global state.
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
