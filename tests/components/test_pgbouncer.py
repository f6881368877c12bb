"""Tests room (components): PgBouncer on Kubernetes, asserted on the recorded objects and moto."""

from __future__ import annotations

import configparser
from typing import Any

import pytest

from components.pgbouncer import PgBouncerArgs, render_hba, render_ini, render_userlist, server_connections
from embedded_cloud import read_stack_config
from stacks.config import PgBouncerSettings, is_digest, parse_settings, raw_from_config_map
from tests.conftest import Deployed

COMPONENT = "berth:pgbouncer:PgBouncer"


def objects(d: Deployed) -> dict[str, Any]:
    """The component's Kubernetes objects by kind."""
    (comp,) = d.graph.by_type(COMPONENT)
    return {n.inputs["kind"]: n for n in d.graph.descendants(comp.urn) if n.type.startswith("kubernetes:")}


def component(d: Deployed) -> Any:
    (comp,) = d.graph.by_type(COMPONENT)
    return comp


def ini(d: Deployed) -> configparser.ConfigParser:
    text = objects(d)["ConfigMap"].inputs["data"]["pgbouncer.ini"]
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.read_string(text)
    return parser


def pod_spec(d: Deployed) -> dict[str, Any]:
    return objects(d)["Deployment"].inputs["spec"]["template"]["spec"]


def container(d: Deployed, name: str) -> dict[str, Any]:
    spec = pod_spec(d)
    return next(c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name)


def settings(stack: str) -> PgBouncerSettings:
    return parse_settings(stack, raw_from_config_map(read_stack_config(stack))).pgbouncer


def dsn(value: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in value.split())


