"""Embedded cloud room: CloudFront distributions, origin access controls and managed policies.

moto keeps distributions, OACs and functions. Cache, origin request and response headers
policies and monitoring subscriptions, which moto lacks, are answered here as CloudFront would:
the request checked against the API's shape, CloudFront's own rules checked (TTL order, name
pattern, a subscription's distribution must exist), a UUID id and an ETag. The AWS managed policies are answered
with their real, account-independent ids, so a graph shows what `pulumi up` would send.

moto 5.x drops `OriginAccessControlId` and `S3OriginConfig` from a distribution's origins;
`teach_moto()` makes its Origin model keep them. It must run in the process that hosts the
moto backend: this module runs it on import, and the embedded cloud's server loads every
handler module.

Lazy pulumi/moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import re
import time
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, etag, invoke, resource, stable_uuid, tag_list, validated

# CloudFront's Route 53 alias zone: the same for every distribution.
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
# The awslogsdelivery account that writes CloudFront standard logs (documented constant).
LOG_DELIVERY_CANONICAL_ID = "c4c1ede66af53448b93c283ce9448c4ba468c9432aa01d700d3878632f77d2d0"

MANAGED_CACHE_POLICIES = {
    "Managed-CachingOptimized": "658327ea-f89d-4fab-a63d-7e88639e58f6",
    "Managed-CachingDisabled": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
    "Managed-CachingOptimizedForUncompressedObjects": "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
    "Managed-UseOriginCacheControlHeaders": "83da9c7e-98b4-4e11-a168-04f0df8e2c65",
    "Managed-UseOriginCacheControlHeaders-QueryStrings": "4cc15a8a-d715-48a4-82b8-cc0b614638fe",
    "Managed-Amplify": "2e54312d-136d-493c-8eb9-b001f22f67d2",
    "Managed-Elemental-MediaPackage": "08627262-05a9-4f76-9ded-b50ca2e3a84f",
}
# name -> (id, min, default, max TTL) as AWS documents them.
_CACHE_TTLS = {
    "Managed-CachingOptimized": (1, 86400, 31536000),
    "Managed-CachingDisabled": (0, 0, 0),
}
MANAGED_ORIGIN_REQUEST_POLICIES = {
    "Managed-AllViewer": "216adef6-5c7f-47e4-b989-5492eafa07d3",
    "Managed-AllViewerExceptHostHeader": "b689b0a8-53d0-40ab-baf2-68738e2966ac",
    "Managed-AllViewerAndCloudFrontHeaders-2022-06": "33f36d7e-f396-46d9-90e0-52428a34d9dc",
    "Managed-CORS-CustomOrigin": "59781a5b-3903-41f3-afcb-af62929ccde1",
    "Managed-CORS-S3Origin": "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf",
    "Managed-UserAgentRefererHeaders": "acba4595-bd28-49b8-b9fe-13317c0390fa",
}
MANAGED_RESPONSE_HEADERS_POLICIES = {
    "Managed-SecurityHeadersPolicy": "67f7725c-6f97-4210-82d7-5512b31e9d03",
    "Managed-CORS-With-Preflight": "5cc3b908-e619-4b99-88e5-2cf7f45965bd",
    "Managed-CORS-and-SecurityHeadersPolicy": "e61eb60c-9c35-4d20-a928-2b84e02af89c",
    "Managed-SimpleCORS": "60669652-455b-4ae9-85a4-c4c02393f86c",
    "Managed-CORS-with-preflight-and-SecurityHeadersPolicy": "eaab4381-ed33-4a86-88ca-d9558dc6cd63",
}


def teach_moto() -> None:
    """Make moto's CloudFront Origin keep the OAC id and the S3 origin config (idempotent)."""
    from moto.cloudfront import models

    if getattr(models.Origin, "_berth_keeps_oac", False):
        return
    original = models.Origin.__init__

    def init(self: Any, origin: dict[str, Any]) -> None:
        original(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
        if "S3OriginConfig" in origin:
            self.s3_origin_config = {"OriginAccessIdentity": origin["S3OriginConfig"].get("OriginAccessIdentity") or ""}

    models.Origin.__init__ = init  # type: ignore[method-assign]
    models.Origin._berth_keeps_oac = True  # type: ignore[attr-defined]


teach_moto()


def _managed(table: dict[str, str], kind: str, args: dict[str, Any]) -> tuple[str, str]:
    if args.get("name"):
        name = args["name"]
        if name not in table:
            raise ValueError(f"no managed CloudFront {kind} named {name!r} (known: {', '.join(sorted(table))})")
        return table[name], name
    by_id = {v: k for k, v in table.items()}
    if args.get("id") in by_id:
        return args["id"], by_id[args["id"]]
    raise ValueError(f"no managed CloudFront {kind} with id {args.get('id')!r}")


@invoke("aws:cloudfront/getCachePolicy:getCachePolicy")
def get_cache_policy(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    id_, name = _managed(MANAGED_CACHE_POLICIES, "cache policy", args)
    min_ttl, default_ttl, max_ttl = _CACHE_TTLS.get(name, (0, 86400, 31536000))
    return {"id": id_, "name": name, "comment": f"AWS managed policy {name}", "etag": "E1",
            "arn": f"arn:aws:cloudfront::aws:cache-policy/{id_}",
            "minTtl": min_ttl, "defaultTtl": default_ttl, "maxTtl": max_ttl,
            "parametersInCacheKeyAndForwardedToOrigins": []}


@invoke("aws:cloudfront/getOriginRequestPolicy:getOriginRequestPolicy")
def get_origin_request_policy(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    id_, name = _managed(MANAGED_ORIGIN_REQUEST_POLICIES, "origin request policy", args)
    return {"id": id_, "name": name, "comment": f"AWS managed policy {name}", "etag": "E1",
            "arn": f"arn:aws:cloudfront::aws:origin-request-policy/{id_}",
            "cookiesConfigs": [], "headersConfigs": [], "queryStringsConfigs": []}


@invoke("aws:cloudfront/getResponseHeadersPolicy:getResponseHeadersPolicy")
def get_response_headers_policy(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    id_, name = _managed(MANAGED_RESPONSE_HEADERS_POLICIES, "response headers policy", args)
    return {"id": id_, "name": name, "comment": f"AWS managed policy {name}", "etag": "E1",
            "arn": f"arn:aws:cloudfront::aws:response-headers-policy/{id_}",
            "corsConfigs": [], "customHeadersConfigs": [], "removeHeadersConfigs": [],
            "securityHeadersConfigs": [], "serverTimingHeadersConfigs": []}


@invoke("aws:cloudfront/getLogDeliveryCanonicalUserId:getLogDeliveryCanonicalUserId")
def get_log_delivery_canonical_user_id(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    return {"id": LOG_DELIVERY_CANONICAL_ID}


@resource("aws:cloudfront/originAccessControl:OriginAccessControl")
def origin_access_control(ctx: Ctx, r: Res) -> Out:
    cf = ctx.client("cloudfront", "us-east-1")
    oac = cf.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": r.physical_name(max_len=64),
            "Description": r.inputs.get("description") or "",
            "SigningProtocol": r.inputs["signingProtocol"],
            "SigningBehavior": r.inputs["signingBehavior"],
            "OriginAccessControlOriginType": r.inputs["originAccessControlOriginType"],
        }
    )
    return oac["OriginAccessControl"]["Id"], {"etag": oac["ETag"],
                                              "arn": f"arn:aws:cloudfront::{ctx.account_id}:origin-access-control/"
                                                     f"{oac['OriginAccessControl']['Id']}"}


def _items(values: list[Any] | None) -> dict[str, Any]:
    values = list(values or [])
    return {"Quantity": len(values), "Items": values} if values else {"Quantity": 0}


def _origin(o: dict[str, Any]) -> dict[str, Any]:
    wire: dict[str, Any] = {"Id": o["originId"], "DomainName": o["domainName"], "OriginPath": o.get("originPath") or ""}
    headers = [{"HeaderName": h["name"], "HeaderValue": h["value"]} for h in o.get("customHeaders") or []]
    wire["CustomHeaders"] = _items(headers)
    if o.get("connectionAttempts"):
        wire["ConnectionAttempts"] = int(o["connectionAttempts"])
    if o.get("connectionTimeout"):
        wire["ConnectionTimeout"] = int(o["connectionTimeout"])
    custom = o.get("customOriginConfig")
    if custom:
        wire["CustomOriginConfig"] = {
            "HTTPPort": int(custom["httpPort"]),
            "HTTPSPort": int(custom["httpsPort"]),
            "OriginProtocolPolicy": custom["originProtocolPolicy"],
            "OriginSslProtocols": _items(custom["originSslProtocols"]),
            "OriginReadTimeout": int(custom.get("originReadTimeout") or 30),
            "OriginKeepaliveTimeout": int(custom.get("originKeepaliveTimeout") or 5),
        }
    else:
        # As the provider does for an S3 origin behind OAC: an empty legacy OAI.
        oai = (o.get("s3OriginConfig") or {}).get("originAccessIdentity") or ""
        wire["S3OriginConfig"] = {"OriginAccessIdentity": oai}
    if o.get("originAccessControlId"):
        wire["OriginAccessControlId"] = o["originAccessControlId"]
    return wire


def _behaviour(b: dict[str, Any]) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "TargetOriginId": b["targetOriginId"],
        "ViewerProtocolPolicy": b["viewerProtocolPolicy"],
        "AllowedMethods": {
            **_items(b["allowedMethods"]),
            "CachedMethods": _items(b["cachedMethods"]),
        },
        "Compress": bool(b.get("compress")),
    }
    if b.get("pathPattern"):
        wire["PathPattern"] = b["pathPattern"]
    for src, dst in (("cachePolicyId", "CachePolicyId"), ("originRequestPolicyId", "OriginRequestPolicyId"),
                     ("responseHeadersPolicyId", "ResponseHeadersPolicyId")):
        if b.get(src):
            wire[dst] = b[src]
    fns = b.get("functionAssociations") or []
    if fns:
        wire["FunctionAssociations"] = _items([{"EventType": f["eventType"], "FunctionARN": f["functionArn"]}
                                               for f in fns])
    if not b.get("cachePolicyId"):
        # Legacy cache settings are required when no cache policy is attached.
        wire["ForwardedValues"] = {"QueryString": False, "Cookies": {"Forward": "none"}}
        wire["MinTTL"] = int(b.get("minTtl") or 0)
    return wire


@resource("aws:cloudfront/distribution:Distribution")
def distribution(ctx: Ctx, r: Res) -> Out:
    cf = ctx.client("cloudfront", "us-east-1")
    i = r.inputs
    config: dict[str, Any] = {
        "CallerReference": f"{r.urn}-{time.time_ns()}",
        "Comment": i.get("comment") or "",
        "Enabled": bool(i["enabled"]),
        "Aliases": _items(i.get("aliases")),
        "Origins": _items([_origin(o) for o in i["origins"]]),
        "DefaultCacheBehavior": _behaviour(i["defaultCacheBehavior"]),
        "CacheBehaviors": _items([_behaviour(b) for b in i.get("orderedCacheBehaviors") or []]),
        "PriceClass": i.get("priceClass") or "PriceClass_All",
        "HttpVersion": i.get("httpVersion") or "http2",
        "IsIPV6Enabled": bool(i.get("isIpv6Enabled")),
        "WebACLId": i.get("webAclId") or "",
        "DefaultRootObject": i.get("defaultRootObject") or "",
    }
    log = i.get("loggingConfig")
    if log and log.get("bucket"):
        config["Logging"] = {"Enabled": True, "IncludeCookies": bool(log.get("includeCookies")),
                             "Bucket": log["bucket"], "Prefix": log.get("prefix") or ""}
    geo = (i.get("restrictions") or {}).get("geoRestriction") or {"restrictionType": "none"}
    config["Restrictions"] = {"GeoRestriction": {"RestrictionType": geo["restrictionType"],
                                                 **_items(geo.get("locations"))}}
    vc = i.get("viewerCertificate") or {}
    cert: dict[str, Any] = {"CloudFrontDefaultCertificate": bool(vc.get("cloudfrontDefaultCertificate"))}
    if vc.get("acmCertificateArn"):
        cert["ACMCertificateArn"] = vc["acmCertificateArn"]
        cert["SSLSupportMethod"] = vc.get("sslSupportMethod") or "sni-only"
    if vc.get("minimumProtocolVersion"):
        cert["MinimumProtocolVersion"] = vc["minimumProtocolVersion"]
    config["ViewerCertificate"] = cert
    d = cf.create_distribution_with_tags(
        DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tag_list(r.tags())}}
    )
    dist = d["Distribution"]
    return dist["Id"], {
        "arn": dist["ARN"],
        "domainName": dist["DomainName"],
        "hostedZoneId": CLOUDFRONT_ZONE_ID,
        "etag": d["ETag"],
        "status": "Deployed",
        "callerReference": config["CallerReference"],
        "inProgressValidationBatches": 0,
        "lastModifiedTime": str(dist.get("LastModifiedTime", "")),
    }


