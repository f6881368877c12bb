"""Embedded cloud room: SNS topics, topic policies and subscriptions in moto."""

from __future__ import annotations

import json
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list


def _doc(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@resource("aws:sns/topic:Topic")
def topic(ctx: Ctx, r: Res) -> Out:
    sns = ctx.client("sns", r.region)
    name = r.physical_name(max_len=256)
    attrs: dict[str, str] = {}
    for key, wire in (("kmsMasterKeyId", "KmsMasterKeyId"), ("displayName", "DisplayName"),
                      ("deliveryPolicy", "DeliveryPolicy"), ("signatureVersion", "SignatureVersion"),
                      ("tracingConfig", "TracingConfig")):
        if r.inputs.get(key) is not None:
            attrs[wire] = str(r.inputs[key])
    if r.inputs.get("policy"):
        attrs["Policy"] = _doc(r.inputs["policy"])
    if r.inputs.get("fifoTopic"):
        attrs["FifoTopic"] = "true"
    kw: dict[str, Any] = {"Name": name, "Attributes": attrs}
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    arn = sns.create_topic(**kw)["TopicArn"]
    return arn, {"arn": arn, "name": name, "owner": ctx.account_id}


@resource("aws:sns/topicPolicy:TopicPolicy")
def topic_policy(ctx: Ctx, r: Res) -> Out:
    sns = ctx.client("sns", r.region)
    sns.set_topic_attributes(TopicArn=r.inputs["arn"], AttributeName="Policy",
                             AttributeValue=_doc(r.inputs["policy"]))
    return r.inputs["arn"], {"owner": ctx.account_id}


@resource("aws:sns/topicSubscription:TopicSubscription")
def topic_subscription(ctx: Ctx, r: Res) -> Out:
    sns = ctx.client("sns", r.region)
    attrs: dict[str, str] = {}
    for key, wire in (("filterPolicy", "FilterPolicy"), ("filterPolicyScope", "FilterPolicyScope"),
                      ("rawMessageDelivery", "RawMessageDelivery"), ("redrivePolicy", "RedrivePolicy"),
                      ("deliveryPolicy", "DeliveryPolicy")):
        if r.inputs.get(key) is not None:
            v = r.inputs[key]
            attrs[wire] = ("true" if v else "false") if isinstance(v, bool) else _doc(v)
    sub = sns.subscribe(TopicArn=r.inputs["topic"], Protocol=r.inputs["protocol"], Endpoint=r.inputs["endpoint"],
                        Attributes=attrs, ReturnSubscriptionArn=True)
    arn = sub["SubscriptionArn"]
    return arn, {"arn": arn, "ownerId": ctx.account_id, "pendingConfirmation": False,
                 "confirmationWasAuthenticated": True}
