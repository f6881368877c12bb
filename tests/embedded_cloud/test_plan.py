"""Tests room (embedded cloud): the second `up`'s diff, property by property, as the provider makes it."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi

from embedded_cloud.plan import changes
from embedded_cloud.runner import read_kept, write_kept

RDS = "aws:rds/instance:Instance"


def test_a_replica_that_leaves_storage_encrypted_unset_is_replaced_on_every_up() -> None:
    # RDS reports the replica of an encrypted source as encrypted, with the source's key.
    state = {"replicateSourceDb": "berth-prod-primary", "storageEncrypted": True,
             "kmsKeyId": "arn:aws:kms:us-east-1:1:key/k", "engine": "postgres", "identifier": "r1"}
    program = {"replicateSourceDb": "berth-prod-primary", "identifier": "r1"}
    found = changes(RDS, state, {}, program)
    assert [(c.prop, c.old, c.new, c.replace) for c in found] == [("storageEncrypted", True, None, True)]
    # Computed attributes the cloud fills in (kmsKeyId, engine) never diff; the fix sets it.
    assert changes(RDS, state, {}, {**program, "storageEncrypted": True}) == []


def test_updates_and_replacements_follow_the_providers_schema() -> None:
    old = {"instanceClass": "db.r6g.large", "identifier": "p", "storageEncrypted": True}
    (c,) = changes(RDS, old, {}, {"instanceClass": "db.r6g.xlarge", "identifier": "p", "storageEncrypted": True})
    assert (c.prop, c.replace) == ("instanceClass", False)
    found = changes(RDS, old, {}, {"instanceClass": "db.r6g.large", "identifier": "p", "storageEncrypted": False})
    assert [(c.prop, c.replace) for c in found] == [("storageEncrypted", True)]


def test_documents_compare_as_json_and_record_names_as_the_provider_stores_them() -> None:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}
    assert changes("aws:iam/rolePolicy:RolePolicy", {"policy": json.dumps(doc)}, {},
                   {"policy": json.dumps(doc, indent=2)}) == []
    assert changes("aws:route53/record:Record", {"name": "_x.example.com"}, {}, {"name": "_X.example.com."}) == []


def test_nested_values_show_the_leaf_that_differs_and_blocks_keep_what_the_cloud_fills_in() -> None:
    old = {"vpcConfig": {"subnetIds": ["a", "b"], "vpcId": "vpc-1", "clusterSecurityGroupId": "sg-1"}}
    assert changes("aws:eks/cluster:Cluster", old, {}, {"vpcConfig": {"subnetIds": ["a", "b"]}}) == []
    (c,) = changes("aws:eks/cluster:Cluster", old, {}, {"vpcConfig": {"subnetIds": ["a", "c"]}})
    assert (c.prop, c.old, c.new) == ("vpcConfig.subnetIds[1]", "b", "c")


def test_kubernetes_objects_replace_where_pulumi_kubernetes_does() -> None:
    job = {"spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}
    new = {"spec": {"template": {"spec": {"containers": [{"image": "b"}]}}}}
    (c,) = changes("kubernetes:batch/v1:Job", {}, job, new)
    assert c.prop == "spec.template.spec.containers[0].image" and c.replace
    dep = {"spec": {"replicas": 2, "selector": {"matchLabels": {"a": "1"}}}}
    (c,) = changes("kubernetes:apps/v1:Deployment", {}, dep, {"spec": {**dep["spec"], "replicas": 3}})
    assert (c.prop, c.replace) == ("spec.replicas", False)
    (c,) = changes("kubernetes:core/v1:ConfigMap", {}, {"data": {"k": "1"}}, {"data": {"k": "2"}})
    assert c.replace


def test_kept_state_compares_assets_by_content(tmp_path: Path) -> None:
    f = tmp_path / "code.zip"
    f.write_bytes(b"one")
    kept = tmp_path / "kept"
    write_kept(kept, {"u": ("id", {"source": pulumi.FileAsset(str(f))})}, {"u": {"source": pulumi.FileAsset(str(f))}})
    again = tmp_path / "again"
    write_kept(again, {}, {"u": {"source": pulumi.FileAsset(str(f))}})
    assert read_kept(kept)[1] == read_kept(again)[1]
    f.write_bytes(b"two")
    write_kept(again, {}, {"u": {"source": pulumi.FileAsset(str(f))}})
    assert read_kept(kept)[1] != read_kept(again)[1]


def test_refresh_reads_a_replicas_inherited_encryption_from_the_cloud() -> None:
    from embedded_cloud import EmbeddedCloud
    from embedded_cloud.refresh import refresh

    cloud = EmbeddedCloud()
    rds = cloud.client("rds", "us-east-1")
    key = cloud.client("kms", "us-east-1").create_key()["KeyMetadata"]["Arn"]
    rds.create_db_instance(DBInstanceIdentifier="src", Engine="postgres", DBInstanceClass="db.t4g.medium",
                           MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20,
                           StorageEncrypted=True, KmsKeyId=key)
    rds.create_db_instance_read_replica(DBInstanceIdentifier="Rep", SourceDBInstanceIdentifier="src")
    # What the create answered is not what a refresh reads: the replica reports the source's encryption.
    state = {"urn:rep": ("rep", {"identifier": "rep", "storageEncrypted": None})}
    (_, read), = refresh(state, {"urn:rep": "us-east-1"}, cloud, {"urn:rep": RDS}).values()
    assert read["storageEncrypted"] is True and read["kmsKeyId"]
