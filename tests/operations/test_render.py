"""Tests room (stacks): what `berth preview` draws and writes, from the prod graph."""

from __future__ import annotations

import json
import re

import yaml

from berth.operations import render
from embedded_cloud.graph import Graph, Node
from tests.conftest import Deployed


def test_the_mermaid_picture_shows_each_component_once_and_the_data_flow(prod: Deployed) -> None:
    text = render.mermaid(prod.graph)
    assert text.startswith("flowchart LR\n")
    nodes = re.findall(r'^  (\w+)\["<b>(\w+)</b>', text, flags=re.M)
    kinds = [k for _, k in nodes]
    # Prod has two networks: its own and the recovery VPC in the DR region.
    assert sorted(kinds) == sorted(
        ["Dns", "Network", "Network", "Cluster", "Database", "DatabaseRoles", "PgBouncer", "Cache", "App", "Cdn",
         "Alarms", "Backups"]
    )
    assert len({i for i, _ in nodes}) == len(nodes), "one Mermaid node per component"
    ids = {k: i for i, k in nodes if not i.endswith("_recovery")}
    assert ("Network_berth_prod_recovery", ids["Database"]) in set(re.findall(r"^  (\w+) --> (\w+)$", text, re.M))
    edges = set(re.findall(r"^  (\w+) --> (\w+)$", text, flags=re.M))
    for src, dst in [
        ("Network", "Cluster"), ("Network", "Database"), ("Cluster", "Database"), ("Database", "PgBouncer"),
        ("Database", "DatabaseRoles"), ("DatabaseRoles", "PgBouncer"), ("DatabaseRoles", "App"),
        ("PgBouncer", "App"), ("Cache", "App"), ("App", "Cdn"), ("Database", "Alarms"), ("Database", "Backups"),
        ("Cdn", "Backups"),
    ]:
        assert (ids[src], ids[dst]) in edges, f"{src} -> {dst} missing"
    assert not any(a == b for a, b in edges)
    assert f"users((Users)) -->|HTTPS| {ids['Cdn']}" in text
    # Regions show where a tier spans the DR region.
    assert "us-east-1, us-west-2" in text.split(ids["Database"] + '["')[1].split("\n")[0]


def test_manifests_are_the_kubernetes_objects_with_names_and_namespaces(prod: Deployed) -> None:
    objs = render.manifests(prod.graph)
    kinds = {o["kind"] for o in objs.values()}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "NetworkPolicy", "Job", "Namespace"} <= kinds
    for fname, obj in objs.items():
        assert obj["metadata"]["name"], fname
        assert yaml.safe_load(yaml.safe_dump(obj)) == obj
    secret_payloads = [o.get("stringData") for o in objs.values() if o["kind"] == "Secret"]
    assert secret_payloads and all(set(p.values()) == {"[secret]"} for p in secret_payloads if p)


def test_diff_excerpts_show_the_part_that_differs() -> None:
    policy_a = '{"Statement": [{"Effect": "Allow", "Resource": "' + "x" * 200 + 'arn:aws:s3:::a-bucket/*"}]}'
    policy_b = policy_a.replace("a-bucket", "b-bucket")
    ea, eb = render.excerpt(policy_a, policy_b, width=60)
    assert "a-bucket" in ea and "b-bucket" in eb and ea.startswith("…") and len(ea) <= 62
    assert render.excerpt("short", "other") == ("short", "other")
    digest = "ghcr.io/o/api@sha256:" + "a" * 64
    assert render.excerpt("ghcr.io/o/api:1.0", digest)[1].endswith("a" * 64)


def _stack(stack: str, cidr: str, bucket_suffix: str) -> Graph:
    """Two resources of one stack: a key and an alias pointing at it, with a policy naming the stack."""
    key_urn = f"urn:pulumi:{stack}::berth::berth:alarms:Alarms$aws:kms/key:Key::berth-{stack}-key"
    key_arn = f"arn:aws:kms:us-east-1:123456789012:key/{bucket_suffix}-0000-0000-0000-000000000000"
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Resource": f"arn:aws:s3:::berth-{stack}-assets/*",
                                        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]})
    return Graph(stack=stack, project="berth", config={"berth:network": {"cidr": cidr}, "berth:environment": stack},
                 nodes=[
                     Node(key_urn, "aws:kms/key:Key", f"berth-{stack}-key", True, id=key_arn.rsplit("/", 1)[1],
                          inputs={"policy": policy, "description": f"berth {stack} key"},
                          outputs={"arn": key_arn}),
                     Node(f"urn:pulumi:{stack}::berth::aws:kms/alias:Alias::berth-{stack}-key-alias",
                          "aws:kms/alias:Alias", f"berth-{stack}-key-alias", True,
                          inputs={"targetKeyId": key_arn, "name": f"alias/berth-{stack}-db-{bucket_suffix}"}),
                 ])


def test_diff_normalises_stack_names_everywhere_and_masks_what_runs_pick() -> None:
    a, b = _stack("staging", "10.10.0.0/16", "1a2b3c4d"), _stack("prod", "10.20.0.0/16", "9f8e7d6c")
    d = render.diff_graphs(a, b)
    # Only the real difference: the range. Names, URNs, the policy naming its stack, the key each alias
    # points at and the random suffixes are not differences.
    assert d["differs"] is True and d["changed"] == []
    assert d["config"] == [{"key": "berth:network.cidr", "staging": "10.10.0.0/16", "prod": "10.20.0.0/16"}]
    same = render.diff_graphs(a, _stack("staging", "10.10.0.0/16", "1a2b3c4d"))
    assert same["differs"] is False and "only_in_staging" not in same
