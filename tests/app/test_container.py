"""app tests room: the container recipe: locked requirements in step with uv.lock, non-root numeric
user, read-only-root friendly, and the same server command as the tests and `berth local` run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

from local_topology.topology import REPO

APP = REPO / "app"


def _requirements(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_requirements_are_the_locked_app_group() -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to check app/requirements.txt against uv.lock"
    exported = subprocess.run(
        [uv, "export", "--only-group", "app", "--locked", "--no-emit-project", "--format", "requirements-txt", "-q"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    committed = (APP / "requirements.txt").read_text()
    assert _requirements(committed) == _requirements(exported), (
        "app/requirements.txt drifted from uv.lock: re-run the uv export command in app/Dockerfile"
    )
    names = {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", committed, re.M)}
    assert {"fastapi", "uvicorn", "asyncpg", "redis", "prometheus-client"} <= names
    assert not names & {"pulumi", "boto3", "pytest", "schemathesis"}, "the image must hold the app group only"
    assert all("--hash=sha256:" in block for block in committed.split("==")[1:])


def test_dockerfile_is_multistage_non_root_and_runs_the_tested_command() -> None:
    text = (APP / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 3
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and re.fullmatch(r"\d+:\d+", users[-1]) and not users[-1].startswith("0:")
    assert re.search(r"^EXPOSE 8000$", text, re.M)
    assert "PYTHONDONTWRITEBYTECODE=1" in text and "HOME=/tmp" in text
    assert "uv pip install" in text and "--require-hashes" in text
    cmd = json.loads(re.findall(r"^CMD (\[.*\])$", text, re.M)[-1])
    assert cmd == ["python", "-m", "shipments.server"]
    # the harness (tests, berth local) starts the very same module
    source = (REPO / "local_topology" / "topology.py").read_text()
    assert '[sys.executable, "-m", "shipments.server"]' in source
    ignore = [ln.strip() for ln in (APP / ".dockerignore").read_text().splitlines() if ln.strip()[:1] not in ("#", "")]
    assert ignore[0] == "*" and "!shipments/" in ignore and "!requirements.txt" in ignore


def test_readme_documents_every_environment_variable() -> None:
    from shipments.settings import ENV_VARS

    readme = (APP / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, re.M))
    server_vars = set(re.findall(r'os\.environ\.get\("([A-Z0-9_]+)"', (APP / "shipments" / "server.py").read_text()))
    migrate_vars = set(re.findall(r'os\.environ\.get\("([A-Z0-9_]+)"', (APP / "shipments" / "migrate.py").read_text()))
    bootstrap_vars = set(re.findall(r'env(?:\.get\(|\[)"([A-Z0-9_]+)"', (APP / "shipments" / "bootstrap.py").read_text()))
    assert {"MASTER_SECRET_ARN", "OWNER_PASSWORD", "APP_ROLE"} <= bootstrap_vars
    needed = set(ENV_VARS) | server_vars | migrate_vars | bootstrap_vars
    assert needed <= documented, f"undocumented: {sorted(needed - documented)}"
    assert documented <= needed, f"documented but unused: {sorted(documented - needed)}"
