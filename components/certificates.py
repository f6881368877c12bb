"""Components room: an ACM certificate validated through DNS in a zone of ours.

One shape for every certificate the platform requests (the app's origin name in its region, the
CDN's domain in us-east-1): the certificate, its validation CNAME in the zone, and the wait for
ACM to issue it, bounded so that a record that never resolves (an undelegated zone) fails the
deploy in minutes rather than after the provider's 75-minute default.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def dns_validated_certificate(
    prefix: str,
    *,
    domain: str,
    zone_id: pulumi.Input[str] | None,
    parent: pulumi.Resource,
    tags: dict[str, str],
    region: str | None = None,
) -> pulumi.Output[str]:
    """The ARN of an issued certificate for `domain` (resolves only once ACM has issued it).

    Without `zone_id` the validation record is left to whoever owns the zone, and the wait lasts
    until they publish it (bounded as above).
    """
    region_kw = {"region": region} if region else {}
    cert = aws.acm.Certificate(
        prefix,
        domain_name=domain,
        validation_method="DNS",
        key_algorithm="RSA_2048",
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
        **region_kw,
    )
    fqdns: list[pulumi.Output[str]] | None = None
    if zone_id is not None:
        option = cert.domain_validation_options[0]
        record = aws.route53.Record(
            f"{prefix}-validation-record",
            zone_id=zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=60,
            # A re-created certificate for the same name gets the same validation record.
            allow_overwrite=True,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        fqdns = [record.fqdn]
    validation = aws.acm.CertificateValidation(
        f"{prefix}-validation",
        certificate_arn=cert.arn,
        validation_record_fqdns=fqdns,
        opts=pulumi.ResourceOptions(parent=parent, custom_timeouts=pulumi.CustomTimeouts(create="20m")),
        **region_kw,
    )
    return validation.certificate_arn
