"""Embedded cloud room: AWS Backup vaults, vault locks and plans in moto.

moto has no backup selections: a selection is validated by botocore against the real
API's shape and must name a plan moto knows, then answered like `generic`. Restore
testing plans and selections fall through to `generic`, and so does RDS automated-backup
replication (`aws:rds/instanceAutomatedBackupsReplication`): moto 5.2 does not implement
StartDBInstanceAutomatedBackupsReplication, so the DR region holds no replicated backups in
moto; read the graph for them.
"""

from __future__ import annotations

from typing import Any

from botocore.validate import validate_parameters

from embedded_cloud.handlers import Ctx, Out, Res, resource, short_hash


def _lifecycle(lc: dict[str, Any] | None) -> dict[str, Any] | None:
    if not lc:
        return None
    out = {k: v for k, v in {
        "DeleteAfterDays": lc.get("deleteAfter"),
        "MoveToColdStorageAfterDays": lc.get("coldStorageAfter"),
        "OptInToArchiveForSupportedResources": lc.get("optInToArchiveForSupportedResources"),
    }.items() if v is not None}
    return out or None


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"RuleName": rule["ruleName"], "TargetBackupVaultName": rule["targetVaultName"]}
    for key, wire in (("schedule", "ScheduleExpression"), ("startWindow", "StartWindowMinutes"),
                      ("completionWindow", "CompletionWindowMinutes"),
                      ("enableContinuousBackup", "EnableContinuousBackup"),
                      ("recoveryPointTags", "RecoveryPointTags"),
                      ("scheduleExpressionTimezone", "ScheduleExpressionTimezone")):
        if rule.get(key) is not None:
            out[wire] = rule[key]
    if _lifecycle(rule.get("lifecycle")):
        out["Lifecycle"] = _lifecycle(rule.get("lifecycle"))
    copies = []
    for c in rule.get("copyActions") or []:
        copy: dict[str, Any] = {"DestinationBackupVaultArn": c["destinationVaultArn"]}
        if _lifecycle(c.get("lifecycle")):
            copy["Lifecycle"] = _lifecycle(c.get("lifecycle"))
        copies.append(copy)
    if copies:
        out["CopyActions"] = copies
    return out


@resource("aws:backup/vault:Vault")
def vault(ctx: Ctx, r: Res) -> Out:
    backup = ctx.client("backup", r.region)
    name = r.physical_name(max_len=50)
    kw: dict[str, Any] = {"BackupVaultName": name}
    if r.inputs.get("kmsKeyArn"):
        kw["EncryptionKeyArn"] = r.inputs["kmsKeyArn"]
    if r.tags():
        kw["BackupVaultTags"] = r.tags()
    v = backup.create_backup_vault(**kw)
    return name, {"arn": v["BackupVaultArn"], "name": name, "recoveryPoints": 0}


@resource("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
def vault_lock(ctx: Ctx, r: Res) -> Out:
    backup = ctx.client("backup", r.region)
    name = r.inputs["backupVaultName"]
    kw: dict[str, Any] = {"BackupVaultName": name}
    for key, wire in (("minRetentionDays", "MinRetentionDays"), ("maxRetentionDays", "MaxRetentionDays"),
                      ("changeableForDays", "ChangeableForDays")):
        if r.inputs.get(key) is not None:
            kw[wire] = int(r.inputs[key])
    backup.put_backup_vault_lock_configuration(**kw)
    arn = backup.describe_backup_vault(BackupVaultName=name)["BackupVaultArn"]
    return name, {"backupVaultArn": arn}


@resource("aws:backup/plan:Plan")
def plan(ctx: Ctx, r: Res) -> Out:
    backup = ctx.client("backup", r.region)
    name = r.physical_name(max_len=50)
    body: dict[str, Any] = {"BackupPlanName": name, "Rules": [_rule(x) for x in r.inputs.get("rules") or []]}
    settings = r.inputs.get("advancedBackupSettings") or []
    if settings:
        body["AdvancedBackupSettings"] = [{"ResourceType": s["resourceType"], "BackupOptions": s["backupOptions"]}
                                          for s in settings]
    kw: dict[str, Any] = {"BackupPlan": body}
    if r.tags():
        kw["BackupPlanTags"] = r.tags()
    p = backup.create_backup_plan(**kw)
    return p["BackupPlanId"], {"arn": p["BackupPlanArn"], "name": name, "version": p["VersionId"]}


@resource("aws:backup/selection:Selection")
def selection(ctx: Ctx, r: Res) -> Out:
    backup = ctx.client("backup", r.region)
    plan_id = r.inputs["planId"]
    body: dict[str, Any] = {"SelectionName": r.physical_name(max_len=50), "IamRoleArn": r.inputs["iamRoleArn"]}
    if r.inputs.get("resources"):
        body["Resources"] = r.inputs["resources"]
    if r.inputs.get("notResources"):
        body["NotResources"] = r.inputs["notResources"]
    validate_parameters({"BackupPlanId": plan_id, "BackupSelection": body},
                        backup.meta.service_model.operation_model("CreateBackupSelection").input_shape)
    backup.get_backup_plan(BackupPlanId=plan_id)  # the real API refuses a selection of an unknown plan
    return short_hash(r.urn, n=36), {"name": body["SelectionName"]}
