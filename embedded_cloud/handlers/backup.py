"""Embedded cloud room: AWS Backup vaults, vault locks and plans in moto.

moto has no backup selections, restore testing plans or selections: each is validated by
botocore against the real API's shape, must name what the service would look up (a plan moto
knows, a restore testing plan registered earlier), and gets the ARN AWS Backup gives it.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.validate import validate_parameters

from embedded_cloud.handlers import Ctx, Out, Res, resource, short_hash, validated


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


# Restore testing plan names: letters, digits and underscores, starting with a letter, at most 50.
_RESTORE_PLAN_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,49}$")


@resource("aws:backup/restoreTestingPlan:RestoreTestingPlan")
def restore_testing_plan(ctx: Ctx, r: Res) -> Out:
    i = r.inputs
    name = str(i["name"])
    if not _RESTORE_PLAN_NAME.match(name):
        raise ValueError(f"ValidationException: restore testing plan name {name!r}: letters, digits and underscores, "
                         f"starting with a letter, at most 50")
    sel = i["recoveryPointSelection"]
    plan = {"RestoreTestingPlanName": name, "ScheduleExpression": i["scheduleExpression"],
            "RecoveryPointSelection": {"Algorithm": sel["algorithm"], "IncludeVaults": list(sel["includeVaults"]),
                                       "RecoveryPointTypes": list(sel["recoveryPointTypes"]),
                                       **({"SelectionWindowDays": int(sel["selectionWindowDays"])}
                                          if "selectionWindowDays" in sel else {})}}
    if i.get("scheduleExpressionTimezone"):
        plan["ScheduleExpressionTimezone"] = i["scheduleExpressionTimezone"]
    if i.get("startWindowHours") is not None:
        plan["StartWindowHours"] = int(i["startWindowHours"])
    validated(ctx, "backup", "CreateRestoreTestingPlan", {"RestoreTestingPlan": plan, "Tags": r.tags()}, r.region)
    return name, {"arn": ctx.arn("backup", r.region, f"restore-testing-plan:{name}-{short_hash(r.urn, n=6)}")}


@resource("aws:backup/restoreTestingSelection:RestoreTestingSelection")
def restore_testing_selection(ctx: Ctx, r: Res) -> Out:
    i = r.inputs
    plan = str(i["restoreTestingPlanName"])
    if not ctx.find("aws:backup/restoreTestingPlan:RestoreTestingPlan", id=plan):
        raise ValueError(f"ResourceNotFoundException: restore testing plan {plan!r} does not exist")
    selection: dict[str, Any] = {"RestoreTestingSelectionName": i["name"], "IamRoleArn": i["iamRoleArn"],
                                 "ProtectedResourceType": i["protectedResourceType"]}
    if i.get("protectedResourceArns"):
        selection["ProtectedResourceArns"] = list(i["protectedResourceArns"])
    if i.get("validationWindowHours") is not None:
        selection["ValidationWindowHours"] = int(i["validationWindowHours"])
    validated(ctx, "backup", "CreateRestoreTestingSelection",
              {"RestoreTestingPlanName": plan, "RestoreTestingSelection": selection}, r.region)
    return f"{i['name']}:{plan}", {}