# CloudFront policy names: letters, digits, hyphens and underscores, at most 128 (CreateCachePolicy).
_POLICY_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _policy_name(r: Res) -> str:
    name = str(r.inputs.get("name") or "")
    if not _POLICY_NAME.match(name):
        raise ValueError(f"InvalidArgument: policy name {name!r} must be 1-128 letters, digits, '-' or '_'")
    return name


def _keys(config: dict[str, Any] | None, behavior: str, items_key: str) -> dict[str, Any]:
    config = config or {}
    out: dict[str, Any] = {behavior[0].upper() + behavior[1:]: config.get(behavior) or "none"}
    items = ((config.get(items_key) or {}).get("items")) or []
    if items:
        out[items_key[0].upper() + items_key[1:]] = {"Quantity": len(items), "Items": list(items)}
    return out


@resource("aws:cloudfront/cachePolicy:CachePolicy")
def cache_policy(ctx: Ctx, r: Res) -> Out:
    i = r.inputs
    name = _policy_name(r)
    lo, default, hi = int(i.get("minTtl") or 0), int(i.get("defaultTtl", 86400)), int(i.get("maxTtl", 31536000))
    if not lo <= default <= hi:
        raise ValueError(f"InvalidArgument: the TTLs must satisfy MinTTL <= DefaultTTL <= MaxTTL ({lo}, {default}, {hi})")
    keys = i.get("parametersInCacheKeyAndForwardedToOrigin") or {}
    config = {"Name": name, "Comment": i.get("comment") or "", "MinTTL": lo, "DefaultTTL": default, "MaxTTL": hi,
              "ParametersInCacheKeyAndForwardedToOrigin": {
                  "EnableAcceptEncodingGzip": bool(keys.get("enableAcceptEncodingGzip")),
                  "EnableAcceptEncodingBrotli": bool(keys.get("enableAcceptEncodingBrotli")),
                  "HeadersConfig": _keys(keys.get("headersConfig"), "headerBehavior", "headers"),
                  "CookiesConfig": _keys(keys.get("cookiesConfig"), "cookieBehavior", "cookies"),
                  "QueryStringsConfig": _keys(keys.get("queryStringsConfig"), "queryStringBehavior", "queryStrings"),
              }}
    validated(ctx, "cloudfront", "CreateCachePolicy", {"CachePolicyConfig": config}, "us-east-1")
    return stable_uuid(r.urn), {"etag": etag(r.urn, repr(config))}


