"""Tests room (stacks): what `berth preview` draws and writes, from the prod graph."""

from __future__ import annotations

import re

import yaml

from berth.operations import render
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
