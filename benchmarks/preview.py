"""Benchmarks room: wall time of `berth preview STACK` per stack (median of N), interpreter start included.

Usage: uv run python benchmarks/preview.py [--runs 5] [stacks...]
Runs the installed `berth` entry point as a user would (no tree printing, so the terminal
is not what is measured) and prints min / median / max seconds and the resource count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("stacks", nargs="*", default=["staging", "prod"])
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    berth = REPO / ".venv" / "bin" / "berth"
    print(f"{'stack':<10} {'resources':>9} {'min s':>7} {'median s':>9} {'max s':>7}")
    for stack in a.stacks:
        times = []
        with tempfile.TemporaryDirectory() as out:
            for _ in range(a.runs):
                t = time.perf_counter()
                proc = subprocess.run([str(berth), "preview", stack, "--no-tree", "--out", out],
                                      capture_output=True, text=True, cwd=REPO)
                times.append(time.perf_counter() - t)
                if proc.returncode not in (0, 1):
                    print(proc.stderr, file=sys.stderr)
                    return 1
            nodes = len(json.loads((Path(out) / stack / "graph.json").read_text())["nodes"])
        print(f"{stack:<10} {nodes:>9} {min(times):>7.2f} {statistics.median(times):>9.2f} {max(times):>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
