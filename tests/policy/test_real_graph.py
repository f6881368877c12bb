"""Tests room (policy): every rule reads the property names the real components emit.

Each case breaks one aspect of the actual prod graph (inputs and outputs, as a code change
would) and expects that rule to name that resource. A rule whose property name drifted
from the pulumi-aws / pulumi-kubernetes wire format would stay silent here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from embedded_cloud import Graph
from embedded_cloud.graph import Node
from policy.evaluator import evaluate, node_props
from policy.registry import RULES
from tests.conftest import Deployed

# The Distribution's `origins` carry the origin-verify secret header, so the offline graph
# redacts the whole list: the two origin rules are proven on the golden fixtures and over
# the analyzer's gRPC protocol instead (the CLI hands policies decrypted values).
REDACTED_OFFLINE = {"cloudfront-s3-origin-oac", "cloudfront-origin-https"}


def node(g: Graph, type_: str, pick: Callable[[dict[str, Any]], bool] = lambda p: True) -> Node:
    return next(n for n in g.nodes if n.type == type_ and pick(node_props(n)))


def edit(n: Node, fn: Callable[[dict[str, Any]], None]) -> str:
    """Apply fn to the inputs and to the outputs (where the cloud echoed them): what a code change does."""
    fn(n.inputs)
    if n.outputs:
        fn(n.outputs)
    return n.urn


def drop(g: Graph, pred: Callable[[Node], bool]) -> None:
    g.nodes = [n for n in g.nodes if not pred(n)]


def set_(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda p: p.__setitem__(key, value)


def pop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda p: p.pop(key, None)


RDS = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
CDN = "aws:cloudfront/distribution:Distribution"
EKS = "aws:eks/cluster:Cluster"
DEP = "kubernetes:apps/v1:Deployment"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def primary(g: Graph) -> Node:
    return node(g, RDS, lambda p: not p.get("replicateSourceDb"))


def app(g: Graph) -> Node:
    return node(g, DEP, lambda p: "pgbouncer" not in str(p["metadata"].get("name", "")) and any(
        "shipments-api" in c["image"] for c in p["spec"]["template"]["spec"]["containers"]))


def app_container(field: str, value: Any) -> Callable[[Graph], str]:
    def mutate(g: Graph) -> str:
        def fn(p: dict[str, Any]) -> None:
            c = p["spec"]["template"]["spec"]["containers"][0]
            if field.startswith("securityContext."):
                c["securityContext"][field.split(".", 1)[1]] = value
            elif value is None:
                c.pop(field, None)
            else:
                c[field] = value

        return edit(app(g), fn)

    return mutate


def _pg_force_ssl_off(p: dict[str, Any]) -> None:
    for param in p["parameters"]:
        if param["name"] == "rds.force_ssl":
            param["value"] = "0"


def _world_ssh(p: dict[str, Any]) -> None:
    p.update(cidrIpv4="0.0.0.0/0", fromPort=22, toPort=22, ipProtocol="tcp", referencedSecurityGroupId=None)


def _no_alarm(metric: str) -> Callable[[Graph], str]:
    def mutate(g: Graph) -> str:
        target = primary(g)
        ident = node_props(target)["identifier"]
        drop(g, lambda n: n.type == ALARM and node_props(n).get("metricName") == metric
             and (node_props(n).get("dimensions") or {}).get("DBInstanceIdentifier") == ident)
        return target.urn

    return mutate


def _no_cache_memory_alarm(g: Graph) -> str:
    drop(g, lambda n: n.type == ALARM and node_props(n).get("metricName") == "DatabaseMemoryUsagePercentage")
    return node(g, CACHE).urn


def _no_selection(g: Graph) -> str:
    edit(node(g, "aws:backup/selection:Selection"), set_("resources", []))
    return primary(g).urn


def _copy_in_region(g: Graph) -> str:
    def fn(p: dict[str, Any]) -> None:
        for rule in p["rules"]:
            for action in rule.get("copyActions") or []:
                action["destinationVaultArn"] = action["destinationVaultArn"].replace("us-west-2", "us-east-1")

    edit(node(g, "aws:backup/plan:Plan"), fn)
    return primary(g).urn


def _tiny_pgbouncer(g: Graph) -> str:
    def fn(p: dict[str, Any]) -> None:
        ini = p["data"]["pgbouncer.ini"]
        p["data"]["pgbouncer.ini"] = "\n".join(
            "max_client_conn = 10" if line.startswith("max_client_conn") else line for line in ini.splitlines())

    edit(node(g, "kubernetes:core/v1:ConfigMap", lambda p: "pgbouncer.ini" in (p.get("data") or {})), fn)
    return primary(g).urn


def _drop_companion(type_: str, match: str) -> Callable[[Graph], str]:
    def mutate(g: Graph) -> str:
        victim = node(g, type_, lambda p: match in str(p.get("bucket")))
        bucket = node(g, "aws:s3/bucket:Bucket", lambda p: p.get("bucket") == node_props(victim)["bucket"])
        drop(g, lambda n: n.urn == victim.urn)
        return bucket.urn

    return mutate


def _k8s_drop(type_: str) -> Callable[[Graph], str]:
    def mutate(g: Graph) -> str:
        target = app(g)
        labels = node_props(target)["spec"]["template"]["metadata"]["labels"]
        drop(g, lambda n: n.type == type_ and (
            n.type.endswith("HorizontalPodAutoscaler") or
            (node_props(n)["spec"]["selector"].get("matchLabels") or {}).items() <= labels.items()))
        return target.urn

    return mutate


JOB = "kubernetes:batch/v1:Job"


def _job_unordered(g: Graph) -> str:
    """Undo the fix: the migrations Job no longer waits for PgBouncer's Deployment, neither
    directly nor through PgBouncer's Service (which it reads its address from)."""
    job = node(g, JOB, lambda p: p["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "shipments.migrate")
    pgbouncer = node(g, DEP, lambda p: p["metadata"].get("name") == "pgbouncer")
    job.dependencies = [d for d in job.dependencies if d != pgbouncer.urn]
    svc = node(g, "kubernetes:core/v1:Service", lambda p: p["metadata"].get("name") == "pgbouncer")
    svc.dependencies = [d for d in svc.dependencies if d != pgbouncer.urn]
    return job.urn


ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def _no_metrics_server(g: Graph) -> str:
    drop(g, lambda n: n.type == ADDON and n.inputs.get("addonName") == "metrics-server")
    return node(g, EKS).urn


def _node_group_resets_desired_size(g: Graph) -> str:
    ng = node(g, NODE_GROUP)
    ng.ignore_changes = []
    return ng.urn


def _dr_replica_in_default_vpc(g: Graph) -> str:
    return edit(node(g, RDS, lambda p: str(p.get("replicateSourceDb", "")).startswith("arn:")),
                pop("dbSubnetGroupName"))


def _service_before_its_pods(g: Graph) -> str:
    svc = node(g, "kubernetes:core/v1:Service", lambda p: p["metadata"].get("name") == "pgbouncer")
    svc.dependencies = [d for d in svc.dependencies if "Deployment" not in d]
    return svc.urn


CASES: dict[str, Callable[[Graph], str]] = {
    "rds-storage-encrypted": lambda g: edit(primary(g), set_("storageEncrypted", False)),
    "rds-customer-kms-key": lambda g: edit(primary(g), pop("kmsKeyId")),
    "rds-not-public": lambda g: edit(primary(g), set_("publiclyAccessible", True)),
    "rds-backup-retention": lambda g: edit(primary(g), set_("backupRetentionPeriod", 1)),
    "rds-multi-az-prod": lambda g: edit(primary(g), set_("multiAz", False)),
    "rds-deletion-protection-prod": lambda g: edit(primary(g), set_("deletionProtection", False)),
    "rds-final-snapshot-prod": lambda g: edit(primary(g), set_("skipFinalSnapshot", True)),
    "rds-performance-insights-encrypted": lambda g: edit(primary(g), pop("performanceInsightsKmsKeyId")),
    "rds-force-ssl": lambda g: edit(node(g, "aws:rds/parameterGroup:ParameterGroup"), _pg_force_ssl_off),
    "elasticache-encryption-at-rest": lambda g: edit(node(g, CACHE), set_("atRestEncryptionEnabled", False)),
    "elasticache-encryption-in-transit": lambda g: edit(node(g, CACHE), set_("transitEncryptionEnabled", False)),
    "elasticache-auth": lambda g: edit(node(g, CACHE), lambda p: [p.pop(k, None) for k in
                                                                ("authToken", "authTokenWo")]),
    "elasticache-failover-prod": lambda g: edit(node(g, CACHE), set_("automaticFailoverEnabled", False)),
    "elasticache-multi-az-prod": lambda g: edit(node(g, CACHE), set_("multiAzEnabled", False)),
    "elasticache-snapshot-retention": lambda g: edit(node(g, CACHE), set_("snapshotRetentionLimit", 0)),
    "cloudfront-https-only": lambda g: edit(node(g, CDN), lambda p: p["defaultCacheBehavior"].update(
        viewerProtocolPolicy="allow-all")),
    "cloudfront-tls-policy": lambda g: edit(node(g, CDN), set_("viewerCertificate", {
        "acmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x",
        "minimumProtocolVersion": "TLSv1", "sslSupportMethod": "sni-only"})),
    "cloudfront-waf-prod": lambda g: edit(node(g, CDN), pop("webAclId")),
    "cloudfront-logging": lambda g: edit(node(g, CDN), pop("loggingConfig")),
    "s3-public-access-blocked": _drop_companion("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "assets"),
    "s3-encryption": _drop_companion(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "assets"),
    "s3-versioning": _drop_companion("aws:s3/bucketVersioning:BucketVersioning", "assets"),
    "eks-secrets-encryption": lambda g: edit(node(g, EKS), pop("encryptionConfig")),
    "eks-audit-logs": lambda g: edit(node(g, EKS), set_("enabledClusterLogTypes", ["api"])),
    "eks-public-endpoint-restricted": lambda g: edit(node(g, EKS), lambda p: p["vpcConfig"].update(
        publicAccessCidrs=["0.0.0.0/0"])),
    "kms-key-rotation": lambda g: edit(node(g, "aws:kms/key:Key"), set_("enableKeyRotation", False)),
    "sg-no-world-ingress": lambda g: edit(node(g, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
                                          _world_ssh),
    "k8s-probes": app_container("livenessProbe", None),
    "k8s-resources": app_container("resources", {"requests": {"cpu": "250m"}}),
    "k8s-run-as-non-root": app_container("securityContext.runAsUser", 0),
    "k8s-read-only-root-fs": app_container("securityContext.readOnlyRootFilesystem", False),
    "k8s-no-privilege-escalation": app_container("securityContext.allowPrivilegeEscalation", True),
    "k8s-image-digest-prod": app_container("image", "ghcr.io/berth/shipments-api:latest"),
    "k8s-deployment-has-pdb": _k8s_drop("kubernetes:policy/v1:PodDisruptionBudget"),
    "k8s-deployment-has-hpa": _k8s_drop("kubernetes:autoscaling/v2:HorizontalPodAutoscaler"),
    "aws-standard-tags": lambda g: edit(node(g, "aws:ec2/vpc:Vpc"), lambda p: p.get("tags", {}).pop("Stack")
                                        and p.get("tagsAll", {}).pop("Stack", None)),
    "cloudwatch-alarm-actions": lambda g: edit(node(g, ALARM), set_("alarmActions", [])),
    "stack-database-alarms": _no_alarm("CPUUtilization"),
    "stack-cache-alarms": _no_cache_memory_alarm,
    "stack-database-backup-selection": _no_selection,
    "stack-backup-cross-region-prod": _copy_in_region,
    "stack-connection-budget": _tiny_pgbouncer,
    "stack-workload-ordering": _job_unordered,
    "stack-service-after-its-pods": _service_before_its_pods,
    "stack-hpa-metrics": _no_metrics_server,
    "stack-node-autoscaling": _node_group_resets_desired_size,
    "engine-minor-versions-float": lambda g: edit(primary(g), set_("engineVersion", "16.4")),
    "rds-own-subnet-group": _dr_replica_in_default_vpc,
    "cloudfront-origin-verifiable": lambda g: edit(node(g, CDN), lambda p: p["origins"][1].update(
        domainName=g.outputs["appLoadBalancerHostname"])),
    "cloudfront-custom-certificate-prod": lambda g: edit(node(g, CDN), set_("viewerCertificate", {
        "cloudfrontDefaultCertificate": True, "minimumProtocolVersion": "TLSv1.2_2021"})),
    "s3-access-logging": _drop_companion("aws:s3/bucketLogging:BucketLogging", "assets"),
    "s3-abort-incomplete-multipart": _drop_companion(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "canary"),
    "stack-teardown-by-environment": lambda g: (setattr(primary(g), "protect", False), primary(g).urn)[1],
    "stack-service-log-groups": lambda g: (drop(g, lambda n: n.type == "aws:cloudwatch/logGroup:LogGroup" and str(
        n.inputs.get("name", "")).endswith("-primary/postgresql")), primary(g).urn)[1],
}


def test_every_rule_is_exercised_on_the_real_graph() -> None:
    assert sorted({r.id for r in RULES} - set(CASES) - REDACTED_OFFLINE) == []


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_catches_a_change_to_the_real_prod_graph(rule_id: str, prod: Deployed) -> None:
    graph = copy.deepcopy(prod.graph)
    before = {(v.rule_id, v.urn) for v in evaluate(graph).violations if v.rule_id == rule_id}
    urn = CASES[rule_id](graph)
    hits = {v.urn for v in evaluate(graph).violations if v.rule_id == rule_id and (v.rule_id, v.urn) not in before}
    assert urn in hits, f"{rule_id} did not flag {urn}"


def test_the_unordered_job_is_named_with_the_backend_it_would_race(prod: Deployed) -> None:
    graph = copy.deepcopy(prod.graph)
    job = _job_unordered(graph)
    found = {v.urn: v.message for v in evaluate(graph).violations if v.rule_id == "stack-workload-ordering"}
    msg = found[job]
    assert "Job 'berth-prod-migrate'" in msg and "Service 'berth-prod-pgbouncer-service'" in msg
    assert "Deployment 'berth-prod-pgbouncer-deployment'" in msg
    # The app's Deployment waited on PgBouncer only through the Job: it is named too.
    assert any("Deployment 'berth-prod-deployment' connects" in m for m in found.values())


def _violations(graph: Graph, rule_id: str) -> dict[str, str]:
    return {v.urn: v.message for v in evaluate(graph).violations if v.rule_id == rule_id}


def test_an_hpa_whose_target_requests_no_cpu_is_named(prod: Deployed) -> None:
    graph = copy.deepcopy(prod.graph)
    app_container("resources", {"limits": {"cpu": "1", "memory": "512Mi"}})(graph)
    found = _violations(graph, "stack-hpa-metrics")
    hpa = node(graph, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
               lambda p: p["spec"]["scaleTargetRef"]["name"] == "shipments-api")
    assert "request no cpu" in found[hpa.urn] and "container(s) api" in found[hpa.urn]


@pytest.mark.parametrize("remove", ["deployment", "identity"])
def test_a_node_group_without_its_autoscaler_or_its_credentials_is_named(prod: Deployed, remove: str) -> None:
    graph = copy.deepcopy(prod.graph)
    if remove == "deployment":
        drop(graph, lambda n: n.type == DEP and n.inputs["metadata"].get("name") == "cluster-autoscaler")
    else:
        drop(graph, lambda n: n.type == "aws:eks/podIdentityAssociation:PodIdentityAssociation"
             and n.inputs.get("serviceAccount") == "cluster-autoscaler")
    found = _violations(graph, "stack-node-autoscaling")
    msg = found[node(graph, NODE_GROUP).urn]
    assert "may grow from 3 to 9 nodes" in msg
    assert ("no node autoscaler" in msg) if remove == "deployment" else ("no pod identity association" in msg)
