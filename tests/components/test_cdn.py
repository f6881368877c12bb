"""Tests room (components): the CloudFront edge, its buckets and WAF, on moto's state and the graph."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.cdn import CdnArgs
from components.settings import CdnSettings
from embedded_cloud import read_stack_config
from tests.conftest import Deployed

DIST = "aws:cloudfront/distribution:Distribution"
BUCKET = "aws:s3/bucket:Bucket"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def cdn_component(d: Deployed) -> Any:
    (node,) = d.graph.by_type("berth:cdn:Cdn")
    return node


def cdn_resources(d: Deployed, type_: str) -> list[Any]:
    return [n for n in d.graph.descendants(cdn_component(d).urn) if n.type == type_]


def one(d: Deployed, type_: str) -> Any:
    (node,) = cdn_resources(d, type_)
    return node


def dist_config(d: Deployed) -> dict[str, Any]:
    # By id, as a user would look their distribution up (never "the only one there is").
    return d.client("cloudfront").get_distribution_config(Id=one(d, DIST).id)["DistributionConfig"]


def behaviours(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {b["PathPattern"]: b for b in cfg["CacheBehaviors"].get("Items", [])}
    out["default"] = cfg["DefaultCacheBehavior"]
    return out


def origins(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["Id"]: o for o in cfg["Origins"]["Items"]}


def buckets(d: Deployed) -> dict[str, str]:
    """Logical name suffix -> bucket name, for this stack's CDN buckets."""
    prefix = f"berth-{d.stack}-"
    return {n.name.removeprefix(prefix): n.id for n in cdn_resources(d, BUCKET)}


@pytest.fixture(params=["staging", "prod"])
def stack(request: pytest.FixtureRequest) -> Deployed:
    return request.getfixturevalue(request.param)


# ---- the distribution, as moto sees it -----------------------------------------------------
def test_every_behaviour_redirects_to_https_compresses_and_adds_security_headers(stack: Deployed) -> None:
    headers_policy = one(stack, "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy").id
    bs = behaviours(dist_config(stack))
    assert set(bs) == {"default", "/static/*", "/api/shipments*", "/api/*"}
    for path, b in bs.items():
        assert b["ViewerProtocolPolicy"] == "redirect-to-https", path
        assert b["Compress"] is True, path
        assert b["ResponseHeadersPolicyId"] == headers_policy, path


def test_behaviours_route_static_to_s3_cached_and_the_api_to_the_app(stack: Deployed) -> None:
    cfg = dist_config(stack)
    order = [b["PathPattern"] for b in cfg["CacheBehaviors"]["Items"]]
    # CloudFront takes the first match: the cached shipment reads must precede the /api/* catch-all.
    assert order == ["/static/*", "/api/shipments*", "/api/*"]
    bs = behaviours(cfg)
    api_policy = one(stack, "aws:cloudfront/cachePolicy:CachePolicy").id
    app_request = one(stack, "aws:cloudfront/originRequestPolicy:OriginRequestPolicy").id
    routed = {p: (b["TargetOriginId"], b["CachePolicyId"], b.get("OriginRequestPolicyId") or None)
              for p, b in bs.items()}
    assert routed == {
        "/static/*": ("assets", CACHING_OPTIMIZED, None),
        "/api/shipments*": ("app", api_policy, app_request),
        "/api/*": ("app", CACHING_DISABLED, app_request),
        "default": ("app", CACHING_DISABLED, app_request),
    }
    assert bs["/static/*"]["AllowedMethods"]["Items"] == ["GET", "HEAD"]
    assert set(bs["/api/*"]["AllowedMethods"]["Items"]) >= {"POST", "PUT", "PATCH", "DELETE"}


def test_s3_origin_is_read_through_the_origin_access_control(stack: Deployed) -> None:
    s3_origin = origins(dist_config(stack))["assets"]
    oac_id = one(stack, "aws:cloudfront/originAccessControl:OriginAccessControl").id
    assert s3_origin["OriginAccessControlId"] == oac_id
    assert s3_origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    assert s3_origin["DomainName"] == f"{buckets(stack)['assets']}.s3.us-east-1.amazonaws.com"
    oac = stack.client("cloudfront").get_origin_access_control(Id=oac_id)["OriginAccessControl"]
    cfg = oac["OriginAccessControlConfig"]
    assert (cfg["SigningBehavior"], cfg["SigningProtocol"], cfg["OriginAccessControlOriginType"]) == (
        "always", "sigv4", "s3")


