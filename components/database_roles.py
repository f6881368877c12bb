"""Components room: the database roles the Shipments API and its migrations log in as.

RDS creates one login, the master user, whose password it keeps in Secrets Manager
(components/database.py). Nothing that runs in the cluster for good gets it: this component
generates two passwords (pulumi_random, kept encrypted in state), for the schema owner (the
migrations) and for the app (rows only), and runs `python -m shipments.bootstrap` (the app's
image) once as a Kubernetes Job that creates those roles in PostgreSQL with their privileges
(app/README.md, *Database roles*). The Job is the one place the master password is read: at
run time, from RDS's managed secret, through EKS Pod Identity with an IAM role of its own that
may read that secret alone; it connects to the primary directly (PgBouncer knows no master)
with TLS verified against RDS's CA bundle. The role passwords reach pods only through
Kubernetes Secrets (this Job's, PgBouncer's userlist, the app's and the migrations' DSNs).

Why a Job of its own and not the migrations Job: PgBouncer (whose userlist holds the roles)
and the migrations must come after the roles exist, and the migrations Job must not hold the
master's credentials. Why not Pulumi itself (a PostgreSQL provider): the database is private
to the VPC; the deployer cannot reach it.

First deploy: the Job waits for the primary (its address is an input) and runs while the
replicas are still being created; PgBouncer's Deployment waits for the Job (`job`), the
migrations for PgBouncer. The Job is idempotent: any later change of its spec (a new image, a
new password) replaces it (`replaceUnready`, and Job templates are immutable) and it runs again;
the role passwords are set before PgBouncer's pods roll with the new userlist. Destroy: the
Job, its Secret and its IAM role go with the stack; the roles live in the database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.base import Component
from components.identity import IdentityNames, workload_identity
from components.placement import region_kw
from components.settings import DatabaseRolesSettings, is_digest
from components.workload import checkov_skips, hardened_container, restricted_pod

NAME = "shipments-db-bootstrap"
UID = 10001
POD_IDENTITY_AGENT = "169.254.170.23/32"
# Inside the Job's deadline: the secret (IAM propagation) and the first connection are retried this long.
CONNECT_TIMEOUT_SECONDS = 300
DEADLINE_SECONDS = 600
_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "shipments",
           "app.kubernetes.io/component": "db-bootstrap"}
_COMMON = {**_LABELS, "app.kubernetes.io/managed-by": "pulumi"}


@dataclass
class DatabaseRolesArgs:
    # Wiring: the cluster (its provider, the workload namespace, its name for Pod Identity) and
    # the database (the primary's address, RDS's managed master secret).
    provider: k8s.Provider
    namespace: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    primary_address: pulumi.Input[str]
    master_secret_arn: pulumi.Input[str]
    # The image (the app's: it holds shipments.bootstrap) and the two role names.
    settings: DatabaseRolesSettings
    # The KMS key the master secret is encrypted with (None: the region's aws/secretsmanager key,
    # usable by whoever may read the secret).
    master_secret_kms_key_arn: pulumi.Input[str] | None = None
    # Where the database lives (the VPC range): the Job's only way out besides DNS, HTTPS and the
    # Pod Identity agent. Required.
    database_cidr: pulumi.Input[str] | None = None
    database_port: int = 5432
    database_name: str = "shipments"
    # The environment pins images by digest (production).
    require_digest: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None

    def __post_init__(self) -> None:
        image = self.settings.image
        if self.require_digest and not is_digest(image):
            raise ValueError(f"image {image!r} must be pinned by digest (repo@sha256:...) in this environment")
        if self.database_cidr is None:
            raise ValueError("database_cidr is required: the bootstrap Job may reach the database's range only")


def _name(metadata: Any) -> str:
    if hasattr(type(metadata), "name"):
        return metadata.name
    return metadata["name"]


class DatabaseRoles(Component):
    """Role passwords + the bootstrap Job (its identity, config, Secret and NetworkPolicy)."""

    owner_username: str
    owner_password: pulumi.Output[str]
    app_username: str
    app_password: pulumi.Output[str]
    job: k8s.batch.v1.Job
    role_arn: pulumi.Output[str]
    service_account_name: str

    def __init__(self, name: str, args: DatabaseRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags)
        self._args = args
        self.use_kubernetes(args.provider, namespace=args.namespace, labels=_COMMON)
        owner_pw, app_pw = self._passwords()
        identity = self._identity()
        config, secret, checksum = self._job_inputs(owner_pw, app_pw)
        network_policy = self._network_policy()
        # The association and the role's policy before the first pod (IAM propagates eventually:
        # shipments.bootstrap retries a refused read for BOOTSTRAP_CONNECT_TIMEOUT).
        self.job = self._job(config, secret, checksum, [config, secret, *identity, network_policy])
        self.register_outputs({
            "ownerUsername": self.owner_username,
            "appUsername": self.app_username,
            "roleArn": self.role_arn,
            "serviceAccountName": self.service_account_name,
        })

    # ---- steps, in dependency order --------------------------------------------------------
    def _passwords(self) -> tuple[random.RandomPassword, random.RandomPassword]:
        """Letters and digits: they end up in DSNs and PgBouncer's userlist."""
        name, s, child = self.prefix, self._args.settings, self.child()
        owner_pw = random.RandomPassword(f"{name}-owner-password", length=32, special=False, opts=child)
        app_pw = random.RandomPassword(f"{name}-app-password", length=32, special=False, opts=child)
        self.owner_username, self.app_username = s.owner_role, s.app_role
        self.owner_password = pulumi.Output.secret(owner_pw.result)
        self.app_password = pulumi.Output.secret(app_pw.result)
        return owner_pw, app_pw

    def _identity(self) -> list[pulumi.Resource]:
        """A service account bound (EKS Pod Identity) to a role that may read RDS's master secret,
        nothing else. Returns what the Job waits for."""
        name, args = self.prefix, self._args
        region = args.region or aws.get_region(opts=pulumi.InvokeOptions(parent=self)).region
        self.service_account_name = NAME
        identity = workload_identity(
            self,
            cluster_name=args.cluster_name,
            namespace=args.namespace,
            service_account=NAME,
            description=f"{name}: the database bootstrap Job (EKS Pod Identity): reads RDS's master secret",
            names=IdentityNames(service_account="db-bootstrap-sa", role="db-bootstrap-role",
                                policy="db-bootstrap-read-master-secret", association="db-bootstrap-pod-identity"),
            policy=pulumi.Output.all(args.master_secret_arn, args.master_secret_kms_key_arn).apply(
                lambda v: json.dumps(_policy(v[0], v[1], region))
            ),
            automount_token=False,
            # The Job waits for the policy itself (and shipments.bootstrap retries a refused read
            # while IAM propagates): the association need not.
            association_waits_for_policy=False,
            region_kw=region_kw(args.region),
        )
        self.role_arn = identity.role.arn
        assert identity.policy is not None
        return [identity.service_account, identity.association, identity.policy]

    def _job_inputs(self, owner_pw: random.RandomPassword, app_pw: random.RandomPassword
                    ) -> tuple[k8s.core.v1.ConfigMap, k8s.core.v1.Secret, pulumi.Output[str]]:
        """What the Job reads: settings (ConfigMap) and the role passwords (Secret), and a digest of
        both for the pod template."""
        name, args, s = self.prefix, self._args, self._args.settings
        config_data = pulumi.Output.all(args.master_secret_arn, args.primary_address).apply(lambda v: {
            "MASTER_SECRET_ARN": v[0],
            "DATABASE_HOST": v[1],
            "DATABASE_PORT": str(args.database_port),
            "DATABASE_NAME": args.database_name,
            "OWNER_ROLE": s.owner_role,
            "APP_ROLE": s.app_role,
            "BOOTSTRAP_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS),
        })
        config = k8s.core.v1.ConfigMap(
            f"{name}-db-bootstrap-config", metadata=self.meta(), data=config_data, immutable=True, opts=self.k8s()
        )
        secret_data = pulumi.Output.secret(
            pulumi.Output.all(owner_pw.result, app_pw.result).apply(
                lambda v: {"OWNER_PASSWORD": v[0], "APP_PASSWORD": v[1]}
            )
        )
        secret = k8s.core.v1.Secret(
            f"{name}-db-bootstrap-secret", metadata=self.meta(), type="Opaque", string_data=secret_data,
            immutable=True, opts=self.k8s(),
        )
        # A new password or setting is a new Job spec (Job templates are immutable, so the Job is
        # replaced and runs again). It reveals nothing.
        checksum = pulumi.Output.unsecret(
            pulumi.Output.all(config_data, secret_data).apply(
                lambda v: hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest()
            )
        )
        return config, secret, checksum

    def _network_policy(self) -> k8s.networking.v1.NetworkPolicy:
        """Its only ways out: DNS, the database, HTTPS (Secrets Manager, RDS's CA bundle), the agent."""
        args = self._args
        return k8s.networking.v1.NetworkPolicy(
            f"{self.prefix}-db-bootstrap-policy",
            metadata=self.meta(f"{NAME}-egress"),
            spec={
                "pod_selector": {"match_labels": _LABELS},
                "policy_types": ["Ingress", "Egress"],
                "egress": [
                    {"to": [{"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "kube-system"}},
                             "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}}}],
                     "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                    {"to": [{"ip_block": {"cidr": args.database_cidr}}],
                     "ports": [{"protocol": "TCP", "port": args.database_port}]},
                    {"to": [{"ip_block": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
                    {"to": [{"ip_block": {"cidr": POD_IDENTITY_AGENT}}], "ports": [{"protocol": "TCP", "port": 80}]},
                ],
            },
            opts=self.k8s(),
        )

    def _job(self, config: k8s.core.v1.ConfigMap, secret: k8s.core.v1.Secret, checksum: pulumi.Output[str],
             depends_on: list[pulumi.Resource]) -> k8s.batch.v1.Job:
        """`python -m shipments.bootstrap` once, hardened; replaced (and run again) when its spec changes."""
        skip = checkov_skips(("CKV_K8S_35", "the passwords reach the process as env vars from a Secret via "
                                            "envFrom, never as literals"))
        return k8s.batch.v1.Job(
            f"{self.prefix}-db-bootstrap",
            metadata=self.meta(annotations={**skip, "pulumi.com/replaceUnready": "true"}),
            spec={
                "backoff_limit": 3,
                "active_deadline_seconds": DEADLINE_SECONDS,
                "template": {
                    "metadata": {"labels": _LABELS, "annotations": {"berth.dev/config-checksum": checksum}},
                    "spec": {
                        "service_account_name": NAME,
                        "automount_service_account_token": False,
                        "restart_policy": "Never",
                        "security_context": restricted_pod(UID),
                        "containers": [{
                            "name": "bootstrap",
                            "image": self._args.settings.image,
                            "image_pull_policy": "Always",
                            "command": ["python", "-m", "shipments.bootstrap"],
                            "env_from": [{"config_map_ref": {"name": config.metadata.apply(_name)}},
                                         {"secret_ref": {"name": secret.metadata.apply(_name)}}],
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                          "limits": {"cpu": "500m", "memory": "256Mi"}},
                            "security_context": hardened_container(UID),
                            "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
                        }],
                        "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "16Mi"}}],
                    },
                },
            },
            opts=self.k8s(depends_on=depends_on, custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m")),
        )


def _policy(secret_arn: str, kms_key_arn: str | None, region: str) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [{
        "Sid": "ReadTheMasterSecret",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Resource": secret_arn,
    }]
    if kms_key_arn:
        statements.append({
            "Sid": "DecryptItThroughSecretsManager",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": kms_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
        })
    return {"Version": "2012-10-17", "Statement": statements}
