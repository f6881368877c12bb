"""Embedded cloud room: CloudWatch alarms and dashboards, and Synthetics canaries, in moto.

moto stores metric alarms, dashboards and canaries. It has no PutCompositeAlarm, so a
composite alarm is validated by botocore against the real API's shape and checked against
moto's alarms (every alarm its rule names must exist), then answered like `generic`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from botocore.validate import validate_parameters

from embedded_cloud.handlers import Ctx, Out, Res, resource, short_hash, tag_list
from embedded_cloud.handlers.logs import ensure_service_group

_METRIC_ALARM_PARAMS = {
    "alarmDescription": "AlarmDescription",
    "namespace": "Namespace",
    "metricName": "MetricName",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "period": "Period",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "comparisonOperator": "ComparisonOperator",
    "threshold": "Threshold",
    "unit": "Unit",
    "treatMissingData": "TreatMissingData",
    "actionsEnabled": "ActionsEnabled",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "insufficientDataActions": "InsufficientDataActions",
    "thresholdMetricId": "ThresholdMetricId",
    "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile",
}


def _alarm_arn(ctx: Ctx, region: str, name: str) -> str:
    return ctx.arn("cloudwatch", region, f"alarm:{name}")


@resource("aws:cloudwatch/metricAlarm:MetricAlarm")
def metric_alarm(ctx: Ctx, r: Res) -> Out:
    cw = ctx.client("cloudwatch", r.region)
    name = r.physical_name(max_len=255)
    kw: dict[str, Any] = {"AlarmName": name}
    for key, wire in _METRIC_ALARM_PARAMS.items():
        if r.inputs.get(key) is not None:
            kw[wire] = r.inputs[key]
    if "Threshold" in kw:
        kw["Threshold"] = float(kw["Threshold"])
    if r.inputs.get("dimensions"):
        kw["Dimensions"] = [{"Name": k, "Value": str(v)} for k, v in r.inputs["dimensions"].items()]
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    cw.put_metric_alarm(**kw)
    return name, {"name": name, "arn": _alarm_arn(ctx, r.region, name)}


@resource("aws:cloudwatch/compositeAlarm:CompositeAlarm")
def composite_alarm(ctx: Ctx, r: Res) -> Out:
    cw = ctx.client("cloudwatch", r.region)
    name = r.physical_name("alarmName", max_len=255)
    kw: dict[str, Any] = {"AlarmName": name, "AlarmRule": r.inputs["alarmRule"]}
    for key, wire in (("alarmDescription", "AlarmDescription"), ("alarmActions", "AlarmActions"),
                      ("okActions", "OKActions"), ("insufficientDataActions", "InsufficientDataActions"),
                      ("actionsEnabled", "ActionsEnabled")):
        if r.inputs.get(key) is not None:
            kw[wire] = r.inputs[key]
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    validate_parameters(kw, cw.meta.service_model.operation_model("PutCompositeAlarm").input_shape)
    # The real API refuses a rule naming an alarm that does not exist in the region.
    named = re.findall(r'(?:ALARM|OK|INSUFFICIENT_DATA)\("([^"]+)"\)', kw["AlarmRule"])
    if not named:
        raise ValueError(f"alarm rule names no alarm: {kw['AlarmRule']!r}")
    known = {a["AlarmName"] for a in cw.describe_alarms(AlarmNames=named)["MetricAlarms"]}
    missing = sorted(set(named) - known)
    if missing:
        raise ValueError(f"alarm rule names alarms that do not exist in {r.region}: {', '.join(missing)}")
    return name, {"alarmName": name, "arn": _alarm_arn(ctx, r.region, name)}


@resource("aws:cloudwatch/dashboard:Dashboard")
def dashboard(ctx: Ctx, r: Res) -> Out:
    cw = ctx.client("cloudwatch", r.region)
    name = r.inputs["dashboardName"]
    cw.put_dashboard(DashboardName=name, DashboardBody=r.inputs["dashboardBody"])
    return name, {"dashboardArn": f"arn:aws:cloudwatch::{ctx.account_id}:dashboard/{name}"}


def _role_may(ctx: Ctx, role_arn: str, action: str) -> bool:
    """Whether a role's inline policies allow an action (by name or by a wildcard covering it)."""
    iam = ctx.client("iam", "us-east-1")
    role = role_arn.rsplit("/", 1)[-1]
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        for st in doc.get("Statement", []):
            actions = st.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if st.get("Effect") == "Allow" and any(fnmatch.fnmatch(action, a) for a in actions):
                return True
    return False


@resource("aws:synthetics/canary:Canary")
def canary(ctx: Ctx, r: Res) -> Out:
    syn = ctx.client("synthetics", r.region)
    i = r.inputs
    code: dict[str, Any] = {"Handler": i["handler"]}
    for key, wire in (("s3Bucket", "S3Bucket"), ("s3Key", "S3Key"), ("s3Version", "S3Version")):
        if i.get(key):
            code[wire] = i[key]
    if i.get("zipFile"):
        code["ZipFile"] = i["zipFile"].encode() if isinstance(i["zipFile"], str) else i["zipFile"]
    kw: dict[str, Any] = {
        "Name": i["name"],
        "Code": code,
        "ArtifactS3Location": i["artifactS3Location"],
        "ExecutionRoleArn": i["executionRoleArn"],
        "Schedule": {"Expression": i["schedule"]["expression"]},
        "RuntimeVersion": i["runtimeVersion"],
    }
    run = i.get("runConfig") or {}
    if run:
        kw["RunConfig"] = {k: v for k, v in {
            "TimeoutInSeconds": run.get("timeoutInSeconds"),
            "MemoryInMB": run.get("memoryInMb"),
            "ActiveTracing": run.get("activeTracing"),
            "EnvironmentVariables": run.get("environmentVariables"),
        }.items() if v is not None}
    for key, wire in (("successRetentionPeriod", "SuccessRetentionPeriodInDays"),
                      ("failureRetentionPeriod", "FailureRetentionPeriodInDays")):
        if i.get(key) is not None:
            kw[wire] = int(i[key])
    enc = (i.get("artifactConfig") or {}).get("s3Encryption")
    if enc:
        kw["ArtifactConfig"] = {"S3Encryption": {k: v for k, v in {
            "EncryptionMode": enc.get("encryptionMode"), "KmsKeyArn": enc.get("kmsKeyArn")}.items() if v}}
    if r.tags():
        kw["Tags"] = r.tags()
    c = syn.create_canary(**kw)["Canary"]
    arn = ctx.arn("synthetics", r.region, f"canary:{c['Name']}")
    # Synthetics runs the canary as the Lambda cwsyn-<name>-<canary id> (moto leaves EngineArn out).
    # (moto's canary id is random; a stable stand-in keeps the offline graph deterministic)
    engine = c.get("EngineArn") or ctx.arn("lambda", r.region, f"function:cwsyn-{c['Name']}-{short_hash(r.urn, n=12)}:1")
    # The canary starts at once; its Lambda makes its own log group when its role allows it.
    if i.get("startCanary") and _role_may(ctx, i["executionRoleArn"], "logs:CreateLogGroup"):
        ensure_service_group(ctx, r.region, f"/aws/lambda/{engine.split(':')[6]}")
    return c["Name"], {"arn": arn, "engineArn": engine, "status": "RUNNING",
                       "sourceLocationArn": c.get("Code", {}).get("SourceLocationArn")}
