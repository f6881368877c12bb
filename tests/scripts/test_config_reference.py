"""Tests room (scripts): docs/config-reference.md is what scripts/config-reference writes from the models."""

from __future__ import annotations

import subprocess
import sys

import yaml

from embedded_cloud.runner import REPO

SCRIPT = REPO / "scripts" / "config-reference"


def test_the_config_reference_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


def test_every_key_the_stacks_set_is_in_the_reference() -> None:
    text = (REPO / "docs" / "config-reference.md").read_text()
    for stack in ("staging", "prod"):
        config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
        for key, value in config.items():
            if isinstance(value, dict) and key != "berth:tags":
                for sub in value:
                    assert f"`{key}.{sub}`" in text, f"{key}.{sub} ({stack}) is not in docs/config-reference.md"
            else:
                assert f"`{key}`" in text, f"{key} ({stack}) is not in docs/config-reference.md"
    # Sizes read as what AWS sells, patterns in words, not regexes.
    assert "an RDS instance class offered for PostgreSQL at engineVersion" in text
    assert "an e-mail address such as oncall@example.com" in text and "^[^@" not in text
