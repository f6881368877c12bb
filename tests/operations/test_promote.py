"""Tests room: staging -> prod promotion, end to end in the embedded cloud.

Every test works on copies of Pulumi.staging.yaml / Pulumi.prod.yaml in a temp dir: the
real files are never touched. The happy path deploys staging offline from the copy (what
`--offline` does), checks every gate with the real policy pack, and rewrites prod's copy.
"""

from __future__ import annotations

import difflib
import http.server
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from berth.commands import app as berth_app
from berth.operations import promote as promotion
from berth.operations.errors import OpsError
from embedded_cloud.runner import REPO
from stacks.config import AppSettings, CacheSettings, DatabaseSettings

D1 = "ghcr.io/berth/shipments-api@sha256:6b3e9c1f0a2d4e5b7c8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d"
D2 = "ghcr.io/berth/shipments-api@sha256:" + "ab" * 32


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    for stack in ("staging", "prod"):
        shutil.copy(REPO / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    return tmp_path


def _set(path: Path, block: str, key: str, value: str) -> None:
    """Set one `key: value` line inside a `berth:<block>:` mapping of a config copy, textually."""
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if re.match(rf"^  berth:{block}:\s*$", line))
    end = next((j for j in range(start + 1, len(lines)) if re.match(r"^  \S", lines[j])), len(lines))
    for i in range(start + 1, end):
        if re.match(rf"^    {key}:", lines[i]):
            lines[i] = f"    {key}: {value}\n"
            break
    else:
        lines.insert(end, f"    {key}: {value}\n")
    path.write_text("".join(lines))


def _config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["config"]


def test_promotable_keys_are_release_properties_not_environment_sizes() -> None:
    keys = set(promotion.PROMOTABLE)
    assert {"berth:app.image", "berth:database.engineVersion", "berth:cache.engineVersion"} <= keys
    for env_specific in ("replicas", "minReplicas", "maxReplicas", "corsOrigins", "dbPoolSize",
                         "cpuRequest", "memoryLimit"):
        assert f"berth:app.{env_specific}" not in keys
    assert not any(k.startswith(("berth:network", "berth:cluster", "berth:cdn", "aws:")) for k in keys)
    # Every key names a real settings field (a typo would silently promote nothing).
    models = {"app": AppSettings, "database": DatabaseSettings, "cache": CacheSettings}
    for key in keys:
        area, _, field = key.removeprefix("berth:").partition(".")
        aliases = {f.alias or n for n, f in models[area].model_fields.items()}
        assert field in aliases, key


def test_versions_compare_numerically() -> None:
    assert promotion.version_tuple("16.10") > promotion.version_tuple("16.9")
    assert promotion.version_tuple("7.1") < promotion.version_tuple("7.10")


@pytest.mark.slow
def test_promotion_copies_only_promotable_keys_and_keeps_the_file(configs: Path) -> None:
    staging, prod = configs / "Pulumi.staging.yaml", configs / "Pulumi.prod.yaml"
    before = prod.read_text()
    _set(staging, "app", "image", D2)
    _set(staging, "app", "cacheTtlSeconds", "30")
    _set(staging, "app", "rateLimitReadsPerMinute", "150")  # absent from prod: added
    _set(staging, "cache", "engineVersion", '"7.2"')  # a minor: the database names its major only
    # Environment-specific staging changes that must NOT reach prod.
    _set(staging, "app", "maxReplicas", "5")
    _set(staging, "cache", "nodeType", "cache.t4g.small")

    messages: list[str] = []
    p = promotion.promote("staging", "prod", config_dir=configs, offline=True, skip_health=True, skip_load=True, yes=True,
                          echo=messages.append)

    assert p.written
    assert p.gates_passed == ["digest", "versions", "config", "running", "policy"]
    cfg = _config(prod)
    assert cfg["berth:app"]["image"] == D2
    assert cfg["berth:app"]["cacheTtlSeconds"] == 30
    assert cfg["berth:app"]["rateLimitReadsPerMinute"] == 150
    assert cfg["berth:cache"]["engineVersion"] == "7.2"
    assert cfg["berth:app"]["maxReplicas"] == 12
    assert cfg["berth:cache"]["nodeType"] == "cache.r7g.large"

    after = prod.read_text()
    removed = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line.startswith("- ")]
    added = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line.startswith("+ ")]
    assert sorted(removed) == sorted([
        f"-     image: {D1}",
        "-     cacheTtlSeconds: 60",
        '-     engineVersion: "7.1"',
    ])
    assert sorted(added) == sorted([
        f"+     image: {D2}",
        "+     cacheTtlSeconds: 30",
        '+     engineVersion: "7.2"',  # still quoted: a string, as written
        "+     rateLimitReadsPerMinute: 150",
    ])
    # Every comment of the original survives.
    comments = [line for line in before.splitlines() if "#" in line]
    assert comments and all(c in after.splitlines() for c in comments)
    # The diff shown before writing is the change made.
    assert any("+    image: " + D2 in m for m in messages)


