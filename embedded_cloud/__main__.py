"""Embedded cloud room: child-process entry of run_isolated (one stack per process)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from embedded_cloud.cloud import EmbeddedCloud
from embedded_cloud.runner import ProgramError, run_stack


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m embedded_cloud")
    p.add_argument("stack")
    p.add_argument("--endpoint", required=True, help="moto server URL holding the shared state")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--repo", type=Path)
    p.add_argument("--overrides", default=None, help="JSON object of dotted config keys")
    p.add_argument("--config-json", type=Path, default=None)
    a = p.parse_args()
    kwargs = {}
    if a.repo:
        kwargs["repo"] = a.repo
    overrides = json.loads(a.overrides) if a.overrides else None
    config = json.loads(a.config_json.read_text()) if a.config_json else None
    try:
        result = run_stack(a.stack, overrides=overrides, config=config,
                           cloud=EmbeddedCloud(endpoint_url=a.endpoint), **kwargs)
    except ProgramError as exc:
        if exc.graph is not None:
            exc.graph.write(a.out)
        print(str(exc), file=sys.stderr)
        return 1
    result.graph.write(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
