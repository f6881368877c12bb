"""Tests room (components): least privilege between the database and the pods, on the recorded graph and
moto. The RDS master password is RDS's own secret, read at run time by one Job through an IAM role that
may read nothing else; PgBouncer's userlist holds the app's and the schema owner's roles only; the app's
Secret logs in as the app's role, the migrations' Secret as the owner; the app believes forwarded
headers from the VPC only; its metrics port is on no Service."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import pytest

from components.app import AppArgs
from components.database_roles import DatabaseRolesArgs
from components.pgbouncer_config import render_hba, render_userlist
from components.settings import AppSettings, DatabaseRolesSettings
from embedded_cloud.graph import Graph, Node
from tests.components.test_app import (
    app_config,
    app_node,
    app_secret,
    containers,
    migrate_job,
    pod_spec,
    read_by,
)
from tests.components.test_app import secret_values as generated_secrets
from tests.conftest import Deployed

STACKS = ["staging", "prod"]
ROLES = "berth:database_roles:DatabaseRoles"
PGBOUNCER = "berth:pgbouncer:PgBouncer"


def stack(request: pytest.FixtureRequest, name: str) -> Deployed:
    return request.getfixturevalue(name)


def of(g: Graph, component: str, type_: str) -> list[Node]:
    (comp,) = g.by_type(component)
    return [n for n in g.descendants(comp.urn) if n.type == type_]


def primary(g: Graph) -> Node:
    (node,) = [n for n in g.by_type("aws:rds/instance:Instance")
               if not n.inputs.get("replicateSourceDb") and n.region == g.region]
    return node


def master_password(d: Deployed) -> str:
    arn = d.client("rds").describe_db_instances(DBInstanceIdentifier=primary(d.graph).id)["DBInstances"][0][
        "MasterUserSecret"]["SecretArn"]
    return str(json.loads(d.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])["password"])



@pytest.mark.parametrize("name", STACKS)
def test_no_master_password_reaches_any_kubernetes_object(request: pytest.FixtureRequest, name: str) -> None:
    d = stack(request, name)
    g = d.graph
    secret = master_password(d)
    database = {n.urn for n in g.descendants(g.by_type("berth:database:Database")[0].urn)}
    for n in g.nodes:
        if n.package != "kubernetes":
            continue
        assert secret not in json.dumps([n.inputs, n.outputs], default=str), n.name
        if n.type == "kubernetes:core/v1:Secret":
            # What a Secret's data is computed from: nothing of the database tier (its master lives there).
            deps = {u for us in n.property_dependencies.values() for u in us} | set(n.dependencies)
            assert not deps & database, f"{n.name} is built from the database tier"
    # No container is handed the managed secret's ARN but the bootstrap's (through its ConfigMap).
    arn = primary(g).outputs["masterUserSecrets"][0]["secretArn"]
    holders = [n.name for n in g.by_type("kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret")
               if arn in json.dumps(n.inputs)]
    assert holders == [f"berth-{name}-db-bootstrap-config"]


@pytest.mark.parametrize("name", STACKS)
def test_only_the_bootstrap_job_may_read_the_master_secret(request: pytest.FixtureRequest, name: str) -> None:
    d = stack(request, name)
    g = d.graph
    iam = d.client("iam")
    arn = primary(g).outputs["masterUserSecrets"][0]["secretArn"]
    key = g.by_type("berth:database:Database")[0].outputs["kmsKeyArn"]
    (assoc,) = of(g, ROLES, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert (assoc.inputs["namespace"], assoc.inputs["serviceAccount"]) == ("shipments", "shipments-db-bootstrap")
    role = assoc.inputs["roleArn"].rsplit("/", 1)[-1]
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    doc = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    assert doc["Statement"] == [
        {"Sid": "ReadTheMasterSecret", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": arn},
        {"Sid": "DecryptItThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key,
         "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{g.region}.amazonaws.com"}}},
    ]
    assert not iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    # No other role of the stack names the secret.
    others = [n for n in g.by_type("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
              if arn in json.dumps(n.inputs) and g.component_of(n).type != ROLES]
    assert not others


@pytest.mark.parametrize("name", STACKS)
def test_the_bootstrap_job_runs_after_the_primary_and_before_pgbouncer(request: pytest.FixtureRequest, name: str) -> None:
    g = stack(request, name).graph
    (job,) = of(g, ROLES, "kubernetes:batch/v1:Job")
    (c,) = containers(job)
    assert c["command"] == ["python", "-m", "shipments.bootstrap"] and c["image"] == g.config["berth:app"]["image"]
    assert "env" not in c, "nothing as a literal"
    spec = pod_spec(job)
    assert spec["serviceAccountName"] == "shipments-db-bootstrap" and spec["automountServiceAccountToken"] is False
    config = read_by(g, job, "kubernetes:core/v1:ConfigMap").inputs["data"]
    assert config["MASTER_SECRET_ARN"] == primary(g).outputs["masterUserSecrets"][0]["secretArn"]
    assert config["DATABASE_HOST"] == primary(g).outputs["address"]
    assert (config["OWNER_ROLE"], config["APP_ROLE"], config["DATABASE_NAME"]) == (
        "shipments_owner", "shipments_app", "shipments")
    secret = read_by(g, job, "kubernetes:core/v1:Secret")
    assert set(secret.inputs["stringData"]) == {"OWNER_PASSWORD", "APP_PASSWORD"} and "stringData" in secret.secret_keys
    assert job.inputs["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"
    # Ordering: the primary and the job's identity before it; PgBouncer (and so the migrations) after it.
    before = g.waits_for(job)
    assert primary(g).urn in before
    assert {n.urn for n in of(g, ROLES, "aws:eks/podIdentityAssociation:PodIdentityAssociation")} <= before
    (pgb,) = of(g, PGBOUNCER, "kubernetes:apps/v1:Deployment")
    assert job.urn in pgb.dependencies and job.urn in g.waits_for(migrate_job(g))
    # Its only ways out: DNS, the database's range, HTTPS (Secrets Manager, RDS's CA bundle), the agent.
    (policy,) = of(g, ROLES, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert policy.inputs["spec"]["podSelector"]["matchLabels"].items() <= \
        job.inputs["spec"]["template"]["metadata"]["labels"].items()
    rules = policy.inputs["spec"]["egress"]
    assert sorted((r["to"][0].get("ipBlock", {}).get("cidr", "dns"), p["port"]) for r in rules for p in r["ports"]) == [
        ("0.0.0.0/0", 443), (g.config["berth:network"]["cidr"], 5432), ("169.254.170.23/32", 80),
        ("dns", 53), ("dns", 53)]
    assert "ingress" not in policy.inputs["spec"] and "Ingress" in policy.inputs["spec"]["policyTypes"]


def random_values(g: Graph) -> dict[str, str]:
    """Every generated secret of the run by resource name (the embedded cloud's random is deterministic)."""
    nodes = g.by_type("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString")
    return dict(zip([n.name for n in nodes], generated_secrets(g), strict=True))


def _passwords(g: Graph) -> dict[str, str]:
    values = random_values(g)
    return {role: values[f"berth-{g.stack}-{role}-password"] for role in ("owner", "app")}


@pytest.mark.parametrize("name", STACKS)
def test_pgbouncers_userlist_holds_the_app_and_owner_roles_and_no_master(
    request: pytest.FixtureRequest, name: str
) -> None:
    """The userlist is redacted in the graph: its content is proven through the pod template's
    checksum (ini, userlist, hba, CA), recomputed from the roles' and the stats user's passwords."""
    g = stack(request, name).graph
    (cm,) = of(g, PGBOUNCER, "kubernetes:core/v1:ConfigMap")
    (dep,) = of(g, PGBOUNCER, "kubernetes:apps/v1:Deployment")
    ini, hba = cm.inputs["data"]["pgbouncer.ini"], cm.inputs["data"]["pgbouncer_hba.conf"]
    assert hba == render_hba("shipments_app", "shipments_owner")
    checksum = dep.inputs["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    roles = _passwords(g)
    stats = random_values(g)[f"berth-{name}-pgbouncer-stats-password"]
    userlist = render_userlist({"shipments_app": roles["app"], "shipments_owner": roles["owner"],
                                "pgbouncer_stats": stats})
    assert hashlib.sha256("\0".join([ini, userlist, hba, ""]).encode()).hexdigest() == checksum
    # (and with the master user added, it would not be this file)
    assert "berth_admin" not in userlist


@pytest.mark.parametrize("name", STACKS)
def test_the_apps_secret_uses_the_apps_role_and_the_migrations_the_owners(
    request: pytest.FixtureRequest, name: str
) -> None:
    g = stack(request, name).graph
    pw = {n.name.rsplit("-", 2)[-2]: n.urn for n in of(g, ROLES, "random:index/randomPassword:RandomPassword")}
    app, migrations = app_secret(g), read_by(g, migrate_job(g), "kubernetes:core/v1:Secret")
    app_deps = set(app.property_dependencies["stringData"])
    mig_deps = set(migrations.property_dependencies["stringData"])
    assert pw["app"] in app_deps and pw["owner"] not in app_deps
    assert pw["owner"] in mig_deps and pw["app"] not in mig_deps
    assert set(migrations.inputs["stringData"]) == {"MIGRATION_DATABASE_URL"}
    # The app's DSNs as the app's role: the Deployment's checksum is recomputed in test_app
    # (test_secret_holds_pgbouncer_urls_and_the_tls_redis_url_with_its_token).


@pytest.mark.parametrize("name", STACKS)
def test_forwarded_headers_are_trusted_from_the_vpc_and_metrics_are_on_no_service(
    request: pytest.FixtureRequest, name: str
) -> None:
    g = stack(request, name).graph
    config = app_config(g).inputs["data"]
    assert config["FORWARDED_ALLOW_IPS"] == g.config["berth:network"]["cidr"]  # never "*"
    assert config["METRICS_PORT"] == "9100"
    labels = app_node(g, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["metadata"]["labels"]
    fronting = [svc for svc in g.by_type("kubernetes:core/v1:Service")
                if (svc.inputs["spec"].get("selector") or {}).items() <= labels.items()]
    assert [svc.inputs["metadata"]["name"] for svc in fronting] == ["shipments-api"]
    # The app's only Service (the internet-facing NLB) carries the API port alone.
    assert fronting[0].inputs["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "http",
                                                    "protocol": "TCP"}]


def test_bad_arguments_are_refused_before_anything_is_registered() -> None:
    base: dict[str, Any] = dict(provider=None, namespace="shipments", cluster_name="c",
                                settings=AppSettings(image="i@sha256:" + "a" * 64),
                                db_host="h", db_port=6432, db_username="u", db_password="p", redis_host="r",
                                redis_port=6379, redis_auth_token="t")
    with pytest.raises(ValueError, match="load_balancer_source_cidrs is required"):
        AppArgs(**base)
    for everyone in ("0.0.0.0/0", "::/0"):
        with pytest.raises(ValueError, match="would admit and trust every peer"):
            AppArgs(**base, load_balancer_source_cidrs=[everyone])
    with pytest.raises(ValueError, match="not a CIDR range"):
        AppArgs(**base, load_balancer_source_cidrs=["*"])
    with pytest.raises(ValueError, match="go together"):
        AppArgs(**base, load_balancer_source_cidrs=["10.0.0.0/16"], migration_username="shipments_owner")
    AppArgs(**base, load_balancer_source_cidrs=["10.0.0.0/16"])
    roles: dict[str, Any] = dict(provider=None, namespace="shipments", cluster_name="c", primary_address="db",
                                 master_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:x")
    with pytest.raises(ValueError, match="database_cidr is required"):
        DatabaseRolesArgs(**roles, settings=DatabaseRolesSettings(image="i@sha256:" + "a" * 64))
    with pytest.raises(ValueError, match="pinned by digest"):
        DatabaseRolesArgs(**roles, settings=DatabaseRolesSettings(image="ghcr.io/x/y:1"), require_digest=True,
                          database_cidr="10.0.0.0/16")
    with pytest.raises(ValueError, match="must differ"):
        DatabaseRolesArgs(**roles, settings=DatabaseRolesSettings(image="i:1", owner_role="x", app_role="x"),
                          database_cidr="10.0.0.0/16")


def test_the_role_passwords_are_random_and_secret(prod: Deployed) -> None:
    g = prod.graph
    for n in of(g, ROLES, "random:index/randomPassword:RandomPassword"):
        assert n.inputs["length"] >= 32 and n.inputs["special"] is False, n.name
    assert len(set(_passwords(g).values())) == 2
    assert not [x for x in itertools.chain(_passwords(g).values()) if x in json.dumps(
        [n.inputs for n in g.nodes if n.type != "kubernetes:core/v1:Secret"])]