# ---- pgbouncer.ini -------------------------------------------------------------------------------
@pytest.mark.parametrize(("stack", "replicas"), [("staging", 1), ("prod", 2)])
def test_ini_points_rw_at_the_primary_and_ro_at_the_replicas(
    request: pytest.FixtureRequest, stack: str, replicas: int
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    dbs = {db["DBInstanceIdentifier"]: db for db in d.client("rds").describe_db_instances()["DBInstances"]
           if db["DBInstanceIdentifier"].startswith(f"berth-{stack}-")}
    primary = dbs.pop(f"berth-{stack}-primary")
    replica_hosts = {db["Endpoint"]["Address"] for db in dbs.values()}
    assert len(replica_hosts) == replicas

    parsed = ini(d)
    rw = dsn(parsed["databases"]["shipments"])
    ro = dsn(parsed["databases"]["shipments_ro"])
    assert rw["host"] == primary["Endpoint"]["Address"]
    assert set(ro["host"].split(",")) == replica_hosts
    assert rw["port"] == ro["port"] == "5432"
    assert rw["dbname"] == ro["dbname"] == "shipments"
    s = settings(stack)
    assert rw["pool_size"] == str(s.default_pool_size)
    assert ro["pool_size"] == str(s.read_only_pool_size)
    # The migrations' name: the primary again, with a small fixed budget of its own.
    mig = dsn(parsed["databases"]["shipments_migrate"])
    assert (mig["host"], mig["port"], mig["dbname"]) == (rw["host"], "5432", "shipments")
    assert mig["pool_size"] == mig["max_db_connections"] == "2"
    # Every name's server connections are capped whoever connects: pool + reserve.
    assert rw["max_db_connections"] == str(s.default_pool_size + s.reserve_pool_size)
    assert ro["max_db_connections"] == str(s.read_only_pool_size + s.reserve_pool_size)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_ini_pools_by_transaction_and_verifies_the_database_certificate(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    main = ini(d)["pgbouncer"]
    s = settings(stack)
    assert main["pool_mode"] == "transaction"
    assert main["listen_port"] == "6432"
    assert main["max_client_conn"] == str(s.max_client_conn)
    assert main["default_pool_size"] == str(s.default_pool_size)
    assert main["reserve_pool_size"] == str(s.reserve_pool_size)
    assert main["server_tls_sslmode"] == "verify-full"
    # The CA file lives where the pgbouncer container mounts the bundle, and the init
    # container writes exactly that file, from AWS's trust store, over HTTPS only.
    ca_file = main["server_tls_ca_file"]
    mounts = {m["mountPath"]: m["name"] for m in container(d, "pgbouncer")["volumeMounts"]}
    ca_dir = ca_file.rsplit("/", 1)[0]
    assert ca_dir in mounts
    fetch = container(d, "fetch-rds-ca")
    assert {m["mountPath"]: m["name"] for m in fetch["volumeMounts"]} == {ca_dir: mounts[ca_dir]}
    assert ca_file in fetch["args"] and "=https" in fetch["args"]
    assert "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem" in fetch["args"]
    # No certificate is baked into the config.
    assert "BEGIN CERTIFICATE" not in str(objects(d)["ConfigMap"].inputs)


def test_ini_budget_fits_the_database(prod: Deployed) -> None:
    main = ini(prod)["pgbouncer"]
    # A pool per (name, user), the reserve on every pool; max_db_connections bounds each name.
    pools = sum(int(dsn(v)["max_db_connections"]) for v in ini(prod)["databases"].values())
    s = settings("prod")
    assert pools == s.default_pool_size + s.read_only_pool_size + 2 * s.reserve_pool_size + 2
    budget = prod.graph.outputs["connectionBudget"]
    pods = objects(prod)["Deployment"].inputs["spec"]["replicas"]
    assert pools * pods == budget["pgbouncer_server_connections"] == component(prod).outputs["serverConnections"]
    assert pools * pods <= budget["database_max_connections"] - budget["database_reserved"]
    assert int(main["max_client_conn"]) * pods >= budget["app_client_connections"]


# ---- credentials -------------------------------------------------------------------------------------
def test_userlist_secret_holds_the_database_credentials_and_stays_secret(prod: Deployed) -> None:
    secret = objects(prod)["Secret"]
    assert secret.inputs["stringData"] == {"userlist.txt": "[secret]"} and "stringData" in secret.secret_keys
    volumes = {v["name"]: v for v in pod_spec(prod)["volumes"]}
    assert volumes["userlist"]["secret"]["secretName"] == secret.inputs["metadata"]["name"]
    # No container carries a credential in its environment or arguments.
    for c in pod_spec(prod)["containers"] + pod_spec(prod)["initContainers"]:
        assert "env" not in c and "envFrom" not in c
        assert "password" not in " ".join(c.get("args", [])).lower()
    assert "auth_file" in ini(prod)["pgbouncer"]


def test_userlist_and_hba_render_as_pgbouncer_reads_them() -> None:
    text = render_userlist({"shipments_app": 'pa"ss', "pgbouncer_stats": "x"})
    assert text == '"shipments_app" "pa""ss"\n"pgbouncer_stats" "x"\n'
    hba = [line.split() for line in render_hba().splitlines()]
    # First match wins: the stats user gets trust only over loopback to the admin console; the app
    # reaches the read-write and read-only names, the schema owner the migrations' name; nobody else.
    assert hba == [
        ["host", "pgbouncer", "pgbouncer_stats", "127.0.0.1/32", "trust"],
        ["host", "all", "pgbouncer_stats", "0.0.0.0/0", "reject"],
        ["host", "shipments,shipments_ro", "shipments_app", "0.0.0.0/0", "scram-sha-256"],
        ["host", "shipments_migrate", "shipments_owner", "0.0.0.0/0", "scram-sha-256"],
        ["host", "all", "all", "0.0.0.0/0", "reject"],
    ]


# ---- the workload --------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_deployment_runs_the_configured_image_hardened_and_spread(request: pytest.FixtureRequest, stack: str) -> None:
    d: Deployed = request.getfixturevalue(stack)
    s = settings(stack)
    dep = objects(d)["Deployment"].inputs
    assert dep["metadata"]["namespace"] == "shipments"
    assert dep["spec"]["replicas"] == s.replicas
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spec = pod_spec(d)
    assert container(d, "pgbouncer")["image"] == s.image
    assert container(d, "exporter")["image"] == s.exporter_image
    if stack == "prod":
        assert all(is_digest(c["image"]) for c in spec["containers"] + spec["initContainers"])
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in spec["containers"] + spec["initContainers"]:
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 10000
        assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert c["resources"]["requests"] and c["resources"]["limits"]
    for c in spec["containers"]:
        assert c["readinessProbe"] and c["livenessProbe"]
    pgb = container(d, "pgbouncer")
    assert pgb["readinessProbe"]["tcpSocket"]["port"] == "pgbouncer"
    assert pgb["livenessProbe"]["tcpSocket"]["port"] == "pgbouncer"
    zones = [t for t in spec["topologySpreadConstraints"] if t["topologyKey"] == "topology.kubernetes.io/zone"]
    assert zones and zones[0]["labelSelector"]["matchLabels"] == component(d).outputs["podLabels"]


def test_pod_count_is_pinned_because_it_is_part_of_the_connection_budget(prod: Deployed) -> None:
    hpa = objects(prod)["HorizontalPodAutoscaler"].inputs["spec"]
    assert hpa["scaleTargetRef"]["name"] == objects(prod)["Deployment"].inputs["metadata"]["name"]
    assert hpa["minReplicas"] == hpa["maxReplicas"] == settings("prod").replicas
    assert hpa["maxReplicas"] == prod.graph.outputs["connectionBudget"]["pgbouncer_replicas"]


def test_pods_drain_before_they_stop(prod: Deployed) -> None:
    spec = pod_spec(prod)
    hook = " ".join(container(prod, "pgbouncer")["lifecycle"]["preStop"]["exec"]["command"])
    # SIGINT is PgBouncer's safe shutdown (waits for running transactions), after a pause
    # that lets the Service stop routing new clients here.
    assert "sleep" in hook and "kill -INT 1" in hook
    assert spec["terminationGracePeriodSeconds"] > 10


def test_exporter_sidecar_reads_the_admin_console_over_loopback(prod: Deployed) -> None:
    exporter = container(prod, "exporter")
    conn = next(a for a in exporter["args"] if a.startswith("--pgBouncer.connectionString="))
    assert "@127.0.0.1:6432/pgbouncer" in conn and ":" not in conn.split("//", 1)[1].split("@")[0]
    assert exporter["ports"][0]["containerPort"] == 9127
    stats_user = ini(prod)["pgbouncer"]["stats_users"]
    assert f"//{stats_user}@" in conn


def test_config_change_rolls_the_pods(staging: Deployed, deploy: Any) -> None:
    before = pod_spec(staging)
    variant = deploy("pgbroll", {"berth:pgbouncer.defaultPoolSize": 25}, config=read_stack_config("staging"))
    after = variant.graph.by_type("kubernetes:apps/v1:Deployment")
    after_dep = next(n for n in after if n.name.endswith("-pgbouncer-deployment"))
    old = objects(staging)["Deployment"].inputs["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    new = after_dep.inputs["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert old != new and len(new) == 64
    assert before["containers"][0]["image"] == after_dep.inputs["spec"]["template"]["spec"]["containers"][0]["image"]


# ---- reachability ------------------------------------------------------------------------------------------
def test_service_is_cluster_internal_on_6432_and_selects_the_pods(staging: Deployed) -> None:
    objs = objects(staging)
    svc = objs["Service"].inputs
    labels = component(staging).outputs["podLabels"]
    assert svc["spec"]["type"] == "ClusterIP"
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert ports["pgbouncer"]["port"] == 6432 and ports["pgbouncer"]["targetPort"] == "pgbouncer"
    assert svc["spec"]["selector"] == labels
    assert objs["Deployment"].inputs["spec"]["selector"]["matchLabels"] == labels
    assert objs["PodDisruptionBudget"].inputs["spec"]["selector"]["matchLabels"] == labels
    assert objs["PodDisruptionBudget"].inputs["spec"]["maxUnavailable"] == 1
    host = staging.graph.outputs["pgbouncerServiceHost"]
    assert host == f"{svc['metadata']['name']}.shipments.svc.cluster.local"


def test_network_policy_admits_6432_only_from_the_app(staging: Deployed) -> None:
    policy = objects(staging)["NetworkPolicy"].inputs["spec"]
    assert policy["podSelector"]["matchLabels"] == component(staging).outputs["podLabels"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    by_port = {r["ports"][0]["port"]: r["from"] for r in policy["ingress"]}
    assert by_port[6432] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "shipments-api"}}}]
    assert by_port[9127] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert set(by_port) == {6432, 9127}