@resource("aws:cloudfront/originRequestPolicy:OriginRequestPolicy")
def origin_request_policy(ctx: Ctx, r: Res) -> Out:
    i = r.inputs
    config = {"Name": _policy_name(r), "Comment": i.get("comment") or "",
              "HeadersConfig": _keys(i.get("headersConfig"), "headerBehavior", "headers"),
              "CookiesConfig": _keys(i.get("cookiesConfig"), "cookieBehavior", "cookies"),
              "QueryStringsConfig": _keys(i.get("queryStringsConfig"), "queryStringBehavior", "queryStrings")}
    validated(ctx, "cloudfront", "CreateOriginRequestPolicy", {"OriginRequestPolicyConfig": config}, "us-east-1")
    return stable_uuid(r.urn), {"etag": etag(r.urn, repr(config))}


def _security_headers(sh: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "frameOptions" in sh:
        out["FrameOptions"] = {"FrameOption": sh["frameOptions"]["frameOption"],
                               "Override": bool(sh["frameOptions"]["override"])}
    if "referrerPolicy" in sh:
        out["ReferrerPolicy"] = {"ReferrerPolicy": sh["referrerPolicy"]["referrerPolicy"],
                                 "Override": bool(sh["referrerPolicy"]["override"])}
    if "contentTypeOptions" in sh:
        out["ContentTypeOptions"] = {"Override": bool(sh["contentTypeOptions"]["override"])}
    if "strictTransportSecurity" in sh:
        h = sh["strictTransportSecurity"]
        out["StrictTransportSecurity"] = {"Override": bool(h["override"]),
                                          "AccessControlMaxAgeSec": h.get("accessControlMaxAgeSec"),
                                          "IncludeSubdomains": bool(h.get("includeSubdomains")),
                                          "Preload": bool(h.get("preload"))}
    if "contentSecurityPolicy" in sh:
        out["ContentSecurityPolicy"] = {"ContentSecurityPolicy": sh["contentSecurityPolicy"]["contentSecurityPolicy"],
                                        "Override": bool(sh["contentSecurityPolicy"]["override"])}
    if "xssProtection" in sh:
        x = sh["xssProtection"]
        out["XSSProtection"] = {"Override": bool(x["override"]), "Protection": bool(x["protection"]),
                                **({"ModeBlock": bool(x["modeBlock"])} if "modeBlock" in x else {})}
    return out


@resource("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
def response_headers_policy(ctx: Ctx, r: Res) -> Out:
    i = r.inputs
    config: dict[str, Any] = {"Name": _policy_name(r), "Comment": i.get("comment") or ""}
    if i.get("securityHeadersConfig"):
        config["SecurityHeadersConfig"] = _security_headers(i["securityHeadersConfig"])
    custom = ((i.get("customHeadersConfig") or {}).get("items")) or []
    if custom:
        config["CustomHeadersConfig"] = {"Quantity": len(custom), "Items": [
            {"Header": h["header"], "Value": h["value"], "Override": bool(h["override"])} for h in custom]}
    validated(ctx, "cloudfront", "CreateResponseHeadersPolicy", {"ResponseHeadersPolicyConfig": config}, "us-east-1")
    return stable_uuid(r.urn), {"etag": etag(r.urn, repr(config))}


@resource("aws:cloudfront/function:Function")
def function(ctx: Ctx, r: Res) -> Out:
    cf = ctx.client("cloudfront", "us-east-1")
    i = r.inputs
    made = cf.create_function(Name=i["name"], FunctionConfig={"Comment": i.get("comment") or "",
                                                             "Runtime": i["runtime"]},
                              FunctionCode=str(i["code"]).encode())
    summary = made["FunctionSummary"]
    live = made["ETag"] if i.get("publish", True) else ""
    return i["name"], {"arn": summary["FunctionMetadata"]["FunctionARN"], "etag": made["ETag"],
                       "liveStageEtag": live, "status": "UNASSOCIATED" if not live else "DEPLOYED"}


@resource("aws:cloudfront/monitoringSubscription:MonitoringSubscription")
def monitoring_subscription(ctx: Ctx, r: Res) -> Out:
    dist = r.inputs["distributionId"]
    ctx.client("cloudfront", "us-east-1").get_distribution(Id=dist)  # NoSuchDistribution, as CloudFront says
    status = r.inputs["monitoringSubscription"]["realtimeMetricsSubscriptionConfig"]["realtimeMetricsSubscriptionStatus"]
    validated(ctx, "cloudfront", "CreateMonitoringSubscription", {
        "DistributionId": dist,
        "MonitoringSubscription": {"RealtimeMetricsSubscriptionConfig": {"RealtimeMetricsSubscriptionStatus": status}},
    }, "us-east-1")
    return dist, {}
