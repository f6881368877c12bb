"""Tests room (policy): the CrossGuard adapter, driven with the args objects the analyzer builds
(no PolicyPack, no gRPC server): violations reach report_violation, unknown preview values
neither crash nor fail, the environment comes from the policy config or the tags."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.adapter import policies
from policy.registry import RULES

REPO = Path(__file__).resolve().parents[2]
KEY = "arn:aws:kms:us-east-1:123456789012:key/abc"
RDS = "aws:rds/instance:Instance"


def opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def by_name(name: str) -> Any:
    return next(p for p in policies() if p.name == name)


def resource_args(type_: str, props: dict[str, Any], config: dict[str, Any] | None = None,
                  name: str = "db") -> ResourceValidationArgs:
    # The analyzer hands rules props wrapped in the proxy that raises on unknown values.
    return ResourceValidationArgs(type_, unknown_checking_proxy(props), f"urn:pulumi:prod::berth::{type_}::{name}",
                                  name, opts(), None, config)


def validate(policy: Any, args: Any) -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: seen.append((message, urn)))
    return seen


def test_every_rule_becomes_a_policy_with_its_metadata() -> None:
    ps = {p.name: p for p in policies()}
    assert set(ps) == {r.id for r in RULES}
    for r in RULES:
        p = ps[r.id]
        assert isinstance(p, ResourceValidationPolicy if r.kind == "resource" else StackValidationPolicy)
        assert p.enforcement_level == EnforcementLevel.MANDATORY
        assert p.severity == Severity(r.severity) and p.remediation_steps == r.remediation
        assert "environment" in p.config_schema.properties


def test_resource_violation_reaches_the_cli() -> None:
    args = resource_args(RDS, {"storageEncrypted": False, "kmsKeyId": KEY, "tags": {"Environment": "prod"}})
    assert validate(by_name("rds-storage-encrypted"), args) == [
        ("storageEncrypted is not true: the database's storage, snapshots and backups are unencrypted", None)
    ]


def test_unknown_preview_values_are_not_judged() -> None:
    args = resource_args(RDS, {"storageEncrypted": UNKNOWN_BOOLEAN_VALUE, "kmsKeyId": UNKNOWN_STRING_VALUE,
                               "multiAz": UNKNOWN_BOOLEAN_VALUE})
    for rule in ("rds-storage-encrypted", "rds-customer-kms-key", "rds-multi-az-prod"):
        assert validate(by_name(rule), args) == []


def test_policy_ignores_other_resource_types() -> None:
    args = resource_args("aws:s3/bucket:Bucket", {"storageEncrypted": False})
    assert validate(by_name("rds-storage-encrypted"), args) == []


@pytest.mark.parametrize(
    ("config", "tags", "violations"),
    [
        ({"environment": "prod"}, {}, 1),
        ({"environment": "staging"}, {"Environment": "prod"}, 0),  # policy config wins over the tag
        ({}, {"Environment": "prod"}, 1),
        ({}, {"Environment": "staging"}, 0),
    ],
)
def test_environment_from_policy_config_or_tags(config: dict[str, Any], tags: dict[str, str],
                                                violations: int) -> None:
    args = resource_args(RDS, {"multiAz": False, "tags": tags}, config)
    assert len(validate(by_name("rds-multi-az-prod"), args)) == violations


def policy_resource(type_: str, name: str, props: dict[str, Any],
                    prop_deps: dict[str, list[PolicyResource]] | None = None) -> PolicyResource:
    deps = [d for ds in (prop_deps or {}).values() for d in ds]
    return PolicyResource(type_, unknown_checking_proxy(props), f"urn:pulumi:prod::berth::{type_}::{name}", name,
                          opts(), None, None, deps, prop_deps or {})


def test_stack_rule_follows_property_dependencies_through_unknowns() -> None:
    db = policy_resource(RDS, "primary", {"arn": UNKNOWN_STRING_VALUE, "tags": {"Environment": "prod"}})
    linked = policy_resource("aws:backup/selection:Selection", "sel",
                             {"planId": UNKNOWN_STRING_VALUE, "resources": [UNKNOWN_STRING_VALUE]},
                             {"resources": [db]})
    policy = by_name("stack-database-backup-selection")
    assert validate(policy, StackValidationArgs([db, linked])) == []

    other = policy_resource("aws:backup/selection:Selection", "sel",
                            {"resources": ["arn:aws:s3:::berth-prod-assets"]})
    assert validate(policy, StackValidationArgs([db, other])) == [
        ("database primary is in no AWS Backup selection", db.urn)
    ]


def test_stack_rule_sees_the_ignore_changes_option_the_engine_sends() -> None:
    """`pulumi preview` hands the resource options over: the node group's ignore_changes reaches the rule."""
    ca = policy_resource("kubernetes:apps/v1:Deployment", "ca", {
        "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system"},
        "spec": {"template": {"spec": {"serviceAccountName": "cluster-autoscaler", "containers": [{
            "name": "ca", "image": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.1",
            "command": ["./cluster-autoscaler", "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/c"]}]}}},
    })
    assoc = policy_resource("aws:eks/podIdentityAssociation:PodIdentityAssociation", "assoc",
                            {"namespace": "kube-system", "serviceAccount": "cluster-autoscaler"})
    props = {"clusterName": "c", "scalingConfig": {"minSize": 2, "maxSize": 4, "desiredSize": 2}}
    policy = by_name("stack-node-autoscaling")
    ignoring = PolicyResource("aws:eks/nodeGroup:NodeGroup", unknown_checking_proxy(props), "urn:ng", "ng",
                              PolicyResourceOptions(False, ["scalingConfig.desiredSize"], None, [],
                                                    PolicyCustomTimeouts(0, 0, 0), []), None, None, [], {})
    assert validate(policy, StackValidationArgs([ca, assoc, ignoring])) == []
    resetting = policy_resource("aws:eks/nodeGroup:NodeGroup", "ng", props)
    (found,) = validate(policy, StackValidationArgs([ca, assoc, resetting]))
    assert "does not ignore scalingConfig.desiredSize" in found[0]