def test_component_exposes_the_contract(prod: Deployed) -> None:
    out = component(prod).outputs
    assert out["port"] == 6432 and out["rwDatabase"] == "shipments" and out["roDatabase"] == "shipments_ro"
    assert out["serviceHost"] == "pgbouncer.shipments.svc.cluster.local"
    assert out["podLabels"]["app.kubernetes.io/name"] == "pgbouncer"
    assert out["maxClientConnections"] == settings("prod").max_client_conn * settings("prod").replicas


# ---- the budget, at the component ------------------------------------------------------------------------
def test_pools_that_do_not_fit_the_database_are_refused_with_the_numbers() -> None:
    s = PgBouncerSettings(replicas=3, default_pool_size=60, read_only_pool_size=60, reserve_pool_size=10)
    assert server_connections(s) == 3 * (60 + 10 + 60 + 10 + 2) == 426
    with pytest.raises(ValueError, match=r"needs 426 server connections .*2 x reserve_pool_size 10 .*allows 260"):
        PgBouncerArgs(namespace="shipments", primary_address="p", replica_addresses=[], app_username="a",
                      app_password="pw", owner_username="o", owner_password="pw", settings=s,
                      database_connection_limit=260)


def test_without_replicas_the_read_only_pool_falls_back_to_the_primary() -> None:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.read_string(render_ini(PgBouncerSettings(), "primary.example", []))
    assert dsn(parser["databases"]["shipments_ro"])["host"] == "primary.example"


