"""Policy room: CloudFront guardrails (aws:cloudfront/distribution:Distribution)."""

from __future__ import annotations

from typing import Any

from policy.core import Ctx, Finding, StackView, get, has_value, is_unknown, items, resource_rule, stack_rule

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LOG_DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"

VIEWER_OK = ("redirect-to-https", "https-only")
# Security policies CloudFront offers at TLS 1.2 with the 2021 cipher suites or newer.
TLS_OK = ("TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025")


@resource_rule(
    "cloudfront-https-only",
    types=[DISTRIBUTION],
    description="Viewers reach every cache behavior over HTTPS (redirect-to-https or https-only).",
    severity="high",
    remediation="Set viewer_protocol_policy='redirect-to-https' on the default and every ordered cache behavior.",
)
def https_only(props: dict[str, Any], ctx: Ctx) -> list[str]:
    out = []
    behaviors = [("defaultCacheBehavior", props.get("defaultCacheBehavior"))]
    behaviors += [
        (f"orderedCacheBehaviors[{get(b, 'pathPattern')}]", b) for b in items(props.get("orderedCacheBehaviors"))
    ]
    for where, b in behaviors:
        if b is None or is_unknown(b):
            continue
        policy = get(b, "viewerProtocolPolicy")
        if is_unknown(policy):
            continue
        if policy not in VIEWER_OK:
            out.append(f"{where}.viewerProtocolPolicy is {policy!r}: viewers may use plain HTTP")
    return out


@resource_rule(
    "cloudfront-tls-policy",
    types=[DISTRIBUTION],
    description="Distributions with a custom certificate require TLS 1.2 or newer (TLSv1.2_2021 policy) over SNI.",
    severity="high",
    remediation="Set viewer_certificate.minimum_protocol_version='TLSv1.2_2021' and ssl_support_method='sni-only'.",
)
def tls_policy(props: dict[str, Any], ctx: Ctx) -> list[str]:
    cert = props.get("viewerCertificate")
    if cert is None or is_unknown(cert):
        return []
    custom = has_value(get(cert, "acmCertificateArn")) or has_value(get(cert, "iamCertificateId"))
    if not custom:
        return []  # the *.cloudfront.net certificate: CloudFront fixes the policy itself
    out = []
    version = get(cert, "minimumProtocolVersion")
    if not is_unknown(version) and version not in TLS_OK:
        out.append(f"viewerCertificate.minimumProtocolVersion is {version!r}; use TLSv1.2_2021 or newer")
    method = get(cert, "sslSupportMethod")
    if not is_unknown(method) and method not in ("sni-only",):
        out.append(f"viewerCertificate.sslSupportMethod is {method!r}; use sni-only")
    return out


def _is_s3_origin(origin: Any) -> bool:
    domain = get(origin, "domainName")
    if get(origin, "s3OriginConfig") is not None:
        return True
    return isinstance(domain, str) and (".s3." in domain or domain.endswith(".s3.amazonaws.com"))


@resource_rule(
    "cloudfront-s3-origin-oac",
    types=[DISTRIBUTION],
    description="S3 origins are read through an Origin Access Control (not public, not a legacy OAI).",
    severity="high",
    remediation="Create an aws.cloudfront.OriginAccessControl (sigv4, always) and set origin_access_control_id; "
    "grant it in the bucket policy with an AWS:SourceArn condition.",
)
def s3_origin_oac(props: dict[str, Any], ctx: Ctx) -> list[str]:
    out = []
    for origin in items(props.get("origins")):
        if is_unknown(origin) or not _is_s3_origin(origin):
            continue
        oid = get(origin, "originId")
        oac = get(origin, "originAccessControlId")
        if not has_value(oac):
            out.append(f"S3 origin {oid!r} has no originAccessControlId")
        oai = get(origin, "s3OriginConfig", "originAccessIdentity")
        if isinstance(oai, str) and oai:
            out.append(f"S3 origin {oid!r} uses a legacy origin access identity; use OAC")
    return out


@resource_rule(
    "cloudfront-origin-https",
    types=[DISTRIBUTION],
    description="CloudFront talks to custom origins over HTTPS with TLS 1.2 only.",
    severity="high",
    remediation="Set custom_origin_config.origin_protocol_policy='https-only' and origin_ssl_protocols=['TLSv1.2'].",
)
def origin_https(props: dict[str, Any], ctx: Ctx) -> list[str]:
    out = []
    for origin in items(props.get("origins")):
        conf = get(origin, "customOriginConfig")
        if conf is None or is_unknown(conf):
            continue
        oid = get(origin, "originId")
        policy = get(conf, "originProtocolPolicy")
        if not is_unknown(policy) and policy != "https-only":
            out.append(f"custom origin {oid!r} originProtocolPolicy is {policy!r}; use https-only")
        protocols = get(conf, "originSslProtocols")
        if isinstance(protocols, list):
            weak = sorted(str(p) for p in protocols if not is_unknown(p) and p != "TLSv1.2")
            if weak:
                out.append(f"custom origin {oid!r} allows {', '.join(weak)}; allow TLSv1.2 only")
    return out


