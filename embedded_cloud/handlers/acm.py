"""Embedded cloud room: ACM certificates in moto (DNS validation records included)."""

from __future__ import annotations

from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list
from embedded_cloud.handlers.route53 import published


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


@resource("aws:acm/certificateValidation:CertificateValidation")
def certificate_validation(ctx: Ctx, r: Res) -> Out:
    """ACM issues a DNS-validated certificate once its validation CNAME resolves: check it does."""
    arn = str(r.inputs["certificateArn"])
    cert = ctx.client("acm", r.region).describe_certificate(CertificateArn=arn)["Certificate"]
    given = {f.rstrip(".") for f in r.inputs.get("validationRecordFqdns") or []}
    for opt in cert.get("DomainValidationOptions") or []:
        rr = opt.get("ResourceRecord") or {}
        if not rr:
            continue
        name = rr["Name"].rstrip(".")
        values = published(ctx, name, rr["Type"])
        if rr["Value"] not in values and rr["Value"].rstrip(".") not in {v.rstrip(".") for v in values}:
            raise ValueError(
                f"certificate {opt['DomainName']} cannot be issued: its validation record {name} {rr['Type']} "
                f"{rr['Value']} is in no hosted zone of the account; the provider would wait 75 minutes for "
                "ISSUED and fail"
            )
        if given and name not in given:
            raise ValueError(f"validation_record_fqdns {sorted(given)} does not name the validation record {name}")
    return arn, {"certificateArn": arn}
