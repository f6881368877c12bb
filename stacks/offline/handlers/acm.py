"""Embedded cloud room: ACM certificates in moto (DNS validation records included)."""

from __future__ import annotations

from typing import Any

from stacks.offline.handlers import Ctx, Out, Res, resource, tag_list


@resource("aws:acm/certificate:Certificate")
def certificate(ctx: Ctx, r: Res) -> Out:
    acm = ctx.client("acm", r.region)
    kw: dict[str, Any] = {
        "DomainName": r.inputs["domainName"],
        "ValidationMethod": r.inputs.get("validationMethod") or "DNS",
    }
    if r.inputs.get("subjectAlternativeNames"):
        kw["SubjectAlternativeNames"] = list(r.inputs["subjectAlternativeNames"])
    if r.inputs.get("keyAlgorithm"):
        kw["KeyAlgorithm"] = r.inputs["keyAlgorithm"]
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    arn = acm.request_certificate(**kw)["CertificateArn"]
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    options = []
    for opt in cert.get("DomainValidationOptions") or []:
        rr = opt.get("ResourceRecord") or {}
        options.append({
            "domainName": opt["DomainName"],
            "resourceRecordName": rr.get("Name"),
            "resourceRecordType": rr.get("Type"),
            "resourceRecordValue": rr.get("Value"),
        })
    return arn, {"arn": arn, "domainValidationOptions": options, "status": cert.get("Status"),
                 "validationEmails": []}
