"""Tests room (docs): the README's commands run as written, offline, on a fresh copy of the repo.

Every line of the README's ```bash blocks is a command; one whose comment says `needs AWS` (an
account, credentials or a deployed stack) or `not run by the docs test` (the setup and the suite
themselves) is skipped, every other one is run, in order, in a copy of the repository (the files
git tracks or would track: what a clone holds), so what they write lands in the copy. The copy
runs this checkout's environment: `uv run ` is taken off the front (uv would sync the copy into
the shared .venv) and the copy comes first on PYTHONPATH, so `berth` is the copy's code. A comment
saying `exit N` is the status the command is documented to end with; otherwise 0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from embedded_cloud.runner import REPO

SKIP = ("needs AWS", "not run by the docs test")


@dataclass
class Command:
    line: str
    command: str
    comment: str

    @property
    def skipped(self) -> bool:
        return any(marker in self.comment for marker in SKIP)

    @property
    def expected_exit(self) -> int:
        m = re.search(r"\bexit (\d+)\b", self.comment)
        return int(m[1]) if m else 0


def readme_commands(text: str | None = None) -> list[Command]:
    text = (REPO / "README.md").read_text() if text is None else text
    out: list[Command] = []
    for block in re.findall(r"^[ \t]*```bash\n(.*?)^[ \t]*```", text, re.M | re.S):
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.match(r"^(.*?)\s{2,}#\s?(.*)$", line)
            command, comment = (m[1], m[2]) if m else (line, "")
            out.append(Command(line, command.strip(), comment.strip()))
    return out


def test_the_readme_commands_are_found_and_every_skip_says_why() -> None:
    commands = readme_commands()
    runnable = [c for c in commands if not c.skipped]
    assert len(runnable) >= 12, [c.line for c in runnable]
    assert {"uv run berth preview staging", "uv run berth dr drill prod", "uv run berth local up"} <= {
        c.command for c in runnable
    }
    # What runs is the berth command (run from the copy's code); the rest says why it is not run.
    assert all(c.command.startswith("uv run berth ") for c in runnable), [c.line for c in runnable]
    assert {c.command.split()[0] for c in commands if c.skipped} == {"./scripts/bootstrap", "uv", "pulumi"}
    # The parser itself: a trailing comment is split off, `exit N` read from it.
    (c,) = readme_commands("```bash\nuv run berth diff a b   # x (exit 1: they differ)\n```\n")
    assert (c.command, c.expected_exit, c.skipped) == ("uv run berth diff a b", 1, False)


def sandbox(dest: Path) -> Path:
    """What a clone of this checkout holds (tracked and new, not ignored files), copied to dest."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.mark.slow
def test_every_unmarked_readme_command_runs_offline_as_written(tmp_path: Path) -> None:
    repo = sandbox(tmp_path / "clone")
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(repo),
        "BERTH_LOCAL_STATE_DIR": str(tmp_path / "local"),
        "COLUMNS": "120",
    }
    env.pop("VIRTUAL_ENV", None)
    failures: list[str] = []
    try:
        for c in readme_commands():
            if c.skipped:
                continue
            run = c.command.removeprefix("uv run ")
            proc = subprocess.run(
                ["bash", "-c", run], cwd=repo, env=env, input="y\n", capture_output=True, text=True, timeout=900
            )
            if proc.returncode != c.expected_exit:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
                failures.append(f"{c.command}: exit {proc.returncode}, documented {c.expected_exit}\n{tail}")
    finally:
        subprocess.run(["bash", "-c", "berth local down"], cwd=repo, env=env, capture_output=True, timeout=120)
    assert not failures, "\n\n".join(failures)
    # The copy got what the commands write; the checkout did not.
    assert (repo / "build" / "staging" / "graph.json").exists() and (repo / "build" / "prod" / "policy.json").exists()
    assert (repo / "Pulumi.pr-7.yaml").exists() and not (REPO / "Pulumi.pr-7.yaml").exists()
