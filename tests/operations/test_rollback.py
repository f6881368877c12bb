"""Tests room: pinning the app image (`berth set-image`) and rolling prod back (`berth rollback`).

Every test works in a temp git repository holding copies of the stack files: the real
Pulumi.*.yaml are never rewritten. Offline, the release history is the git history of
Pulumi.prod.yaml; each promotion below is a real one (every gate but health and load, which
need a running staging) followed by a commit, as the release workflow does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from berth.commands import app as berth_app
from berth.operations import promote as promotion
from berth.operations import rollback as rb
from berth.operations.errors import OpsError
from berth.operations.stackfile import StackFile
from embedded_cloud.runner import REPO

DA = "ghcr.io/berth/shipments-api@sha256:" + "a1" * 32
DB = "ghcr.io/berth/shipments-api@sha256:" + "b2" * 32


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for stack in ("staging", "prod"):
        shutil.copy(REPO / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "0")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "initial")
    return tmp_path


def cli() -> typer.Typer:
    return berth_app


def image(path: Path) -> str:
    return yaml.safe_load(path.read_text())["config"]["berth:app"]["image"]


def release(repo: Path, ref: str) -> str:
    """CI's main workflow then the release workflow: pin staging, promote to prod, commit."""
    result = CliRunner().invoke(cli(), ["set-image", "staging", ref, "--config-dir", str(repo)])
    assert result.exit_code == 0, result.output
    p = promotion.promote("staging", "prod", config_dir=repo, yes=True, skip_health=True, skip_load=True,
                          source={"appImage": ref}, echo=lambda _: None)
    assert p.written and [c.key for c in p.changes] == ["berth:app.image"]
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-am", f"release {ref[-8:]}")
    return (repo / "Pulumi.prod.yaml").read_text()


def test_set_image_pins_a_digest_keeping_comments_and_refuses_a_tag(repo: Path) -> None:
    staging = repo / "Pulumi.staging.yaml"
    before = staging.read_text()
    result = CliRunner().invoke(cli(), ["set-image", "staging", DA, "--config-dir", str(repo)])
    assert result.exit_code == 0 and DA in result.output
    after = staging.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [(f"    image: {image(REPO / 'Pulumi.staging.yaml')}", f"    image: {DA}")]
    result = CliRunner().invoke(cli(), ["set-image", "staging", "ghcr.io/berth/shipments-api:1.2.3",
                                        "--config-dir", str(repo)])
    assert result.exit_code == 1 and "never a tag" in result.output
    assert staging.read_text() == after


@pytest.mark.slow
def test_rollback_one_step_after_two_promotions_restores_the_first_digest_only(repo: Path) -> None:
    after_first = release(repo, DA)
    after_second = release(repo, DB)
    assert image(repo / "Pulumi.prod.yaml") == DB and after_first != after_second

    result = CliRunner().invoke(cli(), ["rollback", "prod", "--steps", "1", "--offline", "--yes",
                                        "--config-dir", str(repo)], terminal_width=250)
    assert result.exit_code == 0, result.output
    assert f"rolled prod back from {DB} to {DA}" in result.output
    assert result.output.count(" back from ") == 1  # the result is said once
    assert "gates passed: digest, history, config, policy" in result.output
    # Nothing but the image changed: the file is byte for byte what the first release wrote.
    assert (repo / "Pulumi.prod.yaml").read_text() == after_first
    assert "# Production: us-east-1" in after_first and "# warm standby in the DR region" in after_first


def test_rollback_history_is_the_files_git_history(repo: Path) -> None:
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x")
    rb.set_image("prod", DA, config_dir=repo)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-am", "a")
    rb.set_image("prod", DB, config_dir=repo)  # not committed yet: the working copy is the newest
    releases = rb.releases_of(StackFile.read("prod", repo), offline=True)
    assert [r.image for r in releases] == [DB, DA, image(REPO / "Pulumi.prod.yaml")]
    assert releases[0].source.startswith("the working copy") and releases[1].source.startswith("commit ")


@pytest.mark.parametrize(("to", "says"), [
    ("ghcr.io/berth/shipments-api:1.2.3", "is not a digest"),
    ("latest", "is not a digest"),
    ("sha256:" + "cd" * 32, "is not in prod's release history"),
    ("ghcr.io/berth/shipments-api@sha256:" + "cd" * 32, "is not in prod's release history"),
])
def test_rollback_to_a_tag_or_an_unknown_digest_is_refused(repo: Path, to: str, says: str) -> None:
    rb.set_image("prod", DA, config_dir=repo)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-am", "a")
    before = (repo / "Pulumi.prod.yaml").read_text()
    with pytest.raises(OpsError) as exc:
        rb.rollback("prod", to=to, config_dir=repo, offline=True, yes=True)
    assert says in exc.value.message
    assert (repo / "Pulumi.prod.yaml").read_text() == before


def test_rollback_further_than_the_history_is_refused(repo: Path) -> None:
    with pytest.raises(OpsError) as exc:
        rb.rollback("prod", steps=1, config_dir=repo, offline=True, yes=True)
    assert "has 0 earlier release(s)" in exc.value.message
