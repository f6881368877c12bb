"""Operations room: the offline destroy rehearsal (`berth destroy STACK --offline`).

Brings the stack up in a fresh embedded cloud, fills its buckets as use would, destroys it the way
`pulumi destroy` does (embedded_cloud/teardown.py) and proves nothing is left. It reads the stack
file given and writes nothing to disk.
"""

from __future__ import annotations

import time
from pathlib import Path

from berth.operations.errors import OpsError, Printer
from berth.operations.stackfile import REPO, StackFile
from embedded_cloud import EmbeddedCloud, ProgramError, run_isolated
from embedded_cloud.teardown import DestroyRefused, Teardown, destroy, leftovers, regions_of, write_objects


def destroy_offline(stack: str | StackFile, *, config_dir: Path = REPO, echo: Printer = print,
                    fill_buckets: bool = True) -> Teardown:
    """Bring STACK up in a fresh embedded cloud, fill its buckets, destroy it, prove nothing is left."""
    file = StackFile.of(stack, config_dir)
    stack, config = file.name, file.config
    with EmbeddedCloud.serve() as cloud:
        started = time.perf_counter()
        try:
            graph = run_isolated(stack, endpoint_url=cloud.endpoint_url or "", config=config)
        except ProgramError as exc:
            raise OpsError(f"{stack} does not deploy offline: {exc}") from None
        up = time.perf_counter() - started
        echo(f"{stack}: {len(graph.resources)} resources up in the embedded cloud ({up:.1f}s)")
        if fill_buckets and not any(n.protect for n in graph.nodes):
            echo(f"wrote {write_objects(cloud, graph)} object versions into its buckets")
        try:
            result = destroy(graph, cloud, echo=echo)
        except DestroyRefused as exc:
            raise OpsError(str(exc)) from None
        left = leftovers(cloud, regions_of(graph))
        echo(f"destroyed {stack}: {result.count('deleted')} deleted, {result.count('forgotten')} held nothing "
             f"in the cloud, {result.count('retained')} retained, in {result.seconds:.2f}s")
        if left:
            raise OpsError(f"{stack} left {len(left)} thing(s) in the embedded cloud:\n"
                           + "\n".join(f"  - {x}" for x in left))
        echo("nothing of it is left in the embedded cloud")
        return result