def test_declining_the_question_writes_nothing(configs: Path, staging) -> None:
    staging_file, prod = configs / "Pulumi.staging.yaml", configs / "Pulumi.prod.yaml"
    _set(staging_file, "app", "cacheTtlSeconds", "45")
    before = prod.read_text()
    asked: list[str] = []

    def no(question: str) -> bool:
        asked.append(question)
        return False

    with pytest.raises(OpsError, match="not promoted"):
        promotion.promote("staging", "prod", config_dir=configs, skip_health=True, skip_load=True, confirm=no,
                          source=staging.graph, echo=lambda _: None)
    assert asked == ["Write Pulumi.prod.yaml?"]
    assert prod.read_text() == before


def test_refuses_a_mutable_tag(configs: Path) -> None:
    prod = configs / "Pulumi.prod.yaml"
    before = prod.read_text()
    _set(configs / "Pulumi.staging.yaml", "app", "image", "ghcr.io/berth/shipments-api:1.4.0")
    with pytest.raises(promotion.PromotionRefused) as exc:
        promotion.promote("staging", "prod", config_dir=configs, offline=True, skip_health=True, skip_load=True, yes=True)
    assert exc.value.gates == ["digest"]
    assert "'ghcr.io/berth/shipments-api:1.4.0'" in str(exc.value) and "mutable tag" in str(exc.value)
    assert prod.read_text() == before


@pytest.mark.parametrize(("area", "prod_version", "staging_version"),
                         [("cache", "7.1", "7.0"), ("database", "16", "15")])
def test_refuses_an_engine_downgrade(configs: Path, area: str, prod_version: str, staging_version: str) -> None:
    _set(configs / "Pulumi.prod.yaml", area, "engineVersion", f'"{prod_version}"')
    _set(configs / "Pulumi.staging.yaml", area, "engineVersion", f'"{staging_version}"')
    before = (configs / "Pulumi.prod.yaml").read_text()
    with pytest.raises(promotion.PromotionRefused) as exc:
        promotion.promote("staging", "prod", config_dir=configs, offline=True, skip_health=True, skip_load=True,
                          yes=True)
    assert "versions" in exc.value.gates
    assert (f"berth:{area}.engineVersion would go backwards: prod runs {prod_version}, "
            f"staging has {staging_version}") in str(exc.value)
    assert (configs / "Pulumi.prod.yaml").read_text() == before


def test_refuses_a_major_upgrade_in_disguise(configs: Path) -> None:
    _set(configs / "Pulumi.staging.yaml", "cache", "engineVersion", '"8.0"')
    with pytest.raises(promotion.PromotionRefused, match="major-version upgrade"):
        promotion.promote("staging", "prod", config_dir=configs, offline=True, skip_health=True, skip_load=True, yes=True)


def test_refuses_when_staging_runs_another_digest(configs: Path, staging) -> None:
    # Staging's config moved to D2 but what staging runs is still D1 (never deployed).
    _set(configs / "Pulumi.staging.yaml", "app", "image", D2)
    before = (configs / "Pulumi.prod.yaml").read_text()
    assert promotion.running_image(staging.graph) == D1
    with pytest.raises(promotion.PromotionRefused) as exc:
        promotion.promote("staging", "prod", config_dir=configs, skip_health=True, skip_load=True, yes=True, source=staging.graph)
    assert exc.value.gates == ["running"]
    assert f"staging runs {D1}, not {D2}" in str(exc.value)
    assert (configs / "Pulumi.prod.yaml").read_text() == before


def test_refuses_when_prod_would_fail_the_policy_pack(configs: Path, staging) -> None:
    # Prod's copy has drifted into a violation; the promotion must not carry it to an up.
    _set(configs / "Pulumi.prod.yaml", "database", "deletionProtection", "false")
    _set(configs / "Pulumi.staging.yaml", "app", "cacheTtlSeconds", "45")
    before = (configs / "Pulumi.prod.yaml").read_text()
    with pytest.raises(promotion.PromotionRefused) as exc:
        promotion.promote("staging", "prod", config_dir=configs, skip_health=True, skip_load=True, yes=True, source=staging.graph)
    assert exc.value.gates == ["policy"]
    assert "rds-deletion-protection-prod" in str(exc.value)
    assert (configs / "Pulumi.prod.yaml").read_text() == before


