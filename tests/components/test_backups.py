"""Tests room (components): AWS Backup vaults, plan, selection, restore tests and job alerts.

Asserted on moto's state (Backup vaults, locks and plans, IAM, KMS, EventBridge) where moto
holds the resource, on the graph otherwise (moto has no backup selections, restore testing
plans or RDS automated-backup replication: those run through the generic handler).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.backups import BackupsArgs
from components.settings import BackupAndDrSettings, BackupSettings
from tests.conftest import Deployed

REGION = "us-east-1"
DR_REGION = "us-west-2"


def plan(d: Deployed) -> dict[str, Any]:
    return d.client("backup").get_backup_plan(BackupPlanId=d.graph.outputs["backupPlanId"])["BackupPlan"]


def rules(d: Deployed) -> dict[str, dict[str, Any]]:
    return {r["RuleName"]: r for r in plan(d)["Rules"]}


def vault(d: Deployed, region: str = REGION, suffix: str = "") -> dict[str, Any]:
    return d.client("backup", region).describe_backup_vault(BackupVaultName=f"berth-{d.stack}-vault{suffix}")


def primary(d: Deployed) -> dict[str, Any]:
    dbs = d.client("rds").describe_db_instances(DBInstanceIdentifier=f"berth-{d.stack}-primary")["DBInstances"]
    return dbs[0]


def one(d: Deployed, type_: str) -> Any:
    (node,) = d.graph.by_type(type_)
    return node


# ---- the plan, as moto's AWS Backup holds it ---------------------------------------------
def test_staging_plan_keeps_daily_backups_seven_days_continuously_and_copies_nothing(staging: Deployed) -> None:
    r = rules(staging)
    assert list(r) == ["daily"]
    daily = r["daily"]
    assert daily["Lifecycle"]["DeleteAfterDays"] == 7
    assert daily["EnableContinuousBackup"] is True
    assert daily["TargetBackupVaultName"] == "berth-staging-vault"
    assert "CopyActions" not in daily


def test_prod_plan_keeps_35_days_daily_and_a_year_monthly_with_copies_in_us_west_2(prod: Deployed) -> None:
    r = rules(prod)
    assert sorted(r) == ["daily", "monthly"]
    assert r["daily"]["Lifecycle"]["DeleteAfterDays"] == 35
    assert r["daily"]["EnableContinuousBackup"] is True
    assert r["monthly"]["Lifecycle"]["DeleteAfterDays"] == 365
    dr_vault = vault(prod, DR_REGION, "-dr")
    for rule in r.values():
        (copy,) = rule["CopyActions"]
        assert copy["DestinationBackupVaultArn"] == dr_vault["BackupVaultArn"]
        assert copy["DestinationBackupVaultArn"].startswith(f"arn:aws:backup:{DR_REGION}:")
        # The copy lives as long as the original.
        assert copy["Lifecycle"]["DeleteAfterDays"] == rule["Lifecycle"]["DeleteAfterDays"]
    # The DR vault is encrypted with a key of its own region.
    assert dr_vault["EncryptionKeyArn"].startswith(f"arn:aws:kms:{DR_REGION}:")


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_vault_is_encrypted_with_a_rotating_customer_key(stack: str, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    key = vault(d)["EncryptionKeyArn"]
    assert d.client("kms").get_key_rotation_status(KeyId=key)["KeyRotationEnabled"]
    assert d.client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyManager"] == "CUSTOMER"


# ---- what is backed up, by whom ------------------------------------------------------------
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_selection_names_the_primary_database_and_the_static_assets_bucket(stack: str, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    selection = one(d, "aws:backup/selection:Selection")
    assert selection.inputs["planId"] == d.graph.outputs["backupPlanId"]
    assets = f"arn:aws:s3:::{d.graph.outputs['assetsBucketName']}"
    assert selection.inputs["resources"] == [primary(d)["DBInstanceArn"], assets]
    # S3 backups need versioning on the bucket.
    versioning = d.client("s3").get_bucket_versioning(Bucket=d.graph.outputs["assetsBucketName"])
    assert versioning["Status"] == "Enabled"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_backup_role_carries_the_managed_backup_and_restore_policies(stack: str, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    selection = one(d, "aws:backup/selection:Selection")
    iam = d.client("iam")
    role = selection.inputs["iamRoleArn"].rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == {
        "AWSBackupServiceRolePolicyForBackup",
        "AWSBackupServiceRolePolicyForRestores",
        "AWSBackupServiceRolePolicyForS3Backup",
        "AWSBackupServiceRolePolicyForS3Restore",
    }
    # The selection waits for the policies: the first job must not find a bare role.
    attachments = {n.urn for n in d.graph.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                   if n.inputs["role"] == role}
    assert attachments <= set(selection.dependencies)


# ---- staging vs prod: lock, restore tests, cross-region material ----------------------------
def test_staging_has_no_vault_lock_no_restore_testing_and_nothing_in_the_dr_region(staging: Deployed) -> None:
    assert vault(staging).get("Locked") is False
    assert staging.graph.by_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration") == []
    assert staging.graph.by_type("aws:backup/restoreTestingPlan:RestoreTestingPlan") == []
    assert all("CopyActions" not in r for r in rules(staging).values())
    assert staging.graph.outputs["drBackupVaultArn"] is None
    assert staging.graph.by_type(
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication") == []
    names = [v["BackupVaultName"] for v in staging.client("backup", DR_REGION).list_backup_vaults()["BackupVaultList"]]
    assert not [n for n in names if n.startswith("berth-staging-")]


def test_prod_vaults_are_locked_within_the_configured_retention_bounds(prod: Deployed) -> None:
    for v in (vault(prod), vault(prod, DR_REGION, "-dr")):
        assert v["Locked"] is True
        assert (v["MinRetentionDays"], v["MaxRetentionDays"]) == (7, 400)
    # Every retention the plan asks for fits inside the lock.
    for rule in rules(prod).values():
        assert 7 <= rule["Lifecycle"]["DeleteAfterDays"] <= 400


def test_prod_tests_restores_monthly_from_its_vault(prod: Deployed) -> None:
    testing = one(prod, "aws:backup/restoreTestingPlan:RestoreTestingPlan")
    schedule = testing.inputs["scheduleExpression"]
    # cron(min hour day-of-month month day-of-week year): one run a month.
    fields = schedule.removeprefix("cron(").removesuffix(")").split()
    assert fields[3] == "*" and ("#" in fields[4] or fields[2].isdigit())
    assert testing.inputs["recoveryPointSelection"]["includeVaults"] == [vault(prod)["BackupVaultArn"]]
    selections = {n.inputs["protectedResourceType"]: n
                  for n in prod.graph.by_type("aws:backup/restoreTestingSelection:RestoreTestingSelection")}
    assert sorted(selections) == ["RDS", "S3"]
    assert selections["RDS"].inputs["protectedResourceArns"] == [primary(prod)["DBInstanceArn"]]
    assert all(s.inputs["restoreTestingPlanName"] == testing.outputs["name"] for s in selections.values())


def test_prod_replicates_automated_backups_to_the_dr_region_with_a_key_there(prod: Deployed) -> None:
    rep = one(prod, "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
    assert rep.region == DR_REGION
    assert rep.inputs["sourceDbInstanceArn"] == primary(prod)["DBInstanceArn"]
    assert rep.inputs["retentionPeriod"] == 14
    key = prod.client("kms", DR_REGION).describe_key(KeyId=rep.inputs["kmsKeyId"])["KeyMetadata"]
    assert key["Arn"].startswith(f"arn:aws:kms:{DR_REGION}:")


@pytest.mark.parametrize(("stack", "protected"), [("staging", False), ("prod", True)])
def test_vaults_and_keys_are_protected_in_prod_only(stack: str, protected: bool, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    (component,) = d.graph.by_type("berth:backups:Backups")
    stateful = [n for n in d.graph.descendants(component.urn)
                if n.type in ("aws:backup/vault:Vault", "aws:kms/key:Key")]
    assert stateful and all(n.protect is protected for n in stateful)
    assert all(n.inputs["forceDestroy"] is (not protected) for n in stateful if n.type == "aws:backup/vault:Vault")


# ---- job failures page someone --------------------------------------------------------------
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_failed_backup_copy_and_restore_jobs_reach_the_alarm_topic(stack: str, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    events = d.client("events")
    name = f"berth-{stack}-backup-job-failures"
    pattern = json.loads(events.describe_rule(Name=name)["EventPattern"])
    assert pattern["source"] == ["aws.backup"]
    assert set(pattern["detail-type"]) == {"Backup Job State Change", "Copy Job State Change",
                                           "Restore Job State Change"}
    assert {"FAILED", "ABORTED"} <= set(pattern["detail"]["state"])
    (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
    assert target["Arn"] == d.graph.outputs["alarmTopicArn"]
    # EventBridge may publish to the (encrypted) topic.
    attrs = d.client("sns").get_topic_attributes(TopicArn=target["Arn"])["Attributes"]
    services = [s["Principal"].get("Service") for s in json.loads(attrs["Policy"])["Statement"]
                if isinstance(s["Principal"], dict)]
    assert any("events.amazonaws.com" in (s or []) for s in services)


# ---- the component's own guards ------------------------------------------------------------
def _args(**backup: Any) -> BackupsArgs:
    return BackupsArgs(database_arn="arn:aws:rds:us-east-1:123456789012:db:x",
                       settings=BackupAndDrSettings(backup=BackupSettings(**backup)))


def test_continuous_backups_cannot_outlive_35_days() -> None:
    with pytest.raises(ValueError, match="35 days"):
        _args(daily_retention_days=36)


def test_copies_need_a_dr_region() -> None:
    with pytest.raises(ValueError, match=r"dr\.region"):
        _args(copy_to_dr=True)


def test_vault_lock_must_cover_the_longest_retention() -> None:
    with pytest.raises(ValueError, match="vaultLockMaxDays"):
        _args(monthly_retention_days=500, vault_lock=True, vault_lock_max_days=400)
