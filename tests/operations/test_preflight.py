"""Tests room (stacks): config that cannot be real is refused before a real deploy.

The registry checks run against a real OCI registry on loopback (Debian's `docker-registry`,
the CNCF distribution server), started by the test with images pushed through its HTTP API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import yaml
from typer.testing import CliRunner

from berth.commands import app as berth_app
from berth.operations import deploy
from berth.operations.preflight import ImageRef, check, manifest_exists, parse_image
from embedded_cloud.runner import REPO, read_stack_config
from local_topology.topology import free_port

REGISTRY = Path("/usr/bin/docker-registry")
PLACEHOLDER_KEYS = {
    "berth:cluster.publicAccessCidrs[0]",
    "berth:app.corsOrigins[0]",
    "berth:dns.zone",
    "berth:cdn.domain",
    "berth:alarms.emails[0]",
    "berth:alarms.httpsEndpoints[0]",
    # Who reaches the cluster API: roles in AWS's example account.
    "berth:cluster.ciRoleArn",
    "berth:cluster.adminRoleArns[0]",
    "berth:cluster.readOnlyRoleArns[0]",
    "berth:dr.ciRoleArn",
}
IMAGE_KEYS = {"berth:app.image", "berth:pgbouncer.image", "berth:pgbouncer.exporterImage",
              "berth:pgbouncer.caFetchImage", "berth:cluster.autoscalerImage"}


def _cli() -> typer.Typer:
    return berth_app


def unreachable(req: Any, timeout: float) -> Any:
    raise urllib.error.URLError("Name or service not known")


def test_todays_prod_config_lists_every_placeholder_key() -> None:
    # A day when prod's Kubernetes minor was well within EKS standard support (see the EKS tests).
    report = check("prod", read_stack_config("prod"), opener=unreachable, today=dt.date(2026, 1, 15))
    keys = {f.key for f in report.findings}
    # Offline-detectable placeholders, and every image nobody could confirm.
    assert keys >= PLACEHOLDER_KEYS
    assert keys >= IMAGE_KEYS
    assert keys == PLACEHOLDER_KEYS | IMAGE_KEYS
    by_key = {f.key: f for f in report.findings}
    assert "documentation address range" in by_key["berth:cluster.publicAccessCidrs[0]"].problem
    assert "example/reserved domain" in by_key["berth:dns.zone"].problem
    assert "could not confirm" in by_key["berth:app.image"].problem
    assert "the ARN is in the example account 123456789012" in by_key["berth:cluster.ciRoleArn"].problem


def test_staging_tags_are_fine_but_prod_tags_and_old_catalogues_are_not() -> None:
    cfg = {"berth:environment": "prod", "berth:pgbouncer": {"image": "bitnami/pgbouncer:1.23.1",
                                                            "caFetchImage": "curlimages/curl:8.11.1@sha256:" + "0" * 64}}
    found = {(f.key, f.problem.split(":")[0])
             for f in check("prod", cfg, registries=False, today=dt.date(2026, 1, 15)).findings}
    assert ("berth:pgbouncer.image", "Bitnami's free image catalogue was withdrawn in 2025") in found
    assert ("berth:pgbouncer.image", "a mutable tag in production") in found
    assert ("berth:pgbouncer.caFetchImage", "an all-zero digest") in found
    staging = {"berth:environment": "staging", "berth:pgbouncer": {"image": "ghcr.io/cloudnative-pg/pgbouncer:1.25.2"}}
    assert check("staging", staging, registries=False, today=dt.date(2026, 1, 15)).ok


def test_image_references_map_onto_the_distribution_api() -> None:
    d = "sha256:" + "a" * 64
    assert parse_image(f"curlimages/curl:8.11.1@{d}") == ImageRef("docker.io", "curlimages/curl", d)
    assert parse_image(f"postgres@{d}") == ImageRef("docker.io", "library/postgres", d)
    assert parse_image(f"ghcr.io/cloudnative-pg/pgbouncer:1.25.2@{d}") == ImageRef(
        "ghcr.io", "cloudnative-pg/pgbouncer", d)
    ref = parse_image(f"127.0.0.1:5000/berth/api@{d}")
    assert ref is not None and ref.api == "http://127.0.0.1:5000" and ref.repository == "berth/api"
    assert parse_image("ghcr.io/x/y:1.0") is None


def test_the_anonymous_token_handshake_of_public_registries() -> None:
    """ghcr.io and Docker Hub answer 401 with a Bearer challenge; the token then opens the manifest."""
    seen: list[tuple[str, str | None]] = []

    class Resp:
        def __init__(self, status: int, body: bytes = b"") -> None:
            self.status, self.body = status, body

        def read(self) -> bytes:
            return self.body

        def __enter__(self) -> Resp:
            return self

        def __exit__(self, *a: Any) -> None:
            pass

    def opener(req: Any, timeout: float) -> Any:
        seen.append((req.full_url, req.get_header("Authorization")))
        if req.full_url.startswith("https://ghcr.io/token"):
            assert "scope=repository%3Acloudnative-pg%2Fpgbouncer%3Apull" in req.full_url
            return Resp(200, json.dumps({"token": "t0k"}).encode())
        if req.get_header("Authorization") != "Bearer t0k":
            raise urllib.error.HTTPError(req.full_url, 401, "Unauthorized",
                                         {"WWW-Authenticate": 'Bearer realm="https://ghcr.io/token",'
                                                              'service="ghcr.io"'}, None)  # type: ignore[arg-type]
        return Resp(200)

    ref = parse_image("ghcr.io/cloudnative-pg/pgbouncer:1.25.2@sha256:" + "b" * 64)
    assert ref is not None and manifest_exists(ref, opener=opener)
    assert [auth for _, auth in seen] == [None, None, "Bearer t0k"]


# ---- a real registry on loopback ------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert REGISTRY.exists(), "docker-registry is missing: ./scripts/bootstrap installs it"
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    conf = root / "config.yml"
    conf.write_text(yaml.safe_dump({
        "version": 0.1,
        "log": {"level": "error"},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }))
    proc = subprocess.Popen([str(REGISTRY), "serve", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("docker-registry did not start")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def push(registry: str, repo: str, tag: str) -> str:
    """Push a one-layer image through the distribution API; its manifest digest."""
    base = f"http://{registry}/v2/{repo}"

    def blob(data: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        loc = httpx.post(f"{base}/blobs/uploads/").headers["Location"]
        loc = loc if loc.startswith("http") else f"http://{registry}{loc}"
        # The upload URL carries its own state in the query: append the digest to it.
        r = httpx.put(f"{loc}{'&' if '?' in loc else '?'}digest={digest}", content=data,
                      headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return {"digest": digest, "size": len(data)}

    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                                                                                 "diff_ids": []}}).encode())
    layer = blob(f"{repo}:{tag}".encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
    }
    r = httpx.put(f"{base}/manifests/{tag}", content=json.dumps(manifest).encode(),
                  headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"]


def real_looking(tmp: Path, registry: str) -> Path:
    """Prod's config with every placeholder replaced by a value that could be real."""
    cfg = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())
    c = cfg["config"]
    images = {
        ("berth:app", "image"): ("berth/shipments-api", "1.4.0"),
        ("berth:pgbouncer", "image"): ("cloudnative-pg/pgbouncer", "1.25.2"),
        ("berth:pgbouncer", "exporterImage"): ("prometheuscommunity/pgbouncer-exporter", "v0.12.1"),
        ("berth:pgbouncer", "caFetchImage"): ("curlimages/curl", "8.11.1"),
        ("berth:cluster", "autoscalerImage"): ("autoscaling/cluster-autoscaler", "v1.35.0"),
    }
    # A minor in EKS standard support on the day the test runs (the committed 1.33 left it in 2026-07).
    c["berth:cluster"]["version"] = "1.35"
    for (ns, key), (repo, tag) in images.items():
        c[ns][key] = f"{registry}/{repo}:{tag}@{push(registry, repo, tag)}"
    c["berth:cluster"]["publicAccessCidrs"] = ["62.210.16.0/24"]
    c["berth:app"]["corsOrigins"] = ["https://shipments.acme-logistics.io"]
    c["berth:dns"]["zone"] = "acme-logistics.io"
    c["berth:cdn"]["domain"] = "shipments.acme-logistics.io"
    c["berth:alarms"]["emails"] = ["platform-oncall@acme-logistics.io"]
    c["berth:cluster"]["ciRoleArn"] = "arn:aws:iam::210987654321:role/berth-ci-production"
    c["berth:cluster"]["adminRoleArns"] = ["arn:aws:iam::210987654321:role/platform-break-glass"]
    c["berth:cluster"]["readOnlyRoleArns"] = ["arn:aws:iam::210987654321:role/platform-oncall"]
    c["berth:dr"]["ciRoleArn"] = "arn:aws:iam::210987654321:role/berth-ci-dr"
    c["berth:alarms"]["httpsEndpoints"] = ["https://events.pagerduty.com/integration/" + "0f" * 16 + "/enqueue"]
    out = tmp / "configs"
    out.mkdir()
    (out / "Pulumi.prod.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (out / "policy").mkdir()
    shutil.copy(REPO / "policy" / "PulumiPolicy.yaml", out / "policy" / "PulumiPolicy.yaml")
    return out


def test_real_looking_config_passes_and_an_unpushed_digest_is_named(registry: str, tmp_path: Path) -> None:
    configs = real_looking(tmp_path, registry)
    ok = CliRunner().invoke(_cli(), ["preflight", "prod", "--no-account", "--config-dir", str(configs)])
    assert ok.exit_code == 0, ok.output
    assert "every pinned digest is in its registry" in " ".join(ok.output.split())
    # A digest that was never pushed: the registry says 404 and preflight names the key.
    text = (configs / "Pulumi.prod.yaml").read_text()
    cfg = yaml.safe_load(text)
    cfg["config"]["berth:app"]["image"] = f"{registry}/berth/shipments-api:1.4.1@sha256:" + "c" * 64
    (configs / "Pulumi.prod.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    bad = CliRunner().invoke(_cli(), ["preflight", "prod", "--no-account", "--config-dir", str(configs)])
    assert bad.exit_code == 1
    out = "".join(bad.output.split())
    assert "berth:app.image" in out and "hasnomanifest" in out


def test_up_refuses_placeholders_first_and_touches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with the CLI and credentials in place, `berth up prod` stops at the placeholders."""
    monkeypatch.setattr(deploy, "_check_pulumi", lambda pf: None)
    monkeypatch.setattr(deploy, "_check_aws", lambda pf, region: None)
    monkeypatch.setattr("berth.operations.preflight._open", unreachable)

    def trap(*a: Any, **k: Any) -> None:
        raise AssertionError("the workspace was opened despite the placeholders")

    monkeypatch.setattr(deploy, "workspace_stack", trap)
    before = (REPO / "Pulumi.prod.yaml").read_text()
    result = CliRunner().invoke(_cli(), ["up", "prod", "--yes"])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    for key in PLACEHOLDER_KEYS | IMAGE_KEYS:
        assert key in out, key
    assert "nothing was changed" in out
    assert (REPO / "Pulumi.prod.yaml").read_text() == before


def test_arns_in_aws_example_accounts_and_fake_pager_keys_are_named() -> None:
    cfg = {"berth:cluster": {"adminRoleArns": ["arn:aws:iam::123456789012:role/platform-admin"]},
           "berth:alarms": {"httpsEndpoints": ["https://events.pagerduty.com/integration/" + "a" * 32 + "/enqueue"]}}
    (finding,) = check("prod", cfg, registries=False, today=dt.date(2026, 1, 15)).findings
    assert finding.key == "berth:cluster.adminRoleArns[0]" and "example account 123456789012" in finding.problem


def test_eks_support_calendar_warns_90_days_ahead_and_refuses_what_eks_would() -> None:
    """The configured Kubernetes minor against EKS's calendar and the stack's upgrade policy."""
    cfg = {"berth:environment": "staging", "berth:cluster": {"version": "1.33"}}

    def judge(today: dt.date, policy: str = "STANDARD") -> tuple[list[str], list[str]]:
        c = {**cfg, "berth:cluster": {**cfg["berth:cluster"], "upgradePolicy": policy}}
        report = check("staging", c, registries=False, today=today)
        return [f.problem for f in report.findings], [w.problem for w in report.warnings]

    assert judge(dt.date(2026, 4, 29)) == ([], [])  # 91 days before the end of standard support
    findings, warnings = judge(dt.date(2026, 4, 30))  # 90 days before
    assert findings == [] and len(warnings) == 1
    assert "ends on 2026-07-29 (90 days): then EKS upgrades the control plane on its own" in warnings[0]
    assert "extended support begins" in judge(dt.date(2026, 6, 1), "EXTENDED")[1][0]
    # Past standard support: STANDARD is what EKS refuses to keep; EXTENDED deploys, with a warning.
    findings, warnings = judge(dt.date(2026, 12, 8))
    assert len(findings) == 1 and "standard support for 1.33 ended on 2026-07-29" in findings[0]
    findings, warnings = judge(dt.date(2026, 12, 8), "EXTENDED")
    assert findings == [] and "in extended support since 2026-07-29" in warnings[0]
    # Past extended support nothing deploys.
    assert "ended on 2027-07-29" in judge(dt.date(2027, 8, 1), "EXTENDED")[0][0]
    # The suggested move is a minor that is not itself about to end.
    report = check("staging", cfg, registries=False, today=dt.date(2026, 12, 8))
    assert report.findings[0].fix.startswith("upgrade to 1.35")


def test_preflight_prints_eks_support_warnings_without_refusing(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from berth.operations import preflight as preflight_ops

    monkeypatch.setitem(preflight_ops.EKS_SUPPORT, "1.33", (dt.date.today() + dt.timedelta(days=30),
                                                            dt.date.today() + dt.timedelta(days=400)))
    result = CliRunner().invoke(_cli(), ["preflight", "staging", "--no-registries"])
    assert "warning: berth:cluster.version = 1.33: standard support for 1.33 ends on" in " ".join(
        result.output.split())
