"""Benchmarks room: `berth preview STACK` against the same program under bare Pulumi mocks, paired.

Usage: uv run python benchmarks/preview.py [--runs 5] [stacks...]

For each stack, runs alternately (A B A B ...) the installed `berth preview STACK --no-tree` as a
user would and `benchmarks/bare_mocks.py STACK` (the same program, mocks that answer nothing), after
one warm-up of each, and prints the median wall time of each, the median and the worst of the
per-pair ratios. Interpreter start is included in both: it is part of what a user waits for. Peak
RSS: `/usr/bin/time -v .venv/bin/berth preview prod --no-tree` (Maximum resident set size).
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
BIN = REPO / ".venv" / "bin"


def _timed(cmd: list[str]) -> float:
    """Wall seconds of one run of cmd, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return wall


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("stacks", nargs="*", default=["staging", "prod"])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print one JSON object per stack")
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for stack in a.stacks:
            preview = [str(BIN / "berth"), "preview", stack, "--no-tree", "--out", out]
            bare = [str(BIN / "python"), str(REPO / "benchmarks" / "bare_mocks.py"), stack]
            _timed(preview), _timed(bare)  # warm-up: page cache, the botocore cache
            pv: list[float] = []
            bm: list[float] = []
            ratios: list[float] = []
            for _ in range(a.runs):
                pv.append(_timed(preview))
                bm.append(_timed(bare))
                ratios.append(pv[-1] / bm[-1])
            nodes = len(json.loads((Path(out) / stack / "graph.json").read_text())["nodes"])
            rows.append({"stack": stack, "resources": nodes, "preview_s": statistics.median(pv),
                         "bare_mocks_s": statistics.median(bm), "ratio": statistics.median(ratios),
                         "ratio_max": max(ratios)})
    if a.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"{'stack':<10} {'resources':>9} {'preview s':>10} {'bare mocks s':>13} {'ratio':>6} {'worst':>6}")
    for r in rows:
        print(f"{r['stack']:<10} {r['resources']:>9} {r['preview_s']:>10.2f} {r['bare_mocks_s']:>13.2f} "
              f"{r['ratio']:>6.2f} {r['ratio_max']:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