@resource_rule(
    "cloudfront-waf-prod",
    types=[DISTRIBUTION],
    description="Production distributions are protected by a WAF web ACL.",
    severity="high",
    remediation="Attach an aws.wafv2.WebAcl (scope CLOUDFRONT, us-east-1) via web_acl_id (berth:cdn.waf).",
)
def waf_prod(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if not ctx.is_prod:
        return []
    if not has_value(props.get("webAclId")):
        return ["webAclId is not set on a production distribution"]
    return []


@stack_rule(
    "cloudfront-logging",
    types=[DISTRIBUTION, LOG_DELIVERY_SOURCE],
    description="Every distribution writes access logs (standard logging to S3, or a CloudWatch log delivery).",
    severity="medium",
    remediation="Set logging_config.bucket to a log bucket, or create an aws.cloudwatch.LogDeliverySource "
    "(log_type ACCESS_LOGS) for the distribution with a delivery to a destination.",
)
def logging(stack: StackView, ctx: Ctx) -> list[Finding]:
    sources = stack.of_type(LOG_DELIVERY_SOURCE)
    out: list[Finding] = []
    for dist in stack.of_type(DISTRIBUTION):
        bucket = dist.prop("loggingConfig", "bucket")
        if is_unknown(bucket) or has_value(bucket):
            continue
        ids = dist.identifiers()
        delivered = any(
            src.depends_on(dist, "resourceArn") or src.prop("resourceArn") in ids or is_unknown(src.prop("resourceArn"))
            for src in sources
        )
        if not delivered:
            out.append((dist.urn, f"distribution {dist.name} has no access logging (loggingConfig.bucket or a "
                        "log delivery source)"))
    return out


# Provider-owned names nobody can hold a certificate for: a load balancer's, an instance's, an
# accelerator's. CloudFront verifies that the origin's certificate matches the origin domain, so
# HTTPS to one of these answers 502 to every request (CloudFront's 502 troubleshooting page).
UNVERIFIABLE_ORIGIN_SUFFIXES = (".elb.amazonaws.com", ".compute.amazonaws.com", ".compute-1.amazonaws.com",
                                ".awsglobalaccelerator.com")


def _unverifiable(domain: str) -> bool:
    d = domain.lower().rstrip(".")
    return any(d.endswith(s) for s in UNVERIFIABLE_ORIGIN_SUFFIXES) or (".elb." in d and d.endswith(".amazonaws.com"))


@resource_rule(
    "cloudfront-origin-verifiable",
    types=[DISTRIBUTION],
    description="A custom origin reached over HTTPS has a name its certificate can match: never a load "
    "balancer's (or other provider-owned) DNS name, unless it is a VPC origin.",
    severity="critical",
    remediation="Point a name of yours (Route 53 record) at the load balancer, give the load balancer an ACM "
    "certificate for that name in its region, and use that name as the origin's domain_name; or use a "
    "CloudFront VPC origin to an internal load balancer.",
)
def origin_verifiable(props: dict[str, Any], ctx: Ctx) -> list[str]:
    out = []
    for o in items(props.get("origins")):
        custom = get(o, "customOriginConfig")
        if custom is None or is_unknown(custom) or has_value(get(o, "vpcOriginConfig")):
            continue
        policy, domain = get(custom, "originProtocolPolicy"), get(o, "domainName")
        if policy == "http-only" or not isinstance(domain, str) or is_unknown(domain):
            continue
        if _unverifiable(domain):
            out.append(f"origin {get(o, 'originId')!r} is reached over HTTPS at {domain}: no certificate can match "
                       f"that name, so CloudFront answers 502 to every request sent there")
    return out


@resource_rule(
    "cloudfront-custom-certificate-prod",
    types=[DISTRIBUTION],
    description="Production distributions serve a domain of ours with our certificate (so the minimum TLS "
    "version applies); CloudFront's *.cloudfront.net certificate still accepts TLSv1.",
    severity="high",
    remediation="Set berth:cdn.domain (a name in berth:dns.zone); the CDN then requests and validates an ACM "
    "certificate in us-east-1.",
)
def custom_certificate_prod(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if not ctx.is_prod:
        return []
    cert = props.get("viewerCertificate")
    if cert is None or is_unknown(cert):
        return []
    if has_value(get(cert, "acmCertificateArn")) or has_value(get(cert, "iamCertificateId")):
        return []
    return ["viewerCertificate uses CloudFront's default certificate: TLSv1 stays allowed whatever "
            "minimumProtocolVersion says"]
