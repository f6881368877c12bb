"""Tests room (policy): a small, fully compliant stack, and one mutation per rule.

`golden()` builds a prod-shaped stack on the wire (camelCase props, as the CLI and the
offline graph present them) that every rule passes: it is each rule's passing fixture.
`MUTATIONS[rule_id]` breaks exactly one aspect of it: that rule's failing fixture. Tests
assert the broken stack violates that rule and no other. A new rule without an entry
here fails the suite.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from policy.core import Resource, StackView

ACCOUNT = "123456789012"
REGION = "us-east-1"
DR_REGION = "us-west-2"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111aaaa-2222-3333-4444-555566667777"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:berth-prod-alarms"
CERT_ARN = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/abcd"
WAF_ARN = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/berth-prod/1234"
DIGEST = "sha256:" + "ab" * 32
PRIMARY_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:berth-prod-primary"

TAGS = {"Project": "berth", "Environment": "prod", "Stack": "prod", "ManagedBy": "pulumi"}

PGBOUNCER_INI = """\
[databases]
shipments = host=primary.example port=5432 dbname=shipments pool_size=60
shipments_ro = host=replica.example port=5432 dbname=shipments pool_size=60

[pgbouncer]
listen_port = 6432
default_pool_size = 60
reserve_pool_size = 10
max_client_conn = 400
"""


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:prod::berth::{type_}::{name}"


def res(type_: str, name: str, props: dict[str, Any], *, tags: bool = True, **kw: Any) -> Resource:
    if tags:
        props = {**props, "tags": dict(TAGS)}
    return Resource(type=type_, name=name, urn=urn(type_, name), props=props, region=REGION, **kw)


def container(name: str, image: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "readinessProbe": {"httpGet": {"path": "/api/health/ready", "port": 8000}},
        "livenessProbe": {"httpGet": {"path": "/api/health", "port": 8000}},
        **extra,
    }


def deployment(name: str, labels: dict[str, str], replicas: int, containers: list[dict[str, Any]],
               volumes: list[dict[str, Any]] | None = None, namespace: str = "shipments",
               service_account: str | None = None, **kw: Any) -> Resource:
    return res("kubernetes:apps/v1:Deployment", name, {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"securityContext": {"runAsNonRoot": True}, "containers": containers,
                         "volumes": volumes or [],
                         **({"serviceAccountName": service_account} if service_account else {})},
            },
        },
    }, tags=False, **kw)


def pdb(name: str, labels: dict[str, str], namespace: str = "shipments") -> Resource:
    return res("kubernetes:policy/v1:PodDisruptionBudget", f"{name}-pdb", {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}},
    }, tags=False)


def hpa(name: str, target: str, max_replicas: int, namespace: str = "shipments") -> Resource:
    return res("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", f"{name}-hpa", {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 3,
            "maxReplicas": max_replicas,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
    }, tags=False)


def alarm(name: str, metric: str, dims: dict[str, str]) -> Resource:
    return res("aws:cloudwatch/metricAlarm:MetricAlarm", name, {
        "name": name, "metricName": metric, "namespace": "AWS/RDS", "dimensions": dims,
        "alarmActions": [TOPIC_ARN], "okActions": [TOPIC_ARN],
    })


def golden() -> StackView:
    app_labels = {"app.kubernetes.io/name": "shipments-api"}
    pgb_labels = {"app.kubernetes.io/name": "pgbouncer"}
    ca_labels = {"app.kubernetes.io/name": "cluster-autoscaler"}
    rds_common = {
        "storageEncrypted": True, "kmsKeyId": KEY_ARN, "publiclyAccessible": False,
        "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": KEY_ARN, "region": REGION,
    }
    resources = [
        res("aws:kms/key:Key", "key", {"enableKeyRotation": True, "arn": KEY_ARN}),
        res("aws:rds/parameterGroup:ParameterGroup", "pg", {
            "name": "berth-prod-pg", "family": "postgres16",
            "parameters": [{"name": "rds.force_ssl", "value": "1"}, {"name": "max_connections", "value": "800"}],
        }),
        res("aws:rds/instance:Instance", "primary", {
            **rds_common, "identifier": "berth-prod-primary", "arn": PRIMARY_ARN, "backupRetentionPeriod": 35,
            "multiAz": True, "deletionProtection": True, "skipFinalSnapshot": False,
            "parameterGroupName": "berth-prod-pg", "engineVersion": "16", "autoMinorVersionUpgrade": True,
            "dbSubnetGroupName": "berth-prod-db", "address": "primary.example",
            "enabledCloudwatchLogsExports": ["postgresql"],
        }, protect=True, dependencies=[urn("aws:cloudwatch/logGroup:LogGroup", "primary-postgresql-logs")]),
        res("aws:cloudwatch/logGroup:LogGroup", "primary-postgresql-logs", {
            "name": "/aws/rds/instance/berth-prod-primary/postgresql", "retentionInDays": 30, "kmsKeyId": KEY_ARN,
        }),
        res("aws:rds/instance:Instance", "replica", {
            **rds_common, "identifier": "berth-prod-replica-1", "replicateSourceDb": "berth-prod-primary",
            "arn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:berth-prod-replica-1", "parameterGroupName": "berth-prod-pg",
            "autoMinorVersionUpgrade": True, "address": "replica.example",
        }),
        res("aws:elasticache/replicationGroup:ReplicationGroup", "cache", {
            "replicationGroupId": "berth-prod-cache", "atRestEncryptionEnabled": True, "kmsKeyId": KEY_ARN,
            "transitEncryptionEnabled": True, "transitEncryptionMode": "required", "authToken": "[secret]",
            "automaticFailoverEnabled": True, "multiAzEnabled": True, "snapshotRetentionLimit": 14,
            "memberClusters": ["berth-prod-cache-001", "berth-prod-cache-002"],
        }),
        alarm("primary-cpu", "CPUUtilization", {"DBInstanceIdentifier": "berth-prod-primary"}),
        alarm("primary-storage", "FreeStorageSpace", {"DBInstanceIdentifier": "berth-prod-primary"}),
        alarm("replica-cpu", "CPUUtilization", {"DBInstanceIdentifier": "berth-prod-replica-1"}),
        alarm("replica-storage", "FreeStorageSpace", {"DBInstanceIdentifier": "berth-prod-replica-1"}),
        alarm("replica-lag", "ReplicaLag", {"DBInstanceIdentifier": "berth-prod-replica-1"}),
        alarm("cache-cpu", "EngineCPUUtilization", {"CacheClusterId": "berth-prod-cache-001"}),
        alarm("cache-memory", "DatabaseMemoryUsagePercentage", {"ReplicationGroupId": "berth-prod-cache"}),
        res("aws:backup/vault:Vault", "vault", {"name": "berth-prod", "kmsKeyArn": KEY_ARN}, protect=True),
        res("aws:backup/plan:Plan", "plan", {
            "id": "plan-1",
            "rules": [{
                "ruleName": "daily", "targetVaultName": "berth-prod", "schedule": "cron(0 5 * * ? *)",
                "copyActions": [{"destinationVaultArn":
                                 f"arn:aws:backup:{DR_REGION}:{ACCOUNT}:backup-vault:berth-prod-dr"}],
            }],
        }),
        res("aws:backup/selection:Selection", "selection", {
            "planId": "plan-1", "name": "databases", "resources": [PRIMARY_ARN],
            "iamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/backup",
        }, tags=False),
        res("aws:s3/bucket:Bucket", "assets", {"bucket": "berth-prod-assets"}, protect=True),
        res("aws:s3/bucket:Bucket", "logs", {"bucket": "berth-prod-logs"}),
        *[
            r
            for b in ("berth-prod-assets", "berth-prod-logs")
            for r in (
                res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{b}-pab", {
                    "bucket": b, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
                    "restrictPublicBuckets": True,
                }, tags=False),
                res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                    f"{b}-sse", {"bucket": b, "rules": [{"applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}}]}, tags=False),
            )
        ],
        res("aws:s3/bucketVersioning:BucketVersioning", "assets-versioning", {
            "bucket": "berth-prod-assets", "versioningConfiguration": {"status": "Enabled"},
        }, tags=False),
        *[res("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{b}-lifecycle", {
            "bucket": b, "rules": [{"id": "abort", "status": "Enabled", "filter": {"prefix": ""},
                                    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}],
        }, tags=False) for b in ("berth-prod-assets", "berth-prod-logs")],
        res("aws:s3/bucketLogging:BucketLogging", "assets-logging", {
            "bucket": "berth-prod-assets", "targetBucket": "berth-prod-logs", "targetPrefix": "s3/",
        }, tags=False),
        res("aws:cloudfront/distribution:Distribution", "cdn", {
            "enabled": True,
            "origins": [
                {"originId": "assets", "domainName": "berth-prod-assets.s3.us-east-1.amazonaws.com",
                 "originAccessControlId": "E2OAC"},
                {"originId": "app", "domainName": "prod-origin.shipments.example.com",
                 "customOriginConfig": {"originProtocolPolicy": "https-only", "originSslProtocols": ["TLSv1.2"],
                                        "httpPort": 80, "httpsPort": 443}},
            ],
            "defaultCacheBehavior": {"targetOriginId": "app", "viewerProtocolPolicy": "redirect-to-https"},
            "orderedCacheBehaviors": [{"pathPattern": "/static/*", "targetOriginId": "assets",
                                       "viewerProtocolPolicy": "https-only"}],
            "viewerCertificate": {"acmCertificateArn": CERT_ARN, "minimumProtocolVersion": "TLSv1.2_2021",
                                  "sslSupportMethod": "sni-only"},
            "loggingConfig": {"bucket": "berth-prod-logs.s3.amazonaws.com", "prefix": "cdn/"},
            "webAclId": WAF_ARN,
        }),
        res("aws:eks/cluster:Cluster", "eks", {
            "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY_ARN}},
            "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
            "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": True,
                          "publicAccessCidrs": ["203.0.113.0/24"]},
        }),
        res("aws:eks/addon:Addon", "metrics-server", {"clusterName": "berth-prod", "addonName": "metrics-server"}),
        res("aws:eks/nodeGroup:NodeGroup", "nodes", {
            "clusterName": "berth-prod", "nodeGroupName": "berth-prod-nodes-1",
            "scalingConfig": {"minSize": 3, "maxSize": 9, "desiredSize": 3},
        }, ignore_changes=["scalingConfig.desiredSize"]),
        deployment("cluster-autoscaler", ca_labels, 2, [
            container("cluster-autoscaler", f"registry.k8s.io/autoscaling/cluster-autoscaler@{DIGEST}", command=[
                "./cluster-autoscaler", "--cloud-provider=aws",
                "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
                "k8s.io/cluster-autoscaler/berth-prod"]),
        ], namespace="kube-system", service_account="cluster-autoscaler"),
        pdb("cluster-autoscaler", ca_labels, namespace="kube-system"),
        hpa("cluster-autoscaler", "cluster-autoscaler", 2, namespace="kube-system"),
        res("aws:eks/podIdentityAssociation:PodIdentityAssociation", "ca-identity", {
            "clusterName": "berth-prod", "namespace": "kube-system", "serviceAccount": "cluster-autoscaler",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/berth-prod-cluster-autoscaler",
        }),
        res("aws:ec2/securityGroup:SecurityGroup", "lb-sg", {
            "ingress": [
                {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]},
                {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": ["sg-nodes"]},
            ],
            "egress": [],
        }),
        res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "lb-http", {
            "securityGroupId": "sg-lb", "ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIpv4": "0.0.0.0/0",
        }),
        res("aws:ec2/securityGroupRule:SecurityGroupRule", "cache-from-nodes", {
            "type": "ingress", "protocol": "tcp", "fromPort": 6379, "toPort": 6379,
            "securityGroupId": "sg-cache", "sourceSecurityGroupId": "sg-nodes",
        }, tags=False),
        res("kubernetes:core/v1:ConfigMap", "app-config", {
            "metadata": {"name": "app-config", "namespace": "shipments"},
            "data": {"DB_POOL_MAX": "10", "LOG_LEVEL": "info"},
        }, tags=False),
        deployment("app", app_labels, 3, [
            container("api", f"ghcr.io/berth/shipments-api@{DIGEST}",
                      envFrom=[{"configMapRef": {"name": "app-config"}}]),
        ]),
        pdb("app", app_labels),
        hpa("app", "app", 12),
        res("kubernetes:core/v1:ConfigMap", "pgbouncer-config", {
            "metadata": {"name": "pgbouncer-config", "namespace": "shipments"},
            "data": {"pgbouncer.ini": PGBOUNCER_INI},
        }, tags=False, property_dependencies={"data": [urn("aws:rds/instance:Instance", "primary"),
                                                        urn("aws:rds/instance:Instance", "replica")]}),
        deployment("pgbouncer", pgb_labels, 3, [
            container("pgbouncer", f"ghcr.io/cloudnative-pg/pgbouncer@{DIGEST}"),
            container("exporter", f"prometheuscommunity/pgbouncer-exporter@{DIGEST}"),
        ], volumes=[{"name": "config", "configMap": {"name": "pgbouncer-config"}}],
            dependencies=[urn("kubernetes:core/v1:ConfigMap", "pgbouncer-config")]),
        res("kubernetes:core/v1:Service", "pgbouncer-service", {
            "metadata": {"name": "pgbouncer", "namespace": "shipments"},
            "spec": {"type": "ClusterIP", "selector": pgb_labels, "ports": [{"port": 6432}]},
        }, tags=False, dependencies=[urn("kubernetes:apps/v1:Deployment", "pgbouncer")]),
        res("kubernetes:core/v1:Secret", "app-secret", {
            "metadata": {"name": "app-secret", "namespace": "shipments"},
            "stringData": {"DATABASE_URL": "postgresql://u:[secret]@pgbouncer.shipments.svc.cluster.local:6432/x"},
        }, tags=False),
        pdb("pgbouncer", pgb_labels),
        hpa("pgbouncer", "pgbouncer", 3),
        res("kubernetes:batch/v1:Job", "migrate", {
            "metadata": {"name": "migrate", "namespace": "shipments"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "securityContext": {"runAsNonRoot": True},
                                           "containers": [{k: v for k, v in container(
                                               "migrate", f"ghcr.io/berth/shipments-api@{DIGEST}",
                                               envFrom=[{"secretRef": {"name": "app-secret"}}]).items()
                                               if not k.endswith("Probe")}]}}},
        }, tags=False, dependencies=[urn("kubernetes:apps/v1:Deployment", "pgbouncer")]),
    ]
    return StackView(resources=resources, region=REGION)


# ---- mutations: each breaks exactly one rule's aspect -----------------------------------------
def props(view: StackView, name: str) -> dict[str, Any]:
    found = [r for r in view.resources if r.name == name]
    assert len(found) == 1, name
    return found[0].props


def drop(view: StackView, name: str) -> None:
    view.resources = [r for r in view.resources if r.name != name]


def pod(view: StackView, name: str) -> dict[str, Any]:
    return props(view, name)["spec"]["template"]["spec"]


def api(view: StackView) -> dict[str, Any]:
    return pod(view, "app")["containers"][0]


Mutation = tuple[str, Callable[[StackView], None], str]  # (offender, mutate, environment)


def _set(name: str, key: str, value: Any) -> Callable[[StackView], None]:
    def mutate(v: StackView) -> None:
        props(v, name)[key] = value

    return mutate


def _del(name: str, key: str) -> Callable[[StackView], None]:
    def mutate(v: StackView) -> None:
        del props(v, name)[key]

    return mutate


def _chain(*fns: Callable[[StackView], None]) -> Callable[[StackView], None]:
    def mutate(v: StackView) -> None:
        for fn in fns:
            fn(v)

    return mutate


MUTATIONS: dict[str, Mutation] = {
    "rds-storage-encrypted": ("primary", _set("primary", "storageEncrypted", False), "prod"),
    "rds-customer-kms-key": ("primary", _set("primary", "kmsKeyId", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/rds"),
                             "prod"),
    "rds-not-public": ("primary", _set("primary", "publiclyAccessible", True), "prod"),
    "rds-backup-retention": ("primary", _set("primary", "backupRetentionPeriod", 7), "prod"),
    "rds-multi-az-prod": ("primary", _set("primary", "multiAz", False), "prod"),
    "rds-deletion-protection-prod": ("primary", _set("primary", "deletionProtection", False), "prod"),
    "rds-final-snapshot-prod": ("primary", _set("primary", "skipFinalSnapshot", True), "prod"),
    "rds-performance-insights-encrypted": ("primary", _del("primary", "performanceInsightsKmsKeyId"), "prod"),
    "rds-force-ssl": ("pg", lambda v: props(v, "pg")["parameters"][0].update(value="0"), "prod"),
    "elasticache-encryption-at-rest": ("cache", _set("cache", "atRestEncryptionEnabled", False), "prod"),
    "elasticache-encryption-in-transit": ("cache", _set("cache", "transitEncryptionEnabled", False), "prod"),
    "elasticache-auth": ("cache", _del("cache", "authToken"), "prod"),
    "elasticache-failover-prod": ("cache", _set("cache", "automaticFailoverEnabled", False), "prod"),
    "elasticache-multi-az-prod": ("cache", _set("cache", "multiAzEnabled", False), "prod"),
    "elasticache-snapshot-retention": ("cache", _set("cache", "snapshotRetentionLimit", 1), "prod"),
    "cloudfront-https-only": ("cdn", lambda v: props(v, "cdn")["defaultCacheBehavior"].update(
        viewerProtocolPolicy="allow-all"), "prod"),
    "cloudfront-tls-policy": ("cdn", lambda v: props(v, "cdn")["viewerCertificate"].update(
        minimumProtocolVersion="TLSv1.2_2019"), "prod"),
    "cloudfront-s3-origin-oac": ("cdn", lambda v: props(v, "cdn")["origins"][0].pop("originAccessControlId"),
                                 "prod"),
    "cloudfront-origin-https": ("cdn", lambda v: props(v, "cdn")["origins"][1]["customOriginConfig"].update(
        originProtocolPolicy="http-only"), "prod"),
    "cloudfront-waf-prod": ("cdn", _del("cdn", "webAclId"), "prod"),
    "cloudfront-logging": ("cdn", _del("cdn", "loggingConfig"), "prod"),
    "s3-public-access-blocked": ("assets", lambda v: drop(v, "berth-prod-assets-pab"), "prod"),
    "s3-encryption": ("assets", lambda v: drop(v, "berth-prod-assets-sse"), "prod"),
    "s3-versioning": ("assets", lambda v: props(v, "assets-versioning")["versioningConfiguration"].update(
        status="Suspended"), "prod"),
    "eks-secrets-encryption": ("eks", lambda v: props(v, "eks")["encryptionConfig"].update(resources=[]), "prod"),
    "eks-audit-logs": ("eks", _set("eks", "enabledClusterLogTypes", ["api", "authenticator"]), "prod"),
    "eks-public-endpoint-restricted": ("eks", lambda v: props(v, "eks")["vpcConfig"].update(
        publicAccessCidrs=["0.0.0.0/0"]), "prod"),
    "kms-key-rotation": ("key", _set("key", "enableKeyRotation", False), "prod"),
    "sg-no-world-ingress": ("lb-sg", lambda v: props(v, "lb-sg")["ingress"].append(
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}), "prod"),
    "k8s-probes": ("app", lambda v: api(v).pop("readinessProbe"), "prod"),
    "k8s-resources": ("app", lambda v: api(v)["resources"]["limits"].pop("cpu"), "prod"),
    "k8s-run-as-non-root": ("app", lambda v: api(v)["securityContext"].update(runAsUser=0), "prod"),
    "k8s-read-only-root-fs": ("app", lambda v: api(v)["securityContext"].update(readOnlyRootFilesystem=False),
                              "prod"),
    "k8s-no-privilege-escalation": ("app", lambda v: api(v)["securityContext"].update(
        allowPrivilegeEscalation=True), "prod"),
    "k8s-image-digest-prod": ("app", lambda v: api(v).update(image="ghcr.io/berth/shipments-api:0.1.0"), "prod"),
    "k8s-deployment-has-pdb": ("app", lambda v: drop(v, "app-pdb"), "prod"),
    "k8s-deployment-has-hpa": ("app", lambda v: drop(v, "app-hpa"), "prod"),
    "aws-standard-tags": ("key", lambda v: props(v, "key")["tags"].pop("ManagedBy"), "prod"),
    "cloudwatch-alarm-actions": ("cache-cpu", _set("cache-cpu", "alarmActions", []), "prod"),
    "stack-database-alarms": ("primary", lambda v: drop(v, "primary-cpu"), "prod"),
    "stack-cache-alarms": ("cache", lambda v: drop(v, "cache-memory"), "prod"),
    "stack-database-backup-selection": ("primary", _set("selection", "resources", []), "prod"),
    "stack-backup-cross-region-prod": ("primary", lambda v: props(v, "plan")["rules"][0]["copyActions"][0].update(
        destinationVaultArn=f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:berth-prod-copy"), "prod"),
    "stack-connection-budget": ("primary", lambda v: props(v, "pgbouncer-config")["data"].update(
        {"pgbouncer.ini": PGBOUNCER_INI.replace("max_client_conn = 400", "max_client_conn = 50")}), "prod"),
    "engine-minor-versions-float": ("primary", _set("primary", "engineVersion", "16.4"), "prod"),
    "rds-own-subnet-group": ("primary", _del("primary", "dbSubnetGroupName"), "prod"),
    "stack-teardown-by-environment": ("primary", lambda v: setattr(
        next(r for r in v.resources if r.name == "primary"), "protect", False), "prod"),
    "cloudfront-origin-verifiable": ("cdn", lambda v: props(v, "cdn")["origins"][1].update(
        domainName="nlb-123.elb.us-east-1.amazonaws.com"), "prod"),
    "cloudfront-custom-certificate-prod": ("cdn", _set("cdn", "viewerCertificate", {
        "cloudfrontDefaultCertificate": True, "minimumProtocolVersion": "TLSv1.2_2021"}), "prod"),
    "s3-access-logging": ("assets", lambda v: drop(v, "assets-logging"), "prod"),
    "s3-abort-incomplete-multipart": ("assets", lambda v: drop(v, "berth-prod-assets-lifecycle"), "prod"),
    "stack-hpa-metrics": ("eks", lambda v: drop(v, "metrics-server"), "prod"),
    "stack-node-autoscaling": ("nodes", lambda v: next(
        r for r in v.resources if r.name == "nodes").ignore_changes.clear(), "prod"),
    "stack-service-after-its-pods": ("pgbouncer-service", lambda v: next(
        r for r in v.resources if r.name == "pgbouncer-service").dependencies.clear(), "prod"),
    "stack-service-log-groups": ("primary", lambda v: drop(v, "primary-postgresql-logs"), "prod"),
    "stack-workload-ordering": ("migrate", lambda v: next(
        r for r in v.resources if r.name == "migrate").dependencies.clear(), "prod"),
}


def broken(rule_id: str) -> tuple[StackView, Resource, str]:
    """The golden stack with rule_id's mutation applied: (stack, offending resource, environment)."""
    offender, mutate, env = MUTATIONS[rule_id]
    view = copy.deepcopy(golden())
    mutate(view)
    target = next(r for r in view.resources if r.name == offender)
    return view, target, env