@pytest.fixture
def health_server() -> Iterator[dict]:
    state = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["path"] = self.path
            self.send_response(state["status"])
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()


def test_health_gate_needs_200_from_ready(health_server: dict) -> None:
    url = promotion.health_url({"cdnDomainName": health_server["base"]})
    assert url == health_server["base"] + "/api/health/ready"
    assert promotion.gate_health(url, "staging") is None
    assert health_server["path"] == "/api/health/ready"
    health_server["status"] = 503
    gate, msg = promotion.gate_health(url, "staging")
    assert gate == "health" and "answered 503, not 200" in msg
    gate, msg = promotion.gate_health("http://127.0.0.1:9/api/health/ready", "staging", timeout=2)
    assert "unreachable" in msg and "--skip-health" in msg
    assert promotion.health_url({"cdnDomainName": "d111.cloudfront.net"}) == (
        "https://d111.cloudfront.net/api/health/ready")


def test_health_gate_refuses_the_promotion(configs: Path, staging, health_server: dict) -> None:
    health_server["status"] = 503
    _set(configs / "Pulumi.staging.yaml", "app", "cacheTtlSeconds", "45")
    before = (configs / "Pulumi.prod.yaml").read_text()
    with pytest.raises(promotion.PromotionRefused) as exc:
        promotion.promote("staging", "prod", config_dir=configs, yes=True, source=staging.graph,
                          url=health_server["base"] + "/api/health/ready", skip_load=True)
    assert exc.value.gates == ["health"]
    assert (configs / "Pulumi.prod.yaml").read_text() == before


def test_nothing_to_promote(configs: Path) -> None:
    before = (configs / "Pulumi.prod.yaml").read_text()
    messages: list[str] = []
    p = promotion.promote("staging", "prod", config_dir=configs, offline=True, skip_health=True, skip_load=True, yes=True,
                          echo=messages.append)
    assert p.changes == [] and not p.written
    assert messages == ["prod already has staging's promotable values: nothing to promote"]
    assert (configs / "Pulumi.prod.yaml").read_text() == before


def test_apply_without_pulumi_cli_refuses_before_any_work(configs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(configs))  # no pulumi here
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    _set(configs / "Pulumi.staging.yaml", "app", "cacheTtlSeconds", "45")
    before = (configs / "Pulumi.prod.yaml").read_text()
    with pytest.raises(OpsError) as exc:
        promotion.promote("staging", "prod", config_dir=configs, offline=True, skip_health=True, skip_load=True, yes=True,
                          apply=True)
    assert "curl -fsSL https://get.pulumi.com | sh" in exc.value.message
    assert (configs / "Pulumi.prod.yaml").read_text() == before


def test_reading_real_staging_without_pulumi_cli_refuses_at_once(configs: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(configs))  # no pulumi here
    _set(configs / "Pulumi.staging.yaml", "app", "cacheTtlSeconds", "45")
    before = (configs / "Pulumi.prod.yaml").read_text()
    started = time.perf_counter()
    with pytest.raises(OpsError) as exc:
        promotion.promote("staging", "prod", config_dir=configs, skip_health=True, skip_load=True, yes=True)
    assert "cannot read what staging runs (or use --offline)" in exc.value.message
    assert "curl -fsSL https://get.pulumi.com | sh" in exc.value.message
    assert time.perf_counter() - started < 5  # refused before any offline preview started
    assert (configs / "Pulumi.prod.yaml").read_text() == before


def test_cli_promote_refusal_exits_non_zero(configs: Path) -> None:
    _set(configs / "Pulumi.staging.yaml", "app", "image", "ghcr.io/berth/shipments-api:latest")
    result = CliRunner().invoke(berth_app, ["promote", "staging", "prod", "--offline", "--skip-health", "--skip-load", "--yes",
                                      "--config-dir", str(configs)])
    assert result.exit_code == 1
    assert "promotion refused" in result.output and "mutable tag" in result.output
    assert _config(configs / "Pulumi.prod.yaml")["berth:app"]["image"] == D1


@pytest.mark.slow
def test_cli_promotion_in_a_log_shows_the_digest_whole(configs: Path) -> None:
    _set(configs / "Pulumi.staging.yaml", "app", "image", D2)
    result = CliRunner().invoke(berth_app, ["promote", "staging", "prod", "--offline", "--skip-health", "--skip-load",
                                            "--yes", "--config-dir", str(configs)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    # In the diff shown before writing and in the summary after: never cut at 80 columns.
    assert f"+    image: {D2}" in result.output
    assert any(D1 in line and D2 in line for line in result.output.splitlines()), result.output
