"""Embedded cloud room: EventBridge rules and targets in moto."""

from __future__ import annotations

import json
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list

_TARGET_KEYS = {"arn": "Arn", "roleArn": "RoleArn", "input": "Input", "inputPath": "InputPath"}


@resource("aws:cloudwatch/eventRule:EventRule")
def event_rule(ctx: Ctx, r: Res) -> Out:
    events = ctx.client("events", r.region)
    name = r.physical_name(max_len=64)
    kw: dict[str, Any] = {"Name": name, "State": r.inputs.get("state") or "ENABLED"}
    if r.inputs.get("eventPattern"):
        pattern = r.inputs["eventPattern"]
        kw["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if r.inputs.get("scheduleExpression"):
        kw["ScheduleExpression"] = r.inputs["scheduleExpression"]
    for key, wire in (("description", "Description"), ("roleArn", "RoleArn"), ("eventBusName", "EventBusName")):
        if r.inputs.get(key):
            kw[wire] = r.inputs[key]
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    arn = events.put_rule(**kw)["RuleArn"]
    bus = r.inputs.get("eventBusName") or "default"
    return f"{bus}/{name}" if bus != "default" else name, {"arn": arn, "name": name}


@resource("aws:cloudwatch/eventTarget:EventTarget")
def event_target(ctx: Ctx, r: Res) -> Out:
    events = ctx.client("events", r.region)
    target_id = r.physical_name("targetId", max_len=64)
    target: dict[str, Any] = {"Id": target_id}
    for key, wire in _TARGET_KEYS.items():
        if r.inputs.get(key):
            target[wire] = r.inputs[key]
    xform = r.inputs.get("inputTransformer")
    if xform:
        target["InputTransformer"] = {"InputTemplate": xform["inputTemplate"]}
        if xform.get("inputPaths"):
            target["InputTransformer"]["InputPathsMap"] = xform["inputPaths"]
    if r.inputs.get("retryPolicy"):
        rp = r.inputs["retryPolicy"]
        target["RetryPolicy"] = {k: v for k, v in {
            "MaximumRetryAttempts": rp.get("maximumRetryAttempts"),
            "MaximumEventAgeInSeconds": rp.get("maximumEventAgeInSeconds")}.items() if v is not None}
    if r.inputs.get("deadLetterConfig"):
        target["DeadLetterConfig"] = {"Arn": r.inputs["deadLetterConfig"]["arn"]}
    kw: dict[str, Any] = {"Rule": r.inputs["rule"], "Targets": [target]}
    if r.inputs.get("eventBusName"):
        kw["EventBusName"] = r.inputs["eventBusName"]
    resp = events.put_targets(**kw)
    if resp.get("FailedEntryCount"):
        raise ValueError(f"EventBridge refused the target: {resp['FailedEntries']}")
    return f"{r.inputs['rule']}-{target_id}", {"targetId": target_id}