def test_pgbouncer_may_only_leave_for_dns_the_database_and_its_ca_bundle(prod: Deployed) -> None:
    # The namespace denies egress by default; without this policy PgBouncer could reach nothing.
    policy = objects(prod)["NetworkPolicy"].inputs["spec"]
    assert "Egress" in policy["policyTypes"]
    rules = policy["egress"]
    ports = {(p["protocol"], p["port"]) for r in rules for p in r["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 443)}
    db_rule = next(r for r in rules if {"protocol": "TCP", "port": 5432} in r["ports"])
    assert db_rule["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]


# ---- images a cluster can pull, and the binary found whatever the image's layout ------------------
WORKLOAD_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_no_image_comes_from_a_withdrawn_catalogue_or_has_a_zero_digest(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    images = [c["image"] for n in d.graph.by_type(*WORKLOAD_TYPES)
              for c in [*n.inputs["spec"]["template"]["spec"]["containers"],
                        *n.inputs["spec"]["template"]["spec"].get("initContainers", [])]]
    assert len(images) >= 5
    assert not [i for i in images if i.split("@")[0].startswith(("bitnami/", "docker.io/bitnami/"))]
    assert not [i for i in images if i.endswith("@sha256:" + "0" * 64)]
    assert container(d, "pgbouncer")["image"].startswith("ghcr.io/cloudnative-pg/pgbouncer:")


def test_pgbouncer_runs_by_name_with_the_ini_the_local_topology_starts(staging: Deployed) -> None:
    """The pod's command is `pgbouncer <ini>` resolved on the image's PATH (CloudNativePG puts it in
    /usr/bin, Debian in /usr/sbin): the same command line loads the same ini here."""
    import os
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from components.pgbouncer_config import render_ini as pure_render_ini
    from local_topology.topology import PGBOUNCER_PATH, pgbouncer_version

    cmd = container(staging, "pgbouncer")["command"]
    assert cmd[0] == "pgbouncer" and cmd[1].endswith("/pgbouncer.ini")
    found = shutil.which(cmd[0], path=PGBOUNCER_PATH)
    assert found, "no pgbouncer on a container's default PATH"
    # The ini the cluster runs, as the local topology adapts it (loopback, no TLS, the old binary
    # without max_prepared_statements), with a port it may not bind: it loads everything, then stops.
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        os.chmod(d, 0o755)  # PgBouncer runs as postgres when we are root
        text = pure_render_ini(settings("staging"), "127.0.0.1", ["127.0.0.1"], listen_addr="127.0.0.1",
                               listen_port=1, config_dir=tmp, secret_dir=tmp, ca_file=None,
                               prepared_statements=pgbouncer_version() >= (1, 21))
        (d / "pgbouncer.ini").write_text(text)
        (d / "pgbouncer_hba.conf").write_text(render_hba())
        (d / "userlist.txt").write_text(render_userlist({"shipments_app": "x", "shipments_owner": "y"}))
        done = subprocess.run([found, "-v", str(d / "pgbouncer.ini")], capture_output=True, text=True, timeout=10,
                              user="postgres" if os.geteuid() == 0 else None)
    err = done.stderr
    assert "unknown parameter" not in err and "invalid value" not in err, err
    assert "loading auth_file" in err and "nowhere to listen on" in err, err[-2000:]
