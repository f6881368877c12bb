"""Scripts room tests: scripts/graph-signature, the refactor check, holds still and sees a change.

Two runs of the same program must record identically (cloud ids masked, registration order not
compared), and one changed knob must show up as a difference naming the resource and the input.
The recordings call the script's main() in this process (its runs are forked from the session's warm
fork server); the comparisons run the script as a command, exit status and all.
"""

from __future__ import annotations

import importlib.machinery
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "graph-signature"


def _script() -> Any:
    loader = importlib.machinery.SourceFileLoader("graph_signature", str(SCRIPT))
    module = types.ModuleType(loader.name)
    module.__file__ = str(SCRIPT)
    loader.exec_module(module)
    return module


def _record(*args: str) -> int:
    return int(_script().main(list(args)))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_same_program_records_identically_and_a_changed_knob_is_named(tmp_path: Path) -> None:
    first, second, changed = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    for out, extra in ((first, []), (second, []),
                       (changed, ["--overrides", json.dumps({"berth:cache.engine": "valkey"})])):
        assert _record("staging", "--out", str(out), *extra) == 0

    same = _run("--compare", str(first), str(second))
    assert same.returncode == 0, same.stdout
    assert "staging: identical" in same.stdout

    differs = _run("--compare", str(first), str(changed))
    assert differs.returncode == 1
    assert "DIFFERENT" in differs.stdout
    # The difference is named: the replication group's engine, before and after.
    engine_lines = [line for line in differs.stdout.splitlines()
                    if "aws:elasticache/replicationGroup:ReplicationGroup" in line and "engine" in line]
    assert engine_lines, differs.stdout
    assert "'redis' -> 'valkey'" in engine_lines[0]
