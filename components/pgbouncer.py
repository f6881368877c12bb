"""Components room: PgBouncer on Kubernetes, the connection pooler in front of RDS.

Three pooled databases: `shipments` (read-write, the primary) and `shipments_ro` (read-only,
the replicas, one `host=` list that PgBouncer balances over) for the app's role, and
`shipments_migrate` (the primary, two connections) for the schema owner's migrations; the hba
file admits each role to its own names only, and nobody else (the RDS master user is not in
the userlist). Transaction pooling, TLS to RDS with full certificate verification, a userlist
Secret, a Prometheus exporter sidecar
that reads PgBouncer's admin console over loopback, and the operational shape of a
production pooler: spread over zones, a disruption budget, TCP probes, a draining preStop,
a hardened pod, a config checksum that rolls the pods, and a NetworkPolicy that admits
only the app's pods.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.base import Component
from components.pgbouncer_config import (
    CA_FILE,
    CONFIG_DIR,
    CPU_REQUEST,
    EXPORTER_RESOURCES,
    MEMORY_REQUEST,
    MIGRATE_DATABASE,
    MIGRATE_POOL_SIZE,
    PORT,
    RO_DATABASE,
    RW_DATABASE,
    SECRET_DIR,
    STATS_USER,
    TLS_DIR,
    render_hba,
    render_ini,
    render_userlist,
    server_connections,
)
from components.settings import PgBouncerSettings, is_digest
from components.workload import checkov_skips, hardened_container, restricted_pod

__all__ = ["PgBouncer", "PgBouncerArgs", "render_hba", "render_ini", "render_userlist", "server_connections"]

METRICS_PORT = 9127
NAME = "pgbouncer"
RDS_GLOBAL_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
# High, fixed ids (checkov CKV_K8S_40): the images run as any non-root uid.
UID = 10001
CA_FETCH_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}}
RESOURCES = {"requests": {"cpu": CPU_REQUEST, "memory": MEMORY_REQUEST}, "limits": {"cpu": "1", "memory": "256Mi"}}
# Run the pgbouncer binary with our ini directly (an image's entrypoint may render its own).
# By name, not path: the image's PATH finds it wherever its packaging put it (CloudNativePG's
# image: /usr/bin; Debian's package: /usr/sbin; a source build: /usr/local/bin).
COMMAND = ["pgbouncer", f"{CONFIG_DIR}/pgbouncer.ini"]
# The preStop drain (10 s, then PgBouncer's safe shutdown) fits well inside it.
TERMINATION_GRACE_SECONDS = 60
# The pods allowed to connect (the Shipments API's), and the namespace whose pods (Prometheus)
# may scrape the exporter.
CLIENT_POD_LABELS = {"app.kubernetes.io/name": "shipments-api"}
METRICS_NAMESPACE = "monitoring"


@dataclass
class PgBouncerArgs:
    # Wiring: the cluster (provider, workload namespace) and the database tier it pools: the
    # primary's and replicas' addresses, the port and database name, the VPC range, what the
    # database leaves to clients (max_connections less its reserve: the pools must fit under it).
    namespace: pulumi.Input[str]
    primary_address: pulumi.Input[str]
    replica_addresses: Sequence[pulumi.Input[str]]
    # The database roles it admits (components/database_roles.py): the app's (read-write and
    # read-only names) and the schema owner's (the migrations' name). Never the master user.
    app_username: str
    app_password: pulumi.Input[str]
    owner_username: str
    owner_password: pulumi.Input[str]
    # Images, pods, pool sizes.
    settings: PgBouncerSettings
    provider: k8s.Provider | None = None
    database_port: int = 5432
    database_name: str = RW_DATABASE
    # Where the database lives (the VPC range): PgBouncer's only egress besides DNS. None: any.
    database_cidr: str | None = None
    database_connection_limit: int | None = None
    # The RDS CA bundle. None: fetched at pod start from AWS's trust store (see _containers).
    # A PEM string: shipped in a ConfigMap instead (air-gapped clusters, pinned bundles).
    ca_bundle_pem: pulumi.Input[str] | None = None
    # What must be done before the pods start: the Job that creates the roles (their passwords
    # are in the userlist; a pod started earlier would log in with passwords not yet set).
    wait_for: Sequence[pulumi.Resource] = ()

    def __post_init__(self) -> None:
        s = self.settings
        if self.database_connection_limit is not None:
            need = server_connections(s)
            if need > self.database_connection_limit:
                raise ValueError(
                    f"PgBouncer needs {need} server connections ({s.replicas} pods x (default_pool_size "
                    f"{s.default_pool_size} + read_only_pool_size {s.read_only_pool_size} + 2 x reserve_pool_size "
                    f"{s.reserve_pool_size} + the migrations' {MIGRATE_POOL_SIZE})) but the database allows "
                    f"{self.database_connection_limit}"
                )



class PgBouncer(Component):
    """PgBouncer Deployment + ConfigMap + Secret + Service + PDB + NetworkPolicy in the workload namespace."""

    service_host: pulumi.Output[str]
    port: int
    rw_database: str
    ro_database: str
    migrate_database: str
    pod_labels: dict[str, str]
    server_connections: int
    max_client_connections: int
    config_checksum: pulumi.Output[str]
    deployment: k8s.apps.v1.Deployment

    def __init__(self, name: str, args: PgBouncerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        s = args.settings
        self._args = args
        self.port = PORT
        self.rw_database = RW_DATABASE
        self.ro_database = RO_DATABASE
        self.migrate_database = MIGRATE_DATABASE
        self.pod_labels = {
            "app.kubernetes.io/name": NAME,
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": "database-pooler",
            "app.kubernetes.io/part-of": "shipments",
        }
        self._common = {**self.pod_labels, "app.kubernetes.io/managed-by": "pulumi"}
        self.use_kubernetes(args.provider, namespace=args.namespace, labels=self._common)
        self.server_connections = server_connections(s)
        self.max_client_connections = s.max_client_conn * s.replicas

        config, ini, hba = self._config()
        secret, userlist = self._userlist()
        # Any change of the config or of a password rolls the pods (PgBouncer reads them at start).
        # The digest is of random 32-character passwords: it reveals nothing, so it is not secret.
        self.config_checksum = pulumi.Output.unsecret(
            pulumi.Output.all(ini, userlist, hba, args.ca_bundle_pem or "").apply(
                lambda parts: hashlib.sha256("\0".join(parts).encode()).hexdigest()
            )
        )
        sa = k8s.core.v1.ServiceAccount(
            f"{name}-pgbouncer-sa",
            metadata=self.meta(NAME),
            # PgBouncer never talks to the Kubernetes API.
            automount_service_account_token=False,
            opts=self.k8s(),
        )
        self.deployment = self._deployment([config, secret, sa, *args.wait_for])
        self._autoscaler()
        service = self._service()
        self._disruption_budget()
        self._network_policy()

        self.service_host = pulumi.Output.all(service.metadata, args.namespace).apply(
            lambda v: f"{_name(v[0])}.{v[1]}.svc.cluster.local"
        )
        self.deployment_name = self.deployment.metadata.apply(_name)
        self.register_outputs(
            {
                "serviceHost": self.service_host,
                "port": self.port,
                "rwDatabase": self.rw_database,
                "roDatabase": self.ro_database,
                "migrateDatabase": self.migrate_database,
                "podLabels": self.pod_labels,
                "serverConnections": self.server_connections,
                "maxClientConnections": self.max_client_connections,
                "configChecksum": self.config_checksum,
            }
        )

    # ---- steps, in dependency order --------------------------------------------------------
    def _config(self) -> tuple[k8s.core.v1.ConfigMap, pulumi.Output[str], str]:
        """pgbouncer.ini (every database instance's address) and the hba file, in a ConfigMap."""
        args, s = self._args, self._args.settings
        ini = pulumi.Output.all(args.primary_address, *args.replica_addresses).apply(
            lambda hosts: render_ini(s, hosts[0], hosts[1:], port=args.database_port, dbname=args.database_name)
        )
        hba = render_hba(args.app_username, args.owner_username)
        config_data: dict[str, pulumi.Input[str]] = {"pgbouncer.ini": ini, "pgbouncer_hba.conf": hba}
        if args.ca_bundle_pem is not None:
            config_data["rds-ca.pem"] = args.ca_bundle_pem
        config = k8s.core.v1.ConfigMap(
            f"{self.prefix}-pgbouncer-config", metadata=self.meta(f"{NAME}-config"), data=config_data,
            opts=self.k8s(),
        )
        return config, ini, hba

    def _userlist(self) -> tuple[k8s.core.v1.Secret, pulumi.Output[str]]:
        """The userlist Secret: the app's role, the owner's, and the exporter's stats user."""
        name, args = self.prefix, self._args
        stats_password = random.RandomPassword(
            f"{name}-pgbouncer-stats-password", length=32, special=False, opts=self.child()
        )
        userlist = pulumi.Output.secret(
            pulumi.Output.all(args.app_password, args.owner_password, stats_password.result).apply(
                lambda pw: render_userlist(
                    {args.app_username: pw[0], args.owner_username: pw[1], STATS_USER: pw[2]}
                )
            )
        )
        secret = k8s.core.v1.Secret(
            f"{name}-pgbouncer-userlist",
            metadata=self.meta(f"{NAME}-userlist"),
            type="Opaque",
            string_data={"userlist.txt": userlist},
            opts=self.k8s(),
        )
        return secret, userlist

    def _containers(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The pod's init containers, containers and volumes: PgBouncer, its exporter sidecar and
        the RDS CA bundle (fetched at start unless shipped in the ConfigMap)."""
        s = self._args.settings
        pull = "Always"  # with digests this costs a manifest check, never a different image
        volumes: list[dict[str, Any]] = [
            {"name": "config", "configMap": {"name": f"{NAME}-config",
                                             "items": [{"key": "pgbouncer.ini", "path": "pgbouncer.ini"},
                                                       {"key": "pgbouncer_hba.conf", "path": "pgbouncer_hba.conf"}]}},
            {"name": "userlist", "secret": {"secretName": f"{NAME}-userlist", "defaultMode": 0o440}},
        ]
        init_containers: list[dict[str, Any]] = []
        if self._args.ca_bundle_pem is not None:
            volumes.append({"name": "tls", "configMap": {"name": f"{NAME}-config",
                                                         "items": [{"key": "rds-ca.pem", "path": "rds-ca.pem"}]}})
        else:
            # Why fetch at start rather than ship a copy: the bundle is public, AWS adds the next
            # CAs to it ahead of every rotation, and a stale copy would break verify-full on the
            # day RDS rotates. curl verifies AWS's trust store over TLS against the image's CAs
            # and fails closed: a pod without the bundle never starts, while the rolling update
            # (maxUnavailable 0) keeps the running pods serving.
            volumes.append({"name": "tls", "emptyDir": {"medium": "Memory", "sizeLimit": "2Mi"}})
            init_containers.append(
                {
                    "name": "fetch-rds-ca",
                    "image": s.ca_fetch_image,
                    "imagePullPolicy": pull,
                    "command": ["curl"],
                    "args": ["--fail", "--silent", "--show-error", "--proto", "=https", "--tlsv1.2",
                             "--retry", "5", "--retry-all-errors", "--max-time", "30",
                             "--output", CA_FILE, RDS_GLOBAL_BUNDLE_URL],
                    "securityContext": hardened_container(UID),
                    "resources": CA_FETCH_RESOURCES,
                    "volumeMounts": [{"name": "tls", "mountPath": TLS_DIR}],
                }
            )
        pgbouncer = {
            "name": NAME,
            "image": s.image,
            "imagePullPolicy": pull,
            "command": list(COMMAND),
            "ports": [{"name": "pgbouncer", "containerPort": PORT, "protocol": "TCP"}],
            "readinessProbe": {"tcpSocket": {"port": "pgbouncer"}, "periodSeconds": 5, "failureThreshold": 2},
            "livenessProbe": {"tcpSocket": {"port": "pgbouncer"}, "initialDelaySeconds": 10,
                              "periodSeconds": 10, "failureThreshold": 6},
            "resources": RESOURCES,
            "securityContext": hardened_container(UID),
            "lifecycle": {
                "preStop": {
                    "exec": {
                        # Let the Service drop this endpoint, then SIGINT: PgBouncer's safe
                        # shutdown stops accepting and waits for running transactions; the
                        # hook returns when it has exited, before the kubelet's SIGTERM.
                        "command": ["/bin/sh", "-c",
                                    "sleep 10; kill -INT 1; while kill -0 1 2>/dev/null; do sleep 1; done"],
                    }
                }
            },
            "volumeMounts": [
                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                {"name": "userlist", "mountPath": SECRET_DIR, "readOnly": True},
                {"name": "tls", "mountPath": TLS_DIR, "readOnly": True},
            ],
        }
        exporter = {
            "name": "exporter",
            "image": s.exporter_image,
            "imagePullPolicy": pull,
            "args": [
                f"--pgBouncer.connectionString=postgres://{STATS_USER}@127.0.0.1:{PORT}/pgbouncer?sslmode=disable",
                f"--web.listen-address=:{METRICS_PORT}",
            ],
            "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
            "readinessProbe": {"httpGet": {"path": "/metrics", "port": "metrics"}, "periodSeconds": 15},
            "livenessProbe": {"tcpSocket": {"port": "metrics"}, "periodSeconds": 20, "failureThreshold": 3},
            "resources": EXPORTER_RESOURCES,
            "securityContext": hardened_container(UID),
        }
        return init_containers, [pgbouncer, exporter], volumes

    def _deployment(self, depends_on: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
        """The poolers: spread over zones and nodes, hardened, rolled by the config checksum. What a
        client workload waits for: pulumi-kubernetes reports it created only once its pods are
        ready, and the ini it mounts is made from every database instance's address."""
        s, args = self._args.settings, self._args
        images = [s.image, s.exporter_image] + ([] if args.ca_bundle_pem is not None else [s.ca_fetch_image])
        skips: list[tuple[str, str]] = []
        if not all(is_digest(i) for i in images):
            skips.append(("CKV_K8S_43", "tags pin images outside prod; the policy pack requires digests in prod"))
        init_containers, containers, volumes = self._containers()
        return k8s.apps.v1.Deployment(
            f"{self.prefix}-pgbouncer-deployment",
            metadata=self.meta(NAME, annotations=checkov_skips(*skips)) if skips else self.meta(NAME),
            spec={
                "replicas": s.replicas,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": self.pod_labels},
                # Never fewer ready poolers than asked for while rolling.
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {
                        "labels": self._common,
                        "annotations": {
                            "checksum/config": self.config_checksum,
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": str(METRICS_PORT),
                        },
                    },
                    "spec": {
                        "serviceAccountName": NAME,
                        "automountServiceAccountToken": False,
                        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                        "securityContext": restricted_pod(UID),
                        "topologySpreadConstraints": [
                            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                             "whenUnsatisfiable": "ScheduleAnyway",
                             "labelSelector": {"matchLabels": self.pod_labels}},
                            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                             "whenUnsatisfiable": "ScheduleAnyway",
                             "labelSelector": {"matchLabels": self.pod_labels}},
                        ],
                        "initContainers": init_containers,
                        "containers": containers,
                        "volumes": volumes,
                    },
                },
            },
            opts=self.k8s(depends_on=depends_on),
        )

    def _autoscaler(self) -> None:
        """PgBouncer scales by configuration, not by load: every pod opens its own pools to the
        database, so the pod count is part of the connection budget. The autoscaler is pinned at
        that count (min = max) and puts back any manual scale-out that would break it."""
        replicas = self._args.settings.replicas
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self.prefix}-pgbouncer-hpa",
            metadata=self.meta(NAME),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
                "minReplicas": replicas,
                "maxReplicas": replicas,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}}}],
            },
            opts=self.k8s(depends_on=[self.deployment]),
        )

    def _service(self) -> k8s.core.v1.Service:
        """Created once the pods it selects are ready: pulumi-kubernetes waits (10 minutes at most)
        for a Service's endpoints, and PgBouncer's pods come only after the database tier."""
        return k8s.core.v1.Service(
            f"{self.prefix}-pgbouncer-service",
            metadata=self.meta(NAME),
            spec={
                "type": "ClusterIP",
                "selector": self.pod_labels,
                "ports": [
                    {"name": "pgbouncer", "port": PORT, "targetPort": "pgbouncer", "protocol": "TCP"},
                    {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
                ],
            },
            opts=self.k8s(depends_on=[self.deployment]),
        )

    def _disruption_budget(self) -> None:
        k8s.policy.v1.PodDisruptionBudget(
            f"{self.prefix}-pgbouncer-pdb",
            metadata=self.meta(NAME),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": self.pod_labels}},
            opts=self.k8s(),
        )

    def _network_policy(self) -> None:
        """The app's namespace denies all egress by default: PgBouncer may resolve names, reach the
        database port inside the VPC and, when it fetches the RDS CA bundle at start, HTTPS. In:
        the app's pods to PgBouncer, the monitoring namespace to the exporter."""
        args = self._args
        egress: list[dict[str, Any]] = [
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                     "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
             "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
            {"to": [{"ipBlock": {"cidr": args.database_cidr or "0.0.0.0/0"}}],
             "ports": [{"protocol": "TCP", "port": args.database_port}]},
        ]
        if args.ca_bundle_pem is None:
            egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]})
        k8s.networking.v1.NetworkPolicy(
            f"{self.prefix}-pgbouncer-ingress",
            metadata=self.meta(f"{NAME}-ingress"),
            spec={
                "podSelector": {"matchLabels": self.pod_labels},
                "policyTypes": ["Ingress", "Egress"],
                "egress": egress,
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": dict(CLIENT_POD_LABELS)}}],
                     "ports": [{"protocol": "TCP", "port": PORT}]},
                    {"from": [{"namespaceSelector": {"matchLabels": {
                        "kubernetes.io/metadata.name": METRICS_NAMESPACE}}}],
                     "ports": [{"protocol": "TCP", "port": METRICS_PORT}]},
                ],
            },
            opts=self.k8s(),
        )


def _name(metadata: Any) -> str:
    """metadata.name of an output object (typed class or plain dict)."""
    if hasattr(type(metadata), "name"):
        return metadata.name
    return metadata["name"]