def test_app_origin_is_https_only_tls12_and_carries_the_secret_header(stack: Deployed) -> None:
    app = origins(dist_config(stack))["app"]
    custom = app["CustomOriginConfig"]
    assert custom["OriginProtocolPolicy"] == "https-only"
    assert custom["OriginSslProtocols"]["Items"] == ["TLSv1.2"]
    (header,) = app["CustomHeaders"]["Items"]
    assert header["HeaderName"] == "X-Origin-Verify"
    assert len(header["HeaderValue"]) >= 32 and header["HeaderValue"].isalnum()
    # The secret never shows in the recorded graph (previews, graph.json).
    dist = one(stack, DIST)
    assert "origins" in dist.secret_keys
    recorded = {o["originId"]: o for o in dist.inputs["origins"]}
    assert recorded["app"]["customHeaders"] == [{"name": "X-Origin-Verify", "value": "[secret]"}]
    assert header["HeaderValue"] not in json.dumps(dist.inputs)
    # ...while the rest of the origins stays judgeable (the policy pack reads it).
    assert recorded["app"]["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert cdn_component(stack).outputs["originSecret"] == "[secret]"


def test_app_origin_is_our_name_for_the_app_load_balancer(stack: Deployed) -> None:
    app = origins(dist_config(stack))["app"]
    assert app["DomainName"] == stack.graph.outputs["appOriginHostname"]
    assert app["DomainName"] != stack.graph.outputs["appLoadBalancerHostname"]
    assert app["DomainName"].endswith("." + stack.graph.config["berth:dns"]["zone"])


def test_prod_has_waf_logging_all_prices_and_http3_on_ipv6(prod: Deployed) -> None:
    cfg = dist_config(prod)
    waf = prod.client("wafv2", "us-east-1")
    acls = [a for a in waf.list_web_acls(Scope="CLOUDFRONT")["WebACLs"] if a["Name"] == "berth-prod-cdn"]
    (acl,) = acls
    assert cfg["WebACLId"] == acl["ARN"]
    assert cfg["Logging"]["Enabled"] is True
    assert cfg["Logging"]["Bucket"] == f"{buckets(prod)['cdn-logs']}.s3.amazonaws.com"
    assert (cfg["PriceClass"], cfg["HttpVersion"], cfg["IsIPV6Enabled"]) == ("PriceClass_All", "http2and3", True)


def test_staging_logs_but_runs_no_waf_and_the_cheapest_price_class(staging: Deployed) -> None:
    cfg = dist_config(staging)
    assert cfg["WebACLId"] == ""
    assert cdn_resources(staging, "aws:wafv2/webAcl:WebAcl") == []
    assert cdn_component(staging).outputs.get("webAclArn") is None
    assert cfg["Logging"]["Enabled"] is True
    assert cfg["PriceClass"] == "PriceClass_100"


def test_staging_and_prod_differ_only_where_their_config_differs(staging: Deployed, prod: Deployed) -> None:
    def shape(d: Deployed) -> dict[str, Any]:
        cfg = dist_config(d)
        api_policy = one(d, "aws:cloudfront/cachePolicy:CachePolicy").id
        headers_policy = one(d, "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy").id
        request_policy = one(d, "aws:cloudfront/originRequestPolicy:OriginRequestPolicy").id
        ids = {api_policy: "<api-policy>", headers_policy: "<headers-policy>", request_policy: "<request-policy>"}
        return {
            "behaviours": {
                p: {k: ids.get(v, v) for k, v in b.items() if isinstance(v, str | bool | int)}
                for p, b in behaviours(cfg).items()
            },
            "origins": {
                o["Id"]: (o.get("CustomOriginConfig"), [h["HeaderName"] for h in o["CustomHeaders"].get("Items", [])],
                          bool(o.get("OriginAccessControlId")))
                for o in cfg["Origins"]["Items"]
            },
            "logging": (cfg["Logging"]["Enabled"], cfg["Logging"]["Prefix"]),
            "PriceClass": cfg["PriceClass"],
            "waf": bool(cfg["WebACLId"]),
            "HttpVersion": cfg["HttpVersion"],
            "IsIPV6Enabled": cfg["IsIPV6Enabled"],
            "ViewerCertificate": cfg["ViewerCertificate"],
        }

    a, b = shape(staging), shape(prod)
    # cdn.priceClass, cdn.waf and cdn.domain (prod's own certificate): nothing else.
    assert {k for k in a if a[k] != b[k]} == {"PriceClass", "waf", "ViewerCertificate"}


def test_staging_accepts_the_default_certificate_and_prod_serves_its_domain_on_tls12_2021(
    staging: Deployed, prod: Deployed
) -> None:
    cert = dist_config(staging)["ViewerCertificate"]
    assert staging.graph.config["berth:cdn"]["acceptDefaultCertificate"] is True
    assert cert["CloudFrontDefaultCertificate"] is True
    cfg = dist_config(prod)
    vc = cfg["ViewerCertificate"]
    assert vc["CloudFrontDefaultCertificate"] is False
    assert (vc["SSLSupportMethod"], vc["MinimumProtocolVersion"]) == ("sni-only", "TLSv1.2_2021")
    assert cfg["Aliases"]["Items"] == [prod.graph.config["berth:cdn"]["domain"]]
    acm = prod.client("acm", "us-east-1")
    assert acm.describe_certificate(CertificateArn=vc["ACMCertificateArn"])["Certificate"]["DomainName"] == \
        prod.graph.config["berth:cdn"]["domain"]


# ---- the WAF ---------------------------------------------------------------------------------
def test_prod_waf_rate_limits_each_ip_and_runs_the_aws_common_rules(prod: Deployed) -> None:
    node = one(prod, "aws:wafv2/webAcl:WebAcl")
    assert node.region == "us-east-1"
    acl = prod.client("wafv2", "us-east-1").get_web_acl(Name="berth-prod-cdn", Scope="CLOUDFRONT", Id=node.id)["WebACL"]
    assert "Allow" in acl["DefaultAction"]
    rules = {r["Name"]: r for r in acl["Rules"]}
    rate = rules["rate-limit-per-ip"]["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["AggregateKeyType"]) == (2000, "IP")
    assert "Block" in rules["rate-limit-per-ip"]["Action"]
    managed = rules["aws-common-rule-set"]["Statement"]["ManagedRuleGroupStatement"]
    assert (managed["VendorName"], managed["Name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    assert "None" in rules["aws-common-rule-set"]["OverrideAction"]


# ---- the buckets -------------------------------------------------------------------------
def test_every_bucket_blocks_all_public_access(stack: Deployed) -> None:
    s3 = stack.client("s3")
    names = buckets(stack)
    assert set(names) == {"assets", "cdn-logs"}
    for name in names.values():
        pab = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                       "BlockPublicPolicy": True, "RestrictPublicBuckets": True}, name


def test_no_bucket_anywhere_in_the_stack_is_public(stack: Deployed) -> None:
    s3 = stack.client("s3")
    names = [n.id for n in stack.graph.by_type(BUCKET)]
    assert len(names) >= 2
    for name in names:
        pab = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(pab.values()) and len(pab) == 4, name


def test_assets_bucket_is_versioned_kms_encrypted_owner_enforced_and_expires_old_versions(stack: Deployed) -> None:
    s3 = stack.client("s3")
    name = buckets(stack)["assets"]
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is True
    key_arn = rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    kms = stack.client("kms")
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    # CloudFront may decrypt, but only on behalf of this distribution.
    key_policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    (cf,) = [s for s in key_policy["Statement"] if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert cf["Condition"] == {"StringEquals": {"AWS:SourceArn": one(stack, DIST).outputs["arn"]}}
    (lc,) = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert lc["Status"] == "Enabled"
    assert lc["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30


def test_only_this_distribution_may_read_the_assets_and_only_over_tls(stack: Deployed) -> None:
    name = buckets(stack)["assets"]
    policy = json.loads(stack.client("s3").get_bucket_policy(Bucket=name)["Policy"])
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allows == [{
        "Sid": "CloudFrontOacRead",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": one(stack, DIST).outputs["arn"]}},
    }]
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_log_bucket_lets_cloudfront_log_delivery_write_and_expires_logs(stack: Deployed) -> None:
    s3 = stack.client("s3")
    name = buckets(stack)["cdn-logs"]
    # Standard logging writes through ACLs: ObjectWriter, with awslogsdelivery granted.
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    grants = {g["Grantee"].get("ID"): g["Permission"] for g in s3.get_bucket_acl(Bucket=name)["Grants"]}
    assert grants["c4c1ede66af53448b93c283ce9448c4ba468c9432aa01d700d3878632f77d2d0"] == "FULL_CONTROL"
    assert not any(g["Grantee"].get("URI") for g in s3.get_bucket_acl(Bucket=name)["Grants"])
    (rule,) = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (lc,) = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert lc["Expiration"]["Days"] == 90


@pytest.mark.parametrize(("stack_name", "protected"), [("staging", False), ("prod", True)])
def test_prod_protects_and_retains_its_buckets_and_assets_key(
    request: pytest.FixtureRequest, stack_name: str, protected: bool
) -> None:
    d: Deployed = request.getfixturevalue(stack_name)
    stateful = [*cdn_resources(d, BUCKET), *cdn_resources(d, "aws:kms/key:Key")]
    assert len(stateful) == (4 if protected else 3)  # prod: + the WAF logs' key
    for node in stateful:
        assert (node.protect, node.retain_on_delete) == (protected, protected), node.name


# ---- policies and metrics (types moto lacks: the graph) -------------------------------------
def test_shipment_reads_cache_briefly_per_api_key_honouring_cache_control(prod: Deployed) -> None:
    policy = one(prod, "aws:cloudfront/cachePolicy:CachePolicy").inputs
    ttl = prod.graph.config["berth:cdn"]["apiCacheTtlSeconds"]
    assert (policy["minTtl"], policy["defaultTtl"]) == (0, ttl)
    assert policy["maxTtl"] >= ttl
    key = policy["parametersInCacheKeyAndForwardedToOrigin"]
    assert key["headersConfig"]["headers"]["items"] == ["Authorization"]
    assert key["cookiesConfig"]["cookieBehavior"] == "none"
    assert key["queryStringsConfig"]["queryStringBehavior"] == "all"


def test_response_headers_policy_sets_hsts_nosniff_deny_and_referrer_policy(prod: Deployed) -> None:
    sec = one(prod, "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy").inputs["securityHeadersConfig"]
    assert sec["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31536000
    assert sec["strictTransportSecurity"]["includeSubdomains"] is True
    assert sec["contentTypeOptions"]["override"] is True
    assert sec["frameOptions"]["frameOption"] == "DENY"
    assert sec["referrerPolicy"]["referrerPolicy"] == "strict-origin-when-cross-origin"


def test_additional_metrics_are_on_for_origin_latency_alarms(stack: Deployed) -> None:
    sub = one(stack, "aws:cloudfront/monitoringSubscription:MonitoringSubscription").inputs
    assert sub["distributionId"] == one(stack, DIST).id
    status = sub["monitoringSubscription"]["realtimeMetricsSubscriptionConfig"]["realtimeMetricsSubscriptionStatus"]
    assert status == "Enabled"


def test_platform_exports_the_cdn_outputs(prod: Deployed) -> None:
    outs = prod.graph.outputs
    dist = one(prod, DIST)
    assert outs["cdnDistributionId"] == dist.id
    assert outs["cdnDomainName"] == dist.outputs["domainName"]
    assert outs["cdnDomainName"].endswith(".cloudfront.net")
    assert outs["assetsBucketName"] == buckets(prod)["assets"]


# ---- a custom domain, variants and argument checks -------------------------------------------
def test_outside_us_east_1_a_custom_domain_gets_a_us_east_1_certificate_and_web_acl(deploy: Any) -> None:
    # As a DR rebuild would run: buckets follow the stack's region, edge resources stay in us-east-1.
    d = deploy("cdn-domain", {"aws:region": "eu-west-1", "berth:dns.zone": "shipments.example.com",
                              "berth:cdn.domain": "shipments.example.com", "berth:cdn.acceptDefaultCertificate": None,
                              "berth:cdn.waf": True, "berth:cdn.apiCacheTtlSeconds": 0},
               config=read_stack_config("staging"))
    for name in buckets(d).values():
        assert d.client("s3", "eu-west-1").get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert one(d, "aws:wafv2/webAcl:WebAcl").region == "us-east-1"
    cert_node = one(d, "aws:acm/certificate:Certificate")
    assert cert_node.region == "us-east-1"
    cert = d.client("acm", "us-east-1").describe_certificate(CertificateArn=cert_node.id)["Certificate"]
    assert (cert["DomainName"], cert["DomainValidationOptions"][0]["ValidationMethod"]) == (
        "shipments.example.com", "DNS")
    validation = one(d, "aws:acm/certificateValidation:CertificateValidation")
    assert validation.region == "us-east-1"
    record = next(n for n in cdn_resources(d, "aws:route53/record:Record") if n.name.endswith("cert-validation-record"))
    # Validation waits for the DNS record that proves the domain.
    assert record.urn in validation.property_dependencies["validationRecordFqdns"]
    zones = d.client("route53").list_hosted_zones()["HostedZones"]
    assert record.inputs["zoneId"] == next(z["Id"].rsplit("/", 1)[-1] for z in zones
                                           if z["Name"] == "shipments.example.com.")
    cfg = dist_config(d)
    assert cfg["Aliases"]["Items"] == ["shipments.example.com"]
    vc = cfg["ViewerCertificate"]
    assert (vc["ACMCertificateArn"], vc["SSLSupportMethod"], vc["MinimumProtocolVersion"]) == (
        cert_node.id, "sni-only", "TLSv1.2_2021")
    aliases = {n.inputs["type"] for n in cdn_resources(d, "aws:route53/record:Record") if n.inputs.get("aliases")}
    assert aliases == {"A", "AAAA"}
    # The WAF follows config in staging too; apiCacheTtlSeconds 0 drops the cached shipment route.
    assert cfg["WebACLId"].startswith("arn:aws:wafv2:us-east-1:")
    assert [b["PathPattern"] for b in cfg["CacheBehaviors"]["Items"]] == ["/static/*", "/api/*"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"waf_rate_limit": 10}, "waf_rate_limit"),
        # Above the API cache policy's max TTL (60 s).
        ({"api_cache_ttl_seconds": 120}, "api_cache_ttl_seconds"),
    ],
)
def test_settings_refuse_inconsistent_values(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CdnArgs(app_origin_domain="lb.example.com",
                settings=CdnSettings(accept_default_certificate=True, **kw))


def test_args_refuse_a_body_limit_the_waf_cannot_inspect() -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        CdnArgs(app_origin_domain="lb.example.com", settings=CdnSettings(accept_default_certificate=True),
                max_body_bytes=65537)


# ---- edge hardening: the WAF agrees with the app, logs, and the extra rule groups ----------------
def _waf(prod: Deployed) -> dict[str, Any]:
    node = one(prod, "aws:wafv2/webAcl:WebAcl")
    return prod.client("wafv2", "us-east-1").get_web_acl(Name="berth-prod-cdn", Scope="CLOUDFRONT", Id=node.id)[
        "WebACL"]


def test_the_waf_blocks_bodies_exactly_above_what_the_app_accepts(prod: Deployed) -> None:
    """One number: the app's MAX_BODY_BYTES is the WAF's body limit; the common rule set's 8 KB
    size rule only counts, so a valid 60 KB write is not a 403 in prod."""
    rules = {r["Name"]: r for r in _waf(prod)["Rules"]}
    common = rules["aws-common-rule-set"]["Statement"]["ManagedRuleGroupStatement"]
    assert [(o["Name"], list(o["ActionToUse"])) for o in common["RuleActionOverrides"]] == [
        ("SizeRestrictions_BODY", ["Count"]), ("NoUserAgent_HEADER", ["Count"])]
    size = rules["body-larger-than-the-app-accepts"]["Statement"]["SizeConstraintStatement"]
    (config,) = [n for n in prod.graph.by_type("kubernetes:core/v1:ConfigMap") if "MAX_BODY_BYTES" in (
        n.inputs.get("data") or {})]
    app_limit = int(config.inputs["data"]["MAX_BODY_BYTES"])
    assert (size["ComparisonOperator"], size["Size"]) == ("GT", app_limit) == ("GT", 65536)
    assert size["FieldToMatch"]["Body"]["OversizeHandling"] == "MATCH"
    assert "Block" in rules["body-larger-than-the-app-accepts"]["Action"]
    # The WAF reads as much of a body as the app may receive.
    node = one(prod, "aws:wafv2/webAcl:WebAcl")
    assert node.inputs["associationConfig"]["requestBodies"][0]["cloudfront"]["defaultSizeInspectionLimit"] == "KB_64"


def test_prod_adds_known_bad_inputs_and_anonymous_ip_but_counts_hosting_providers(prod: Deployed) -> None:
    rules = {r["Name"]: r["Statement"]["ManagedRuleGroupStatement"] for r in _waf(prod)["Rules"]
             if "ManagedRuleGroupStatement" in r["Statement"]}
    assert rules["aws-known-bad-inputs"]["Name"] == "AWSManagedRulesKnownBadInputsRuleSet"
    anon = rules["aws-anonymous-ip"]
    assert anon["Name"] == "AWSManagedRulesAnonymousIpList"
    assert [o["Name"] for o in anon["RuleActionOverrides"]] == ["HostingProviderIPList"]


def test_prod_waf_logs_to_an_encrypted_waf_log_group_without_api_keys(prod: Deployed) -> None:
    (logging,) = cdn_resources(prod, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert logging.region == "us-east-1"
    assert logging.inputs["redactedFields"] == [{"singleHeader": {"name": "authorization"}}]
    (group_arn,) = logging.inputs["logDestinationConfigs"]
    name = group_arn.split(":log-group:")[1].removesuffix(":*")
    assert name.startswith("aws-waf-logs-")
    group = prod.client("logs", "us-east-1").describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
    assert group["retentionInDays"] == prod.graph.config["berth:cdn"]["wafLogRetentionDays"] == 365
    assert group["kmsKeyId"].startswith("arn:aws:kms:us-east-1:")
    (policy,) = cdn_resources(prod, "aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
    doc = json.loads(policy.inputs["policyDocument"])
    assert doc["Statement"][0]["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert policy.urn in logging.dependencies


def test_the_assets_bucket_logs_access_and_every_bucket_aborts_incomplete_uploads(prod: Deployed) -> None:
    s3 = prod.client("s3")
    names = buckets(prod)
    logging = s3.get_bucket_logging(Bucket=names["assets"])["LoggingEnabled"]
    assert logging["TargetBucket"] == names["cdn-logs"] and logging["TargetPrefix"] == "s3-access/assets/"
    policy = json.loads(s3.get_bucket_policy(Bucket=names["cdn-logs"])["Policy"])
    (grant,) = [st for st in policy["Statement"] if st["Sid"] == "S3ServerAccessLogs"]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert grant["Condition"]["ArnLike"]["aws:SourceArn"].endswith(names["assets"])
    every = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert len(every) >= 3  # assets, logs, canary
    for bucket in every:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert any(r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") for r in rules), bucket


def test_the_app_hears_the_viewer_address_from_cloudfront_only(stack: Deployed) -> None:
    """A viewer-request function overwrites X-Viewer-Address with the address CloudFront saw; the
    app's behaviours run it and forward every viewer header but Host (so the origin's own name is
    what its certificate is checked against)."""
    from components.cdn import VIEWER_ADDRESS_FUNCTION, VIEWER_ADDRESS_HEADER

    (fn,) = cdn_resources(stack, "aws:cloudfront/function:Function")
    assert fn.inputs["code"] == VIEWER_ADDRESS_FUNCTION and "event.viewer.ip" in fn.inputs["code"]
    assert f"headers['{VIEWER_ADDRESS_HEADER.lower()}']" in fn.inputs["code"]
    (policy,) = cdn_resources(stack, "aws:cloudfront/originRequestPolicy:OriginRequestPolicy")
    assert policy.inputs["headersConfig"] == {"headerBehavior": "allExcept", "headers": {"items": ["Host"]}}
    # From the declared distribution: moto does not keep function associations.
    dist = one(stack, DIST).inputs
    declared = [dist["defaultCacheBehavior"], *dist["orderedCacheBehaviors"]]
    for b in declared:
        assocs = b.get("functionAssociations") or []
        if b["targetOriginId"] == "app":
            assert [(a["eventType"], a["functionArn"]) for a in assocs] == [("viewer-request", fn.outputs["arn"])]
            assert b["originRequestPolicyId"] == policy.id
        else:
            assert assocs == [], b.get("pathPattern")


def test_a_body_limit_the_waf_cannot_inspect_is_refused() -> None:
    from stacks.config import ConfigError, parse_settings, raw_from_config_map

    raw = raw_from_config_map(read_stack_config("prod"))
    raw["app"]["maxBodyBytes"] = 131072
    with pytest.raises(ConfigError, match=r"berth:app.maxBodyBytes \(131072\) exceeds the 65536 bytes"):
        parse_settings("prod", raw)
