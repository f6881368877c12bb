"""Components room: the Shipments API on Kubernetes.

In the cluster's workload namespace: a service account bound to an IAM role through EKS
Pod Identity; a ConfigMap of non-secret settings and a Secret with the connection URLs
(PgBouncer read-write and read-only pools as the app's database role, Redis over TLS with its
auth token), both immutable and auto-named so a change rolls the pods; a migrations Job the
Deployment waits for, with a Secret of its own (the schema owner's DSN: the app's pods never
see it); the Deployment (rolling with maxUnavailable 0, probes, requests/limits, restricted
security context, zone spread, graceful drain); an autoscaling/v2 HPA; a PDB; an
internet-facing NLB Service terminating TLS with an ACM certificate (its hostname is the
CDN's app origin); NetworkPolicies: default deny, ingress to the API port only from the VPC
(the load balancer's path through the nodes), to the health port (the kubelet's probes) from the
nodes and to the metrics port only from the monitoring namespace, egress only to PgBouncer, Redis, DNS and the pod identity agent (the migrations
Job: DNS and PgBouncer only).

Least privilege: the app trusts forwarded headers (CloudFront's X-Viewer-Address, with the origin
secret) only from the VPC range (FORWARDED_ALLOW_IPS = load_balancer_source_cidrs, never "*");
Prometheus' /metrics is served on METRICS_PORT, which the Service does not expose; no pod gets
the RDS master credentials (components/database_roles.py).

Env var names, port and commands follow app/README.md (app/shipments/settings.py).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.base import Component
from components.certificates import dns_validated_certificate
from components.identity import IdentityNames, workload_identity
from components.placement import region_kw
from components.settings import (
    ORIGIN_READ_TIMEOUT_SECONDS,
    REQUEST_BUDGET_MARGIN_SECONDS,
    AppSettings,
    is_digest,
)
from components.workload import checkov_skips, hardened_container, restricted_pod

APP_NAME = "shipments-api"
PORT = 8000
# The metrics listener (shipments.server): reached from the monitoring namespace only, on no Service.
METRICS_PORT = 9100
# The health listener (shipments.server): liveness and readiness, where the kubelet probes; on no
# Service, so client traffic through the load balancer cannot starve the probes.
HEALTH_PORT = 8081
# Prometheus: the namespace allowed to scrape the metrics port.
METRICS_NAMESPACE = "monitoring"
UID = 10001
# The EKS Pod Identity agent's link-local endpoint (credentials for the service account's role).
POD_IDENTITY_AGENT = "169.254.170.23/32"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# How long `shipments.migrate` keeps retrying its first connection, and the Job's deadline.
MIGRATE_CONNECT_TIMEOUT_SECONDS = 300
MIGRATE_DEADLINE_SECONDS = 600
# Stopping a pod: the preStop pause (endpoints and the NLB deregister it), the app's drain,
# uvicorn's graceful timeout; the grace period covers all three with room to spare.
PRE_STOP_SECONDS = 5
DRAIN_SECONDS = 5
GRACEFUL_TIMEOUT_SECONDS = 20
TERMINATION_GRACE_SECONDS = PRE_STOP_SECONDS + DRAIN_SECONDS + GRACEFUL_TIMEOUT_SECONDS + 15
LABELS = {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/part-of": "shipments",
          "app.kubernetes.io/component": "api"}
_COMMON = {**LABELS, "app.kubernetes.io/managed-by": "pulumi"}
_MIGRATE_LABELS = {**LABELS, "app.kubernetes.io/component": "migrations"}
# The pod shape the migrations Job and the Deployment share.
_CONTAINER_SECURITY = hardened_container(UID)
_POD_SECURITY = restricted_pod(UID)
_TMP = {"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}
_ENV_SKIP = ("CKV_K8S_35", "the app reads its DSNs from env vars (12-factor); they come from a Secret "
                           "via envFrom, never as literals")


@dataclass
class AppArgs:
    # Wiring: the cluster (provider, workload namespace, its name for Pod Identity).
    provider: k8s.Provider
    namespace: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    # PgBouncer in front of the database (read-write and read-only pools), as the app's role:
    # rows only (components/database_roles.py).
    db_host: pulumi.Input[str]
    db_port: int
    db_username: pulumi.Input[str]
    db_password: pulumi.Input[str]
    redis_host: pulumi.Input[str]
    redis_port: int
    redis_auth_token: pulumi.Input[str]
    # Image, scale, resources and the Shipments API's own settings.
    settings: AppSettings
    rw_database: str = "shipments"
    ro_database: str = "shipments_ro"
    # The schema owner, for the migrations Job only, through PgBouncer's migrations database.
    # Unset: the Job migrates with the app's DSN (a database whose app user owns the schema).
    migration_username: pulumi.Input[str] | None = None
    migration_password: pulumi.Input[str] | None = None
    migration_database: str = "shipments_migrate"
    # Labels of the PgBouncer pods: the app's egress to them is allowed (PgBouncer's own policy
    # admits the app's pods).
    pgbouncer_pod_labels: Mapping[str, str] = field(default_factory=dict)
    # What must be ready before the migrations Job starts: the workloads behind the endpoints
    # the app connects to (PgBouncer's Deployment, which itself waits for every database
    # instance). A Service exists at once, its endpoints do not: without this the Job starts
    # against a Service with no endpoints while RDS is still being created.
    wait_for: Sequence[pulumi.Resource] = ()
    # Where the Redis nodes live (the data subnets / VPC range): egress on redis_port only.
    redis_cidrs: Sequence[pulumi.Input[str]] = ()
    # Where the load balancer's traffic comes from once inside the VPC (the nodes forwarding
    # from the node port): ingress to the app only from these ranges, and the only peers whose
    # forwarded headers the app believes (FORWARDED_ALLOW_IPS). Required: an empty `from` would
    # admit everyone, and "trust any peer" is what this replaces.
    load_balancer_source_cidrs: Sequence[pulumi.Input[str]] = ()
    # The name CloudFront reaches the load balancer by, in the public zone `hosted_zone_id` (a
    # stack resolves `settings.origin_domain` or its default to it): the App gets it an ACM
    # certificate in its own region (DNS-validated in that zone), terminates TLS with it on the
    # NLB and points the name at the NLB, so CloudFront's TLS check of the origin (certificate
    # name = origin domain) passes. Without it the NLB listens in plain TCP.
    origin_domain: str | None = None
    hosted_zone_id: pulumi.Input[str] | None = None
    # The environment pins images by digest (production).
    require_digest: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None

    def __post_init__(self) -> None:
        if self.origin_domain and self.hosted_zone_id is None:
            raise ValueError("origin_domain needs hosted_zone_id: its certificate is validated and its name "
                             "published in that zone")
        if self.require_digest and not is_digest(self.settings.image):
            raise ValueError(f"image {self.settings.image!r} must be pinned by digest (repo@sha256:...) in this "
                             "environment")
        if not self.load_balancer_source_cidrs:
            raise ValueError("load_balancer_source_cidrs is required: the VPC range the load balancer's traffic "
                             "arrives from (the ingress policy and FORWARDED_ALLOW_IPS); empty would admit and "
                             "trust every peer")
        for cidr in self.load_balancer_source_cidrs:
            if isinstance(cidr, str):
                try:
                    net = ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    raise ValueError(f"load_balancer_source_cidrs: {cidr!r} is not a CIDR range") from None
                if net.prefixlen == 0:
                    raise ValueError(f"load_balancer_source_cidrs: {cidr!r} would admit and trust every peer; "
                                     "give the VPC range")
        if (self.migration_username is None) != (self.migration_password is None):
            raise ValueError("migration_username and migration_password go together (the schema owner's login)")


def database_url(user: str, password: str, host: str, port: int, database: str) -> str:
    """A PostgreSQL DSN with the credentials percent-encoded (random passwords carry symbols)."""
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}"


def redis_url(token: str, host: str, port: int) -> str:
    """A TLS (rediss://) URL authenticating with the replication group's auth token."""
    return f"rediss://:{quote(token, safe='')}@{host}:{port}/0"



def _field(obj: Any, attr: str, wire: str) -> Any:
    """A field of an output object: a typed output class (attribute) or a plain dict (wire key)."""
    if obj is None:
        return None
    if hasattr(type(obj), attr):
        return getattr(obj, attr)
    return obj.get(wire) if isinstance(obj, dict) else None


def _hostname(status: Any) -> str:
    ingress = _field(_field(status, "load_balancer", "loadBalancer"), "ingress", "ingress") or []
    return (_field(ingress[0], "hostname", "hostname") or "") if ingress else ""


def _name(metadata: Any) -> str:
    return _field(metadata, "name", "name")


class App(Component):
    """The Shipments API: identity, config, migrations, Deployment, autoscaling, NLB, policies."""

    namespace: pulumi.Output[str]
    service_name: pulumi.Output[str]
    load_balancer_hostname: pulumi.Output[str]
    origin_hostname: pulumi.Output[str]
    origin_secret: pulumi.Output[str]
    certificate_arn: pulumi.Output[str] | None
    image: str
    deployment_name: pulumi.Output[str]
    hpa_max_replicas: int
    max_body_bytes: int
    role_arn: pulumi.Output[str]
    service_account_name: str
    pod_labels: dict[str, str]

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags)
        s = args.settings
        self._args = args
        self.use_kubernetes(args.provider, namespace=args.namespace, labels=_COMMON)
        self.pod_labels = LABELS
        self.image = s.image
        self.hpa_max_replicas = s.max_replicas
        # The largest body the app accepts: the CDN's WAF is given the same number.
        self.max_body_bytes = s.max_body_bytes

        sa, pod_identity = self._identity()
        config_map, config_data = self._config()
        env_from, migrate_env_from, migrate_inputs, checksum = self._secrets(config_map, config_data)
        policies = self._network_policies()
        migrations = self._migrations(migrate_env_from, [*migrate_inputs, sa, *policies, *args.wait_for])
        # Pods get AWS credentials only if the association exists when they start.
        deployment = self._deployment(env_from, checksum, [migrations, *policies, pod_identity])
        self.deployment_name = deployment.metadata.apply(_name)
        self._autoscaling(deployment)
        self._load_balancer(deployment)

        self.namespace = pulumi.Output.from_input(args.namespace)
        self.register_outputs(
            {
                "namespace": self.namespace,
                "serviceName": self.service_name,
                "loadBalancerHostname": self.load_balancer_hostname,
                "originHostname": self.origin_hostname,
                "image": self.image,
                "deploymentName": self.deployment_name,
                "hpaMaxReplicas": self.hpa_max_replicas,
            }
        )

    # ---- steps, in dependency order --------------------------------------------------------
    def _identity(self) -> tuple[k8s.core.v1.ServiceAccount, aws.eks.PodIdentityAssociation]:
        """A service account whose pods get an IAM role through EKS Pod Identity."""
        args = self._args
        self.service_account_name = APP_NAME
        identity = workload_identity(
            self,
            cluster_name=args.cluster_name,
            namespace=args.namespace,
            service_account=APP_NAME,
            description=f"{self.prefix}: the Shipments API pods (EKS Pod Identity)",
            names=IdentityNames(role="pod-role"),
            # Pods get only the projected Pod Identity token, never a Kubernetes API token.
            automount_token=False,
            region_kw=region_kw(args.region),
        )
        self.role_arn = identity.role.arn
        return identity.service_account, identity.association

    def _config(self) -> tuple[k8s.core.v1.ConfigMap, pulumi.Output[dict[str, str]]]:
        """The app's non-secret settings (app/shipments/settings.py's names)."""
        args, s = self._args, self._args.settings
        settings = {
            "PORT": str(PORT),
            "METRICS_PORT": str(METRICS_PORT),
            "HEALTH_PORT": str(HEALTH_PORT),
            "DB_POOL_MAX": str(s.db_pool_size),
            "RATE_LIMIT_READS_PER_MINUTE": str(s.rate_limit_reads_per_minute),
            "RATE_LIMIT_WRITES_PER_MINUTE": str(s.rate_limit_writes_per_minute),
            "RATE_LIMIT_INQUIRIES_PER_MINUTE": str(s.rate_limit_contact_per_minute),
            "CACHE_TTL_SECONDS": str(s.cache_ttl_seconds),
            "REPLICA_MAX_LAG_SECONDS": str(s.replica_lag_threshold_seconds),
            "READ_YOUR_WRITES_SECONDS": str(s.read_your_writes_seconds),
            # Every request, retries included, is answered before the CDN gives up on the origin.
            "REQUEST_TIME_BUDGET_SECONDS": str(ORIGIN_READ_TIMEOUT_SECONDS - REQUEST_BUDGET_MARGIN_SECONDS),
            "CORS_ORIGINS": ",".join(s.cors_origins),
            "MAX_BODY_BYTES": str(s.max_body_bytes),
            "LOG_LEVEL": s.log_level.upper(),
            "DRAIN_SECONDS": str(DRAIN_SECONDS),
            "GRACEFUL_TIMEOUT_SECONDS": str(GRACEFUL_TIMEOUT_SECONDS),
        }
        # The app believes forwarded headers (CloudFront's X-Viewer-Address, on requests with the
        # origin secret) only from the peers the load balancer's traffic arrives from: the VPC.
        config_data = pulumi.Output.all(*args.load_balancer_source_cidrs).apply(
            lambda cidrs: {**settings, "FORWARDED_ALLOW_IPS": ",".join(cidrs)}
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{self.prefix}-config",
            metadata=self.meta(),
            data=config_data,
            # Immutable and auto-named: a change creates a new object and rolls the Deployment.
            immutable=True,
            opts=self.k8s(),
        )
        return config_map, config_data

    def _secrets(self, config_map: k8s.core.v1.ConfigMap, config_data: pulumi.Output[dict[str, str]]
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[pulumi.Resource], pulumi.Output[str]]:
        """The app's Secret (its DSNs, Redis, the origin secret), the migrations' own (the schema
        owner's DSN), and the checksum that rolls the pods. Returns the app's and the migrations'
        envFrom, what the migrations wait for, and the checksum."""
        name, args = self.prefix, self._args
        # The CDN sends this as X-Origin-Verify; the app refuses requests without it, so the
        # internet-facing load balancer cannot be used to go around CloudFront and its WAF.
        origin_secret = random.RandomPassword(
            f"{name}-origin-secret", length=48, special=False, opts=self.child()
        )
        self.origin_secret = pulumi.Output.secret(origin_secret.result)
        secret_data = pulumi.Output.secret(pulumi.Output.all(
            args.db_username, args.db_password, args.db_host, args.redis_auth_token, args.redis_host,
            origin_secret.result,
        ).apply(
            lambda v: {
                "DATABASE_URL": database_url(v[0], v[1], v[2], args.db_port, args.rw_database),
                "DATABASE_RO_URL": database_url(v[0], v[1], v[2], args.db_port, args.ro_database),
                "REDIS_URL": redis_url(v[3], v[4], args.redis_port),
                "ORIGIN_VERIFY_SECRET": v[5],
            }
        ))
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=self.meta(),
            type="Opaque",
            string_data=secret_data,
            immutable=True,
            opts=self.k8s(),
        )
        env_from = [{"config_map_ref": {"name": config_map.metadata.apply(_name)}},
                    {"secret_ref": {"name": secret.metadata.apply(_name)}}]
        migrate_env_from: list[dict[str, Any]] = env_from
        migrate_inputs: list[pulumi.Resource] = [config_map, secret]
        # The migrations' own: the schema owner's DSN. Only the Job mounts it, so the app's pods
        # can change rows but never the schema.
        if args.migration_username is not None:
            migration_data = pulumi.Output.secret(
                pulumi.Output.all(args.migration_username, args.migration_password, args.db_host).apply(
                    lambda v: {"MIGRATION_DATABASE_URL": database_url(v[0], v[1], v[2], args.db_port,
                                                                      args.migration_database)}
                )
            )
            migration_secret = k8s.core.v1.Secret(
                f"{name}-migrate-secret",
                metadata=self.meta(labels={"app.kubernetes.io/component": "migrations"}),
                type="Opaque",
                string_data=migration_data,
                immutable=True,
                opts=self.k8s(),
            )
            migrate_env_from = [{"secret_ref": {"name": migration_secret.metadata.apply(_name)}}]
            migrate_inputs = [migration_secret]
        # A digest of both, on the pod template: any config or credential change rolls the pods.
        # The digest of a random secret reveals nothing, so it is not kept secret (and the
        # Deployment stays readable in previews).
        checksum = pulumi.Output.unsecret(
            pulumi.Output.all(config_data, secret_data).apply(
                lambda v: hashlib.sha256(
                    json.dumps({"config": v[0], "secret": v[1]}, sort_keys=True).encode()
                ).hexdigest()
            )
        )
        return env_from, migrate_env_from, migrate_inputs, checksum

    def _network_policies(self) -> list[k8s.networking.v1.NetworkPolicy]:
        """Default deny; in: the API port from the VPC, the metrics port from the monitoring
        namespace; out: PgBouncer, Redis, DNS, the Pod Identity agent (the migrations: DNS and
        PgBouncer). In place before any pod of the app starts."""
        name, args, meta = self.prefix, self._args, self.meta
        policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-default-deny",
                metadata=meta("default-deny"),
                spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
                opts=self.k8s(),
            ),
            k8s.networking.v1.NetworkPolicy(
                f"{name}-ingress",
                metadata=meta(f"{APP_NAME}-ingress"),
                spec={
                    "pod_selector": {"match_labels": LABELS},
                    "policy_types": ["Ingress"],
                    "ingress": [
                        # The API from the load balancer's path; the health listener from the nodes
                        # (the kubelet's probes; the VPC CNI's agent also admits the node's own IP).
                        {
                            "from": [{"ip_block": {"cidr": c}} for c in args.load_balancer_source_cidrs],
                            "ports": [{"protocol": "TCP", "port": PORT}, {"protocol": "TCP", "port": HEALTH_PORT}],
                        },
                        # Prometheus, from its namespace, on the metrics listener only.
                        {
                            "from": [{"namespace_selector": {"match_labels": {
                                "kubernetes.io/metadata.name": METRICS_NAMESPACE}}}],
                            "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
                        },
                    ],
                },
                opts=self.k8s(),
            ),
        ]
        dns = {
            "to": [{"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
        # Without PgBouncer's labels, any pod of the namespace on the pool port.
        to_pgbouncer = {"to": [{"pod_selector": {"match_labels": dict(args.pgbouncer_pod_labels)}
                                if args.pgbouncer_pod_labels else {}}],
                        "ports": [{"protocol": "TCP", "port": args.db_port}]}
        egress = [
            dns,
            to_pgbouncer,
            {"to": [{"ip_block": {"cidr": c}} for c in args.redis_cidrs],
             "ports": [{"protocol": "TCP", "port": args.redis_port}]},
            {"to": [{"ip_block": {"cidr": POD_IDENTITY_AGENT}}], "ports": [{"protocol": "TCP", "port": 80}]},
        ]
        policies.append(k8s.networking.v1.NetworkPolicy(
            f"{name}-egress",
            metadata=meta(f"{APP_NAME}-egress"),
            spec={"pod_selector": {"match_labels": LABELS}, "policy_types": ["Egress"], "egress": egress},
            opts=self.k8s(),
        ))
        # The migrations Job only talks to the database (through PgBouncer).
        policies.append(k8s.networking.v1.NetworkPolicy(
            f"{name}-migrate-egress",
            metadata=meta(f"{APP_NAME}-migrate-egress"),
            spec={"pod_selector": {"match_labels": _MIGRATE_LABELS}, "policy_types": ["Egress"],
                  "egress": [dns, to_pgbouncer]},
            opts=self.k8s(),
        ))
        return policies

    def _resources(self) -> dict[str, dict[str, str]]:
        s = self._args.settings
        return {
            "requests": {"cpu": s.cpu_request, "memory": s.memory_request},
            "limits": {"cpu": s.cpu_limit, "memory": s.memory_limit},
        }

    def _migrations(self, env_from: list[dict[str, Any]], depends_on: list[pulumi.Resource]) -> k8s.batch.v1.Job:
        """The migrations, run to completion before the Deployment rolls.

        pulumi-kubernetes awaits a Job until it completes. A Job that failed stays failed, and by
        default every later `up` would await it again (and the Deployment behind it would never
        roll): replaceUnready makes the next update replace an unready Job instead. No
        ttlSecondsAfterFinished: a Job the cluster deletes by itself shows up as drift and is re-run
        on every update."""
        return k8s.batch.v1.Job(
            f"{self.prefix}-migrate",
            metadata=self.meta(
                labels={"app.kubernetes.io/component": "migrations"},
                annotations={**checkov_skips(_ENV_SKIP), "pulumi.com/replaceUnready": "true"},
            ),
            spec={
                "backoff_limit": 3,
                "active_deadline_seconds": MIGRATE_DEADLINE_SECONDS,
                "template": {
                    "metadata": {"labels": _MIGRATE_LABELS},
                    "spec": {
                        "service_account_name": APP_NAME,
                        "automount_service_account_token": False,
                        "restart_policy": "Never",
                        "security_context": _POD_SECURITY,
                        "containers": [
                            {
                                "name": "migrate",
                                "image": self._args.settings.image,
                                "image_pull_policy": "Always",
                                "command": ["python", "-m", "shipments.migrate"],
                                # Inside the Job's deadline, with room for the pod to start.
                                "env": [{"name": "MIGRATE_CONNECT_TIMEOUT",
                                         "value": str(MIGRATE_CONNECT_TIMEOUT_SECONDS)}],
                                # The schema owner's DSN alone (not the app's settings and secrets).
                                "env_from": env_from,
                                "resources": self._resources(),
                                "security_context": _CONTAINER_SECURITY,
                                "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
                            }
                        ],
                        "volumes": [_TMP],
                    },
                },
            },
            # Beyond the Job's own deadline, so Kubernetes' verdict (not the await) decides.
            opts=self.k8s(depends_on=depends_on, custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m")),
        )

    def _deployment(self, env_from: list[dict[str, Any]], checksum: pulumi.Output[str],
                    depends_on: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
        """Rolling with maxUnavailable 0, probes, requests/limits, restricted security context,
        zone spread, graceful drain."""
        s = self._args.settings
        # Probes go to the health listener: a flood on the API's port (idle connections, clients
        # that do not read, the concurrency cap reached) must not fail liveness (a restart loop)
        # nor readiness for what strangers do. Readiness there is the same answer as the API's.
        probe = {"http_get": {"path": "/api/health", "port": "health"}}
        return k8s.apps.v1.Deployment(
            f"{self.prefix}-deployment",
            metadata=self.meta(APP_NAME, annotations=checkov_skips(_ENV_SKIP)),
            spec={
                "replicas": s.replicas,
                "revision_history_limit": 5,
                "progress_deadline_seconds": 600,
                "selector": {"match_labels": LABELS},
                "strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}},
                "template": {
                    "metadata": {
                        "labels": LABELS,
                        "annotations": {
                            "berth.dev/config-checksum": checksum,
                            # Where the cluster's Prometheus scrapes (the metrics listener).
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": str(METRICS_PORT),
                        },
                    },
                    "spec": {
                        "service_account_name": APP_NAME,
                        "automount_service_account_token": False,
                        "termination_grace_period_seconds": TERMINATION_GRACE_SECONDS,
                        "security_context": _POD_SECURITY,
                        "topology_spread_constraints": [
                            {
                                "max_skew": 1,
                                "topology_key": "topology.kubernetes.io/zone",
                                "when_unsatisfiable": "DoNotSchedule",
                                "label_selector": {"match_labels": LABELS},
                                "match_label_keys": ["pod-template-hash"],
                            },
                            {
                                "max_skew": 1,
                                "topology_key": "kubernetes.io/hostname",
                                "when_unsatisfiable": "ScheduleAnyway",
                                "label_selector": {"match_labels": LABELS},
                                "match_label_keys": ["pod-template-hash"],
                            },
                        ],
                        "containers": [
                            {
                                "name": "api",
                                "image": s.image,
                                "image_pull_policy": "Always",
                                "command": ["python", "-m", "shipments.server"],
                                # The Service exposes "http" only; "metrics" is for the monitoring
                                # namespace, "health" for the kubelet.
                                "ports": [{"name": "http", "container_port": PORT, "protocol": "TCP"},
                                          {"name": "metrics", "container_port": METRICS_PORT, "protocol": "TCP"},
                                          {"name": "health", "container_port": HEALTH_PORT, "protocol": "TCP"}],
                                "env_from": env_from,
                                "resources": self._resources(),
                                "security_context": _CONTAINER_SECURITY,
                                "startup_probe": {**probe, "period_seconds": 2, "failure_threshold": 30},
                                "liveness_probe": {**probe, "period_seconds": 10, "timeout_seconds": 2,
                                                   "failure_threshold": 3},
                                "readiness_probe": {
                                    "http_get": {"path": "/api/health/ready", "port": "health"},
                                    "period_seconds": 5,
                                    "timeout_seconds": 2,
                                    "failure_threshold": 2,
                                },
                                # Let endpoints and the NLB deregister the pod before it starts draining.
                                "lifecycle": {"pre_stop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
                                "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
                            }
                        ],
                        "volumes": [_TMP],
                    },
                },
            },
            # The HPA owns the replica count once the Deployment exists.
            opts=self.k8s(depends_on=depends_on, ignore_changes=["spec.replicas"]),
        )

    def _autoscaling(self, deployment: k8s.apps.v1.Deployment) -> None:
        """An autoscaling/v2 HPA on CPU and memory (up fast, down slowly) and a PDB."""
        s = self._args.settings
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self.prefix}-hpa",
            metadata=self.meta(APP_NAME),
            spec={
                "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": APP_NAME},
                "min_replicas": s.min_replicas,
                "max_replicas": s.max_replicas,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {
                        "type": "Utilization", "average_utilization": s.target_cpu_percent}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {
                        "type": "Utilization", "average_utilization": s.target_memory_percent}}},
                ],
                # Scale up fast, down slowly: flapping would churn connections through PgBouncer.
                "behavior": {
                    "scale_down": {"stabilization_window_seconds": 300,
                                   "policies": [{"type": "Pods", "value": 1, "period_seconds": 60}]},
                    "scale_up": {"stabilization_window_seconds": 0,
                                 "policies": [{"type": "Percent", "value": 100, "period_seconds": 30}]},
                },
            },
            opts=self.k8s(depends_on=[deployment]),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{self.prefix}-pdb",
            metadata=self.meta(APP_NAME),
            spec={"max_unavailable": 1, "selector": {"match_labels": LABELS}},
            opts=self.k8s(),
        )

    def _load_balancer(self, deployment: k8s.apps.v1.Deployment) -> None:
        """The internet-facing NLB: TLS with the origin name's certificate, and that name pointed at it.

        Annotations of EKS's built-in service controller (cloud-provider-aws), so no add-on
        controller is needed: an NLB (internet-facing unless marked internal) with instance targets
        on the node port. With externalTrafficPolicy Cluster the traffic reaches the pods from the
        nodes' VPC addresses, which is what the ingress NetworkPolicy admits."""
        args = self._args
        certificate_arn = self._origin_certificate() if args.origin_domain else None
        tls = certificate_arn is not None
        lb_annotations: dict[str, Any] = {
            # EKS's in-tree controller makes internet-facing NLBs unless marked internal (the
            # `aws-load-balancer-scheme` annotation belongs to the AWS Load Balancer Controller).
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
            "service.beta.kubernetes.io/aws-load-balancer-backend-protocol": "tcp",
            "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol": "http",
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path": "/api/health/ready",
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port": "traffic-port",
        }
        if args.tags:
            lb_annotations["service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"] = ",".join(
                f"{k}={v}" for k, v in sorted(args.tags.items())
            )
        if tls:
            lb_annotations |= {
                "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": certificate_arn,
                "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "https",
                "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy": TLS_POLICY,
            }
        else:
            pulumi.log.warn("no origin domain: the app's load balancer listens in plain TCP on port 80", self)
        service = k8s.core.v1.Service(
            f"{self.prefix}-service",
            metadata=self.meta(APP_NAME, annotations=lb_annotations),
            spec={
                "type": "LoadBalancer",
                "selector": LABELS,
                "ports": [{"name": "https" if tls else "http", "port": 443 if tls else 80, "target_port": "http",
                           "protocol": "TCP"}],
                "external_traffic_policy": "Cluster",
            },
            # pulumi-kubernetes reports a Service created only once its endpoints target ready pods
            # (and, for a LoadBalancer, it has an address), waiting 10 minutes at most: created
            # before the Deployment, it would time out while the database tier is still coming up.
            opts=self.k8s(depends_on=[deployment]),
        )
        self.service_name = service.metadata.apply(_name)
        self.load_balancer_hostname = service.status.apply(_hostname)
        self.certificate_arn = certificate_arn
        # What CloudFront connects to: our name, or the NLB's own name when there is none (then
        # nothing can verify it: the policy pack says so). Our name is known before anything
        # exists, so the distribution is handed the name itself, not the record's output: it
        # starts in the first minutes of a first `up` instead of waiting ~30 min for the database
        # tier, the app's pods and the NLB (CloudFront does not resolve an origin when it is
        # created; until the record points at the NLB it answers 502, as nothing serves yet anyway).
        # A new account's first distribution may wait for AWS's verification (preflight warns):
        # found out at minute 2, not minute 34.
        if args.origin_domain:
            self._origin_record(self.load_balancer_hostname)
            self.origin_hostname = pulumi.Output.from_input(args.origin_domain)
        else:
            self.origin_hostname = self.load_balancer_hostname

    def _origin_certificate(self) -> pulumi.Output[str]:
        """An ACM certificate for the origin name, DNS-validated in the zone (the App's region). The
        NLB's listener refuses a certificate that is not issued yet: the ARN resolves only then."""
        args, name = self._args, self.prefix
        assert args.origin_domain is not None
        return dns_validated_certificate(f"{name}-origin-cert", domain=args.origin_domain,
                                         zone_id=args.hosted_zone_id, parent=self, region=args.region,
                                         tags=self.named("origin"))

    def _origin_record(self, lb_hostname: pulumi.Output[str]) -> aws.route53.Record:
        """The origin name pointing at the NLB (a CNAME: the NLB's own zone id is not ours to read)."""
        record = aws.route53.Record(
            f"{self.prefix}-origin",
            zone_id=self._args.hosted_zone_id,
            name=self._args.origin_domain,
            type="CNAME",
            records=[lb_hostname],
            ttl=60,
            opts=self.child(),
        )
        return record
