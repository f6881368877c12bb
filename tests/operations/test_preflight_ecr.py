"""Tests room (operations): the preflight asks a private ECR registry for a pinned digest through the
ECR API with the caller's credentials (moto stands in for ECR), as CI's staging deploy does with its role."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from berth.operations.preflight import check, ecr_image_exists, parse_image, registry_findings

ACCOUNT = "123456789012"  # moto's account
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:" + "b" * 64,
        },
        "layers": [],
    }
)


def never_over_http(req: Any, timeout: float) -> Any:
    raise AssertionError(f"a private ECR registry was asked anonymously over HTTP: {req.full_url}")


@pytest.fixture
def ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        client = boto3.client("ecr", region_name="us-east-1")
        # moto's backends are per process: an in-process embedded cloud of another test in this worker
        # (the bootstrap's registry) may already hold the name.
        with contextlib.suppress(client.exceptions.RepositoryNotFoundException):
            client.delete_repository(repositoryName="shipments-api", force=True)
        client.create_repository(repositoryName="shipments-api", imageTagMutability="IMMUTABLE")
        digest = client.put_image(repositoryName="shipments-api", imageManifest=MANIFEST, imageTag="abc123")["image"][
            "imageId"
        ]["imageDigest"]
        yield client, digest


def test_a_pushed_digest_is_found_and_an_unpushed_one_is_named(ecr: tuple[Any, str]) -> None:
    _, digest = ecr
    pushed = f"{HOST}/shipments-api:abc123@{digest}"
    ghost = f"{HOST}/shipments-api@sha256:{'c' * 64}"
    assert ecr_image_exists(parse_image(pushed)) is True  # type: ignore[arg-type]
    assert ecr_image_exists(parse_image(ghost)) is False  # type: ignore[arg-type]
    findings = registry_findings(
        {"berth:app": {"image": pushed}, "berth:pgbouncer": {"image": ghost}}, opener=never_over_http
    )
    assert [(f.key, f.value) for f in findings] == [("berth:pgbouncer.image", ghost)]
    assert "has no manifest" in findings[0].problem


def test_a_missing_repository_is_a_finding_and_other_registries_still_go_over_http(ecr: tuple[Any, str]) -> None:
    other = f"{HOST}/nope@sha256:{'d' * 64}"
    report = check("staging", {"berth:environment": "staging", "berth:app": {"image": other}}, opener=never_over_http,
                   today=dt.date(2026, 1, 15))
    assert [f.key for f in report.findings] == ["berth:app.image"]
    assert ecr_image_exists(parse_image(f"ghcr.io/acme/x@sha256:{'e' * 64}")) is None  # type: ignore[arg-type]


def test_ecr_that_refuses_the_role_is_could_not_confirm_naming_the_permission() -> None:
    from botocore.exceptions import ClientError

    class Denied:
        def describe_images(self, **kw: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "DescribeImages"
            )

    ref = f"{HOST}/shipments-api@sha256:{'a' * 64}"
    findings = registry_findings({"berth:app": {"image": ref}}, opener=never_over_http, ecr=lambda region: Denied())
    assert len(findings) == 1 and "could not confirm" in findings[0].problem
    assert "ecr:DescribeImages" in findings[0].problem