def test_stack_rule_reads_the_stack_outputs() -> None:
    stack = policy_resource("pulumi:pulumi:Stack", "berth-prod", {"connectionBudget": {
        "app_client_connections": 2400, "pgbouncer_max_client_conn": 1200, "pgbouncer_server_connections": 390,
        "database_max_connections": 800, "database_reserved": 40}})
    found = validate(by_name("stack-connection-budget"), StackValidationArgs([stack]))
    assert len(found) == 1 and "2400" in found[0][0]


def test_only_main_builds_a_policy_pack() -> None:
    """Building a PolicyPack starts a server and blocks: nothing importable may do it."""
    builders = [p.relative_to(REPO).as_posix() for p in (REPO / "policy").rglob("*.py")
                if "PolicyPack(" in p.read_text()]
    assert builders == ["policy/__main__.py"]
    yaml_text = (REPO / "policy" / "PulumiPolicy.yaml").read_text()
    assert "name: python" in yaml_text
    assert "pulumi-policy==1.21.0" in (REPO / "policy" / "requirements.txt").read_text()


@contextlib.contextmanager
def served_pack(env: dict[str, str] | None = None) -> Iterator[Any]:
    """Start policy/__main__.py as the CLI does and yield an Analyzer gRPC stub; stop it after."""
    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    proc = subprocess.Popen([sys.executable, "__main__.py"], cwd=REPO / "policy", stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        yield analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    finally:
        proc.kill()
        proc.wait()


def analyze(stub: Any, props: dict[str, Any]) -> list[tuple[str, int]]:
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2

    struct = struct_pb2.Struct()
    struct.update(props)
    resp = stub.Analyze(analyzer_pb2.AnalyzeRequest(
        type=RDS, properties=struct, urn=f"urn:pulumi:prod::berth::{RDS}::db", name="db"), timeout=30)
    return [(d.policyName, d.enforcementLevel) for d in resp.diagnostics]


TAGS = {"Project": "berth", "Environment": "prod", "Stack": "prod", "ManagedBy": "pulumi"}


def test_pack_answers_the_cli_over_grpc() -> None:
    """`pulumi preview --policy-pack policy` starts __main__.py and talks gRPC to it: do the same."""
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    with served_pack() as stub:
        info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
        assert info.name == "berth" and {p.name for p in info.policies} == {r.id for r in RULES}
        found = analyze(stub, {"storageEncrypted": False, "kmsKeyId": KEY, "backupRetentionPeriod": 35,
                               "multiAz": UNKNOWN_BOOLEAN_VALUE, "deletionProtection": True, "tags": TAGS,
                               "dbSubnetGroupName": "berth-prod-db"})
        assert found == [("rds-storage-encrypted", analyzer_pb2.MANDATORY)]


def test_served_pack_reads_the_environment_from_the_stack_config() -> None:
    """The engine hands the analyzer the stack's config: berth:environment makes prod rules apply."""
    env = {"PULUMI_CONFIG": '{"berth:environment": "prod"}', "PULUMI_STACK": "prod", "PULUMI_PROJECT": "berth",
           "PULUMI_DRY_RUN": "true"}
    props = {"storageEncrypted": True, "kmsKeyId": KEY, "backupRetentionPeriod": 35, "multiAz": False,
             "deletionProtection": True, "tags": {**TAGS, "Environment": ""}, "dbSubnetGroupName": "berth-prod-db"}
    with served_pack(env) as stub:
        assert {name for name, _ in analyze(stub, props)} == {"rds-multi-az-prod", "aws-standard-tags"}
    with served_pack({**env, "PULUMI_CONFIG": '{"berth:environment": "staging"}', "PULUMI_STACK": "staging"}) as stub:
        assert {name for name, _ in analyze(stub, props)} == {"aws-standard-tags"}
