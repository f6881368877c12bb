"""Components room: the CloudFront edge in front of the Shipments API and its static assets.

Two origins: a private S3 bucket of static assets that only this distribution can read
(Origin Access Control, SigV4, bucket policy scoped by AWS:SourceArn), and the app's public
load balancer, reached over HTTPS/TLS 1.2 only and carrying a secret `X-Origin-Verify` header
the app can check to refuse traffic that bypassed the CDN. Behaviours, most specific first:
`/static/*` -> S3 cached (managed CachingOptimized); `/api/shipments*` -> app with a short-TTL
policy honouring the app's Cache-Control (keyed on Authorization so one client's answer never
reaches another); `/api/*` and everything else -> app uncached with every viewer header but
Host. Every behaviour redirects HTTP to HTTPS, compresses and adds security headers. Optional:
a WAFv2 web ACL (us-east-1, CLOUDFRONT scope) and a custom domain with an ACM certificate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components import kms
from components.base import Component
from components.bucket import HardenedBucket
from components.certificates import dns_validated_certificate
from components.monitoring import Graph, Watch
from components.placement import locate
from components.settings import API_CACHE_MAX_TTL_SECONDS, ORIGIN_READ_TIMEOUT_SECONDS, AlarmSettings, CdnSettings

# CloudFront only accepts certificates and CLOUDFRONT-scope web ACLs from us-east-1.
EDGE_REGION = "us-east-1"
# CloudFront publishes its metrics in us-east-1 only, with the dimension Region=Global.
CLOUDFRONT_METRICS_REGION = "us-east-1"
ORIGIN_VERIFY_HEADER = "X-Origin-Verify"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
READ_METHODS = ["GET", "HEAD"]
# AWS managed policies, looked up by name (their ids are the same in every account).
CACHING_OPTIMIZED = "Managed-CachingOptimized"
CACHING_DISABLED = "Managed-CachingDisabled"
# Written by the viewer-request function below (the address CloudFront saw, never the client's).
VIEWER_ADDRESS_HEADER = "X-Viewer-Address"
VIEWER_ADDRESS_FUNCTION = """\
function handler(event) {
  // Overwrite whatever the client sent: only CloudFront's view of the connection counts.
  event.request.headers['x-viewer-address'] = { value: event.viewer.ip };
  return event.request;
}
"""
S3_ACCESS_LOG_PREFIX = "s3-access/assets/"
# Old versions of an asset stay this long (a rollback of the static files within a month).
NONCURRENT_VERSION_RETENTION_DAYS = 30
# CloudFront-scope web ACLs inspect at most 64 KB of a body (request_body inspection limit).
WAF_MAX_BODY_INSPECTION = 65536
WAF_BODY_LIMITS = {16384: "KB_16", 32768: "KB_32", 49152: "KB_48", 65536: "KB_64"}


@dataclass
class CdnArgs:
    # Wiring: the name CloudFront reaches the app by (App.origin_hostname): a name of ours whose
    # certificate the load balancer presents, so CloudFront's origin TLS check passes.
    app_origin_domain: pulumi.Input[str]
    # Price class, viewers' domain, WAF, API caching, log retention.
    settings: CdnSettings
    # The zone settings.domain lives in (Dns.zone_id): its certificate is DNS-validated and its
    # alias records written there; None leaves both to whoever owns the zone.
    hosted_zone_id: pulumi.Input[str] | None = None
    # The largest request body the app accepts (App.max_body_bytes): the WAF blocks only what
    # the app would refuse anyway, instead of the managed rule set's 8 KB (which would turn
    # valid writes into 403s). One number, passed to both.
    max_body_bytes: int = 65536
    # The X-Origin-Verify value (App.origin_secret); None generates one (exposed as
    # `origin_secret`). Passed in because the app must know it before the CDN exists (the app is
    # the CDN's origin, so it comes first).
    origin_secret: pulumi.Input[str] | None = None
    # Stateful: protect the buckets and the assets key from `pulumi destroy`.
    protect: bool = False
    # Let `pulumi destroy` empty the buckets (disposable environments only).
    force_destroy: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    # Where the buckets live (the distribution, certificate and web ACL are global / us-east-1).
    region: str | None = None

    def __post_init__(self) -> None:
        # The app's limit is wiring, the WAF a setting: only here do the two meet.
        if self.settings.waf and self.max_body_bytes > WAF_MAX_BODY_INSPECTION:
            raise ValueError(
                f"max_body_bytes ({self.max_body_bytes}) exceeds what the WAF can inspect in front of CloudFront "
                f"({WAF_MAX_BODY_INSPECTION} bytes): bodies past that would be blocked unread"
            )


class Cdn(Component):
    """CloudFront + OAC-private S3 assets + access logs + optional WAF and custom domain."""

    distribution_id: pulumi.Output[str]
    distribution_arn: pulumi.Output[str]
    domain_name: pulumi.Output[str]
    viewer_domain: pulumi.Input[str]
    assets_bucket_name: pulumi.Output[str]
    assets_bucket_arn: pulumi.Output[str]
    log_bucket_name: pulumi.Output[str]
    web_acl_arn: pulumi.Output[str] | None
    origin_secret: pulumi.Output[str]
    certificate_arn: pulumi.Output[str] | None
    assets_kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags, protect=args.protect)
        s = args.settings
        self._args = args
        self._where = locate(self, args.region)
        self._invoke = pulumi.InvokeOptions(parent=self)

        self._origin_secret()
        logs, logs_acl = self._log_bucket()
        assets = self._assets_bucket()
        self._assets_access_logs(logs, assets)
        headers = self._security_headers()
        web_acl = self._web_acl() if s.waf else None
        self.web_acl_arn = web_acl.arn if web_acl else None
        self.certificate_arn = self._certificate() if s.domain else None
        policies = self._request_policies()
        distribution = self._distribution(assets, logs, logs_acl, headers, web_acl, policies)
        self._assets_encryption(assets, distribution)
        self._alias_records(distribution)

        self.register_outputs(
            {
                "distributionId": self.distribution_id,
                "distributionArn": self.distribution_arn,
                "domainName": self.domain_name,
                "assetsBucketName": self.assets_bucket_name,
                "assetsBucketArn": self.assets_bucket_arn,
                "logBucketName": self.log_bucket_name,
                "webAclArn": self.web_acl_arn,
                "originSecret": self.origin_secret,
            }
        )

    # ---- plumbing -----------------------------------------------------------------------
    # ---- what the alarms watch -------------------------------------------------------------
    def watches(self, s: AlarmSettings) -> list[Watch]:
        """The distribution's 5xx rate (users get errors: part of "the API is down") and its origin
        latency p95, in CloudFront's metrics region."""
        dims = {"DistributionId": self.distribution_id, "Region": "Global"}
        return [
            Watch("cdn-5xx-rate", "AWS/CloudFront", "5xxErrorRate", dims, "GreaterThanThreshold",
                  s.cdn_5xx_percent, f"CDN: 5xx error rate above {s.cdn_5xx_percent:g}%",
                  period=60, evaluation_periods=5, datapoints_to_alarm=3, treat_missing_data="notBreaching",
                  unit="Percent", region=CLOUDFRONT_METRICS_REGION, graph=Graph("CDN 5xx error rate %", "cdn", 0),
                  down=True),
            # OriginLatency is one of CloudFront's additional metrics (the monitoring subscription below).
            Watch("cdn-origin-latency-p95", "AWS/CloudFront", "OriginLatency", dims, "GreaterThanThreshold",
                  s.cdn_origin_latency_ms, f"CDN: origin latency p95 above {s.cdn_origin_latency_ms} ms",
                  statistic=None, extended_statistic="p95", evaluation_periods=3,
                  treat_missing_data="notBreaching", region=CLOUDFRONT_METRICS_REGION,
                  graph=Graph("CDN origin latency p95 (ms)", "cdn", 1)),
        ]

    # ---- steps, in dependency order --------------------------------------------------------
    def _origin_secret(self) -> None:
        """The secret the app checks: requests without it did not come through CloudFront."""
        if self._args.origin_secret is not None:
            self.origin_secret = pulumi.Output.secret(self._args.origin_secret)
            return
        secret = random.RandomPassword(
            f"{self.prefix}-origin-verify",
            length=48,
            special=False,
            opts=self.child(additional_secret_outputs=["result"]),
        )
        self.origin_secret = pulumi.Output.secret(secret.result)

    def _log_bucket(self) -> tuple[HardenedBucket, aws.s3.BucketAcl]:
        """CloudFront standard logging writes through S3 ACLs as the awslogsdelivery account, so
        this bucket keeps ACLs (ObjectWriter) and SSE-S3: SSE-KMS would need the log delivery
        account granted on the key, for logs that hold no secrets."""
        name, args, kw = self.prefix, self._args, self._where.kw
        logs = HardenedBucket(self, f"{name}-cdn-logs", bucket_name=f"{name}-cdn-logs-{self._where.account}",
                              force_destroy=args.force_destroy, tags=self.named("cdn-logs"),
                              object_ownership="ObjectWriter", region_kw=kw)
        owner_id = aws.s3.get_canonical_user_id(opts=self._invoke).id
        log_delivery_id = aws.cloudfront.get_log_delivery_canonical_user_id(opts=self._invoke).id
        logs_acl = aws.s3.BucketAcl(
            f"{name}-cdn-logs-acl",
            bucket=logs.id,
            access_control_policy=aws.s3.BucketAclAccessControlPolicyArgs(
                owner=aws.s3.BucketAclAccessControlPolicyOwnerArgs(id=owner_id),
                grants=[
                    aws.s3.BucketAclAccessControlPolicyGrantArgs(
                        grantee=aws.s3.BucketAclAccessControlPolicyGrantGranteeArgs(type="CanonicalUser", id=gid),
                        permission="FULL_CONTROL",
                    )
                    for gid in (owner_id, log_delivery_id)
                ],
            ),
            opts=self.child(depends_on=[logs.ownership, logs.public_access_block]),
            **kw,
        )
        logs.encrypt()
        logs.lifecycle([{"id": "expire-access-logs", "status": "Enabled", "filter": {"prefix": ""},
                         "expiration": {"days": args.settings.log_retention_days}}])
        self.log_bucket_name = logs.bucket.bucket
        return logs, logs_acl

    def _assets_bucket(self) -> HardenedBucket:
        """The static assets: versioned, owner-enforced; encrypted and opened to the distribution
        once it exists (_assets_encryption)."""
        name = self.prefix
        assets = HardenedBucket(self, f"{name}-assets", bucket_name=f"{name}-assets-{self._where.account}",
                                force_destroy=self._args.force_destroy, tags=self.named("assets"),
                                region_kw=self._where.kw)
        assets.version()
        assets.lifecycle([{"id": "expire-old-versions", "status": "Enabled", "filter": {"prefix": ""},
                           "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_RETENTION_DAYS}}])
        self.assets_bucket_name = assets.bucket.bucket
        self.assets_bucket_arn = assets.arn
        return assets

    def _assets_access_logs(self, logs: HardenedBucket, assets: HardenedBucket) -> None:
        """Server access logs of the assets bucket (who read or changed what, beyond CloudFront's
        own logs: direct API calls, replication, lifecycle) into the log bucket, delivered by the
        S3 logging service under a bucket policy scoped to this source bucket and account."""
        account = self._where.account
        logs_policy = logs.policy(
            lambda logs_arn, assets_arn: [{
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{logs_arn}/{S3_ACCESS_LOG_PREFIX}*",
                "Condition": {"ArnLike": {"aws:SourceArn": assets_arn},
                              "StringEquals": {"aws:SourceAccount": account}},
            }],
            others=[assets.arn],
            depends_on=[logs.public_access_block],
        )
        # S3 refuses to turn logging on until the target lets the logging service write.
        assets.access_logs(logs, S3_ACCESS_LOG_PREFIX, depends_on=[logs_policy])

    def _security_headers(self) -> aws.cloudfront.ResponseHeadersPolicy:
        name = self.prefix
        return aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers",
            name=f"{name}-security-headers",
            comment=f"{name}: HSTS, nosniff, DENY framing, strict referrer",
            security_headers_config=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigArgs(
                strict_transport_security=(
                    aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                        access_control_max_age_sec=63072000, include_subdomains=True, override=True
                    )
                ),
                content_type_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                    override=True
                ),
                frame_options=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigFrameOptionsArgs(
                    frame_option="DENY", override=True
                ),
                referrer_policy=aws.cloudfront.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                    referrer_policy="strict-origin-when-cross-origin", override=True
                ),
            ),
            opts=self.child(),
        )

    def _web_acl(self) -> aws.wafv2.WebAcl:
        """Per-IP rate limit, AWS managed rules and the app's body limit, in front of CloudFront."""
        name, s = self.prefix, self._args.settings
        max_body_bytes = self._args.max_body_bytes

        def visibility(metric: str) -> dict[str, Any]:
            return dict(cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True)

        def managed(rule_name: str, priority: int, group: str, metric_suffix: str,
                    count: list[str] | None = None) -> dict[str, Any]:
            statement: dict[str, Any] = {"name": group, "vendor_name": "AWS"}
            if count:
                statement["rule_action_overrides"] = [{"name": r, "action_to_use": {"count": {}}} for r in count]
            return {"name": rule_name, "priority": priority, "override_action": {"none": {}},
                    "statement": {"managed_rule_group_statement": statement},
                    "visibility_config": visibility(f"{metric}{metric_suffix}")}

        metric = name.replace("-", "")
        rules: list[dict[str, Any]] = [
            # First, and cheap: a flooding client is blocked before any managed rule runs.
            {"name": "rate-limit-per-ip", "priority": 0, "action": {"block": {}},
             "statement": {"rate_based_statement": {"limit": s.waf_rate_limit, "aggregate_key_type": "IP"}},
             "visibility_config": visibility(f"{metric}RateLimit")},
            # The common rule set blocks bodies over 8 KB (SizeRestrictions_BODY); the app takes up to
            # max_body_bytes, so that one rule only counts and the next rule enforces the app's limit.
            # NoUserAgent_HEADER is counted too: API clients (B2B integrations, curl in scripts)
            # often send none, and the app does not care.
            managed("aws-common-rule-set", 1, "AWSManagedRulesCommonRuleSet", "Common",
                    count=["SizeRestrictions_BODY", "NoUserAgent_HEADER"]),
            {"name": "body-larger-than-the-app-accepts", "priority": 2, "action": {"block": {}},
             "statement": {"size_constraint_statement": {
                 "comparison_operator": "GT", "size": max_body_bytes,
                 # Bodies past the inspection limit (set to cover max_body_bytes below) match.
                 "field_to_match": {"body": {"oversize_handling": "MATCH"}},
                 "text_transformations": [{"priority": 0, "type": "NONE"}]}},
             "visibility_config": visibility(f"{metric}BodySize")},
        ]
        if s.waf_extra_rule_groups:
            # Known bad inputs (Log4j, Java deserialization...) are blocked.
            rules.append(managed("aws-known-bad-inputs", 3, "AWSManagedRulesKnownBadInputsRuleSet", "BadInputs"))
            # Tor exits and anonymising proxies are blocked; hosting providers only counted: the
            # API's B2B clients call it from their own cloud servers.
            rules.append(managed("aws-anonymous-ip", 4, "AWSManagedRulesAnonymousIpList", "AnonymousIp",
                                 count=["HostingProviderIPList"]))
        inspection = min(limit for limit in WAF_BODY_LIMITS if limit >= max_body_bytes)
        acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            name=f"{name}-cdn",
            description=f"{name}: per-IP rate limit, AWS managed rules and the app's body limit in front of "
                        f"CloudFront",
            scope="CLOUDFRONT",
            region=EDGE_REGION,
            default_action={"allow": {}},
            rules=rules,  # type: ignore[arg-type]
            # How much of a body the WAF reads: at least what the app accepts (KB_16 is free, more costs).
            association_config=aws.wafv2.WebAclAssociationConfigArgs(request_bodies=[
                aws.wafv2.WebAclAssociationConfigRequestBodyArgs(
                    cloudfront=aws.wafv2.WebAclAssociationConfigRequestBodyCloudfrontArgs(
                        default_size_inspection_limit=WAF_BODY_LIMITS[inspection]))]),
            visibility_config=visibility(metric),  # type: ignore[arg-type]
            tags=self.named("waf"),
            opts=self.child(),
        )
        self._waf_logging(acl)
        return acl

    def _waf_logging(self, acl: aws.wafv2.WebAcl) -> None:
        """Every request the WAF judged, to a KMS-encrypted log group in us-east-1 (the name must
        start with aws-waf-logs-), API keys redacted."""
        name, partition, account = self.prefix, self._where.partition, self._where.account
        tags = self.named("waf")
        group_name = f"aws-waf-logs-{name}"
        key = aws.kms.Key(
            f"{name}-waf-logs-key",
            description=f"{name} WAF logs",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(kms.account_admin(partition, account),
                                  kms.logs_for_group(partition, EDGE_REGION, account, group_name)),
            tags={**tags, "Name": f"{name}-waf-logs-key"},
            region=EDGE_REGION,
            opts=self.stateful(),
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-waf-logs",
            name=group_name,
            retention_in_days=self._args.settings.waf_log_retention_days,
            kms_key_id=key.arn,
            tags={**tags, "Name": group_name},
            region=EDGE_REGION,
            opts=self.child(),
        )
        # Our own narrow resource policy: otherwise WAF grows the account-wide AWSWAF-LOGS policy,
        # which fails once it passes its size limit (the provider's documented warning).
        policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-waf-logs-delivery",
            policy_name=f"{name}-waf-logs",
            policy_document=group.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "WafLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "delivery.logs.amazonaws.com"},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{arn}:*",
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:logs:{EDGE_REGION}:{account}:*"},
                        "StringEquals": {"aws:SourceAccount": account},
                    },
                }],
            })),
            region=EDGE_REGION,
            opts=self.child(),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=acl.arn,
            log_destination_configs=[group.arn],
            # API keys travel in Authorization: they never reach the logs.
            redacted_fields=[{"single_header": {"name": "authorization"}}],  # type: ignore[list-item]
            region=EDGE_REGION,
            opts=self.child(depends_on=[policy]),
        )

    def _certificate(self) -> pulumi.Output[str]:
        """The viewers' domain's certificate, in us-east-1 (CloudFront's only source)."""
        domain = self._args.settings.domain
        assert domain is not None
        return dns_validated_certificate(f"{self.prefix}-cert", domain=domain, zone_id=self._args.hosted_zone_id,
                                         parent=self, region=EDGE_REGION, tags=self.named("cert"))

    def _request_policies(self) -> _Policies:
        """What each behaviour caches and forwards, and the function that names the viewer."""
        name, ttl = self.prefix, self._args.settings.api_cache_ttl_seconds
        # The app keys its per-IP limits on the viewer's address. CloudFront vouches for it in
        # `CloudFront-Viewer-Address`, but an origin request policy can add CloudFront's headers
        # only next to *every* viewer header (Host included: CloudFront would then check the
        # origin's certificate against the viewer's Host and fail) or in a whitelist (which may
        # not carry Authorization). So a viewer-request function writes the address into
        # VIEWER_ADDRESS_HEADER, overwriting whatever the client sent, and the app trusts it only
        # on requests that also carry the origin secret.
        viewer_address = aws.cloudfront.Function(
            f"{name}-viewer-address",
            name=f"{name}-viewer-address",
            runtime="cloudfront-js-2.0",
            comment=f"{name}: the viewer's address, as CloudFront saw it, for the app's per-IP limits",
            code=VIEWER_ADDRESS_FUNCTION,
            publish=True,
            tags=self.named("viewer-address"),
            opts=self.child(),
        )
        # Every viewer header but Host (the origin's certificate is for the origin's own name).
        app_request = aws.cloudfront.OriginRequestPolicy(
            f"{name}-app-request",
            name=f"{name}-app-request",
            comment=f"{name}: viewer headers except Host (the origin is verified by its own name), query strings",
            cookies_config=aws.cloudfront.OriginRequestPolicyCookiesConfigArgs(cookie_behavior="none"),
            headers_config=aws.cloudfront.OriginRequestPolicyHeadersConfigArgs(
                header_behavior="allExcept",
                headers=aws.cloudfront.OriginRequestPolicyHeadersConfigHeadersArgs(items=["Host"]),
            ),
            query_strings_config=aws.cloudfront.OriginRequestPolicyQueryStringsConfigArgs(query_string_behavior="all"),
            opts=self.child(),
        )
        api_cache: aws.cloudfront.CachePolicy | None = None
        if ttl > 0:
            api_cache = aws.cloudfront.CachePolicy(
                f"{name}-api-short-ttl",
                name=f"{name}-api-short-ttl",
                comment=f"{name}: shipment reads, app Cache-Control honoured, keyed per API key",
                min_ttl=0,
                default_ttl=ttl,
                max_ttl=API_CACHE_MAX_TTL_SECONDS,
                parameters_in_cache_key_and_forwarded_to_origin=(
                    aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginArgs(
                        cookies_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs(
                            cookie_behavior="none"
                        ),
                        # Authorization in the key: a cached answer is only ever served to its own API key.
                        headers_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs(
                            header_behavior="whitelist",
                            headers=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigHeadersArgs(
                                items=["Authorization"]
                            ),
                        ),
                        query_strings_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs(
                            query_string_behavior="all"
                        ),
                        enable_accept_encoding_gzip=True,
                        enable_accept_encoding_brotli=True,
                    )
                ),
                opts=self.child(),
            )
        return _Policies(
            caching_optimized=aws.cloudfront.get_cache_policy(name=CACHING_OPTIMIZED, opts=self._invoke).id,
            caching_disabled=aws.cloudfront.get_cache_policy(name=CACHING_DISABLED, opts=self._invoke).id,
            all_viewer_except_host=app_request.id,
            api_cache=api_cache.id if api_cache is not None else None,
            viewer_address_arn=viewer_address.arn,
        )

    def _behaviours(self, headers: aws.cloudfront.ResponseHeadersPolicy, p: _Policies
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The default behaviour (the app, uncached) and the ordered ones, most specific first."""

        def behaviour(path: str | None, origin: str, cache_policy: pulumi.Input[str], *,
                      methods: list[str], origin_request_policy: pulumi.Input[str] | None) -> dict[str, Any]:
            spec: dict[str, Any] = dict(
                target_origin_id=origin,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=methods,
                cached_methods=READ_METHODS,
                compress=True,
                cache_policy_id=cache_policy,
                origin_request_policy_id=origin_request_policy,
                response_headers_policy_id=headers.id,
            )
            if path is not None:
                spec["path_pattern"] = path
            if origin == "app":
                spec["function_associations"] = [{"event_type": "viewer-request", "function_arn": p.viewer_address_arn}]
            return spec

        ordered = [
            behaviour("/static/*", "assets", p.caching_optimized, methods=READ_METHODS, origin_request_policy=None),
        ]
        if p.api_cache is not None:
            ordered.append(behaviour("/api/shipments*", "app", p.api_cache, methods=ALL_METHODS,
                                     origin_request_policy=p.all_viewer_except_host))
        ordered.append(behaviour("/api/*", "app", p.caching_disabled, methods=ALL_METHODS,
                                 origin_request_policy=p.all_viewer_except_host))
        default = behaviour(None, "app", p.caching_disabled, methods=ALL_METHODS,
                            origin_request_policy=p.all_viewer_except_host)
        return default, ordered

    def _viewer_certificate(self) -> aws.cloudfront.DistributionViewerCertificateArgs:
        if self.certificate_arn is not None:
            return aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=self.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version="TLSv1.2_2021",
            )
        # The *.cloudfront.net certificate: CloudFront stores TLSv1 whatever is sent (it accepts
        # TLSv1 for that name), so anything else reads back as a change on every update.
        return aws.cloudfront.DistributionViewerCertificateArgs(
            cloudfront_default_certificate=True,
            minimum_protocol_version="TLSv1",
        )

    def _distribution(self, assets: HardenedBucket, logs: HardenedBucket, logs_acl: aws.s3.BucketAcl,
                      headers: aws.cloudfront.ResponseHeadersPolicy, web_acl: aws.wafv2.WebAcl | None,
                      policies: _Policies) -> aws.cloudfront.Distribution:
        """The two origins behind the behaviours, logging into the log bucket once its ACL lets
        CloudFront write; per-distribution metrics (the alarms' OriginLatency) turned on."""
        name, args = self.prefix, self._args
        domain = args.settings.domain
        oac = aws.cloudfront.OriginAccessControl(
            f"{name}-assets-oac",
            name=f"{name}-assets-oac",
            description=f"{name}: CloudFront signs every request to the assets bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=self.child(),
        )
        default, ordered = self._behaviours(headers, policies)
        distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            comment=f"{name} Shipments API",
            aliases=[domain] if domain else None,
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=args.settings.price_class,
            web_acl_id=web_acl.arn if web_acl else None,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id="assets",
                    domain_name=assets.bucket.bucket_regional_domain_name,
                    origin_access_control_id=oac.id,
                ),
                aws.cloudfront.DistributionOriginArgs(
                    origin_id="app",
                    domain_name=args.app_origin_domain,
                    custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                        http_port=80,
                        https_port=443,
                        origin_protocol_policy="https-only",
                        origin_ssl_protocols=["TLSv1.2"],
                        origin_read_timeout=ORIGIN_READ_TIMEOUT_SECONDS,
                        origin_keepalive_timeout=5,
                    ),
                    custom_headers=[
                        aws.cloudfront.DistributionOriginCustomHeaderArgs(
                            name=ORIGIN_VERIFY_HEADER, value=self.origin_secret
                        )
                    ],
                ),
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(**default),
            ordered_cache_behaviors=[aws.cloudfront.DistributionOrderedCacheBehaviorArgs(**b) for b in ordered],
            logging_config=aws.cloudfront.DistributionLoggingConfigArgs(
                bucket=logs.bucket.bucket_domain_name, prefix="cloudfront/", include_cookies=False
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            viewer_certificate=self._viewer_certificate(),
            tags=self.named("cdn"),
            opts=self.child(depends_on=[logs_acl]),
        )
        self.distribution_id = distribution.id
        self.distribution_arn = distribution.arn
        self.domain_name = distribution.domain_name
        # What viewers (and the uptime canary) call: the custom domain, else *.cloudfront.net.
        self.viewer_domain = domain or distribution.domain_name

        # Per-distribution metrics such as OriginLatency (the alarms use them) cost extra: opt in.
        aws.cloudfront.MonitoringSubscription(
            f"{name}-cdn-metrics",
            distribution_id=distribution.id,
            monitoring_subscription=aws.cloudfront.MonitoringSubscriptionMonitoringSubscriptionArgs(
                realtime_metrics_subscription_config=(
                    aws.cloudfront.MonitoringSubscriptionMonitoringSubscriptionRealtimeMetricsSubscriptionConfigArgs(
                        realtime_metrics_subscription_status="Enabled"
                    )
                )
            ),
            opts=self.child(),
        )
        return distribution

    def _assets_encryption(self, assets: HardenedBucket, distribution: aws.cloudfront.Distribution) -> None:
        """SSE-KMS with a customer key (rotated, S3 Bucket Key to keep KMS calls cheap); CloudFront
        decrypts through OAC only because the key policy names this distribution, and only this
        distribution may read the bucket."""
        name, kw, w = self.prefix, self._where.kw, self._where
        assets_key = aws.kms.Key(
            f"{name}-assets-key",
            description=f"{name} static assets bucket",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=distribution.arn.apply(
                lambda arn: kms.key_policy(
                    kms.account_admin(w.partition, w.account),
                    {
                        "Sid": "CloudFrontOacDecrypt",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": ["kms:Decrypt"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"AWS:SourceArn": arn}},
                    },
                )
            ),
            tags=self.named("assets-key"),
            opts=self.stateful(),
            **kw,
        )
        assets.encrypt(assets_key.arn, bucket_key=True)
        assets.policy(
            lambda assets_arn, distribution_arn: [{
                "Sid": "CloudFrontOacRead",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"{assets_arn}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            }],
            others=[distribution.arn],
            depends_on=[assets.public_access_block],
        )
        self.assets_kms_key_arn = assets_key.arn

    def _alias_records(self, distribution: aws.cloudfront.Distribution) -> None:
        """The viewers' domain points at the distribution (IPv4 and IPv6), when we hold its zone."""
        domain, zone_id = self._args.settings.domain, self._args.hosted_zone_id
        if not (domain and zone_id):
            return
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{self.prefix}-cdn-{record_type.lower()}",
                zone_id=zone_id,
                name=domain,
                type=record_type,
                aliases=[aws.route53.RecordAliasArgs(
                    name=distribution.domain_name,
                    zone_id=distribution.hosted_zone_id,
                    evaluate_target_health=False,
                )],
                opts=self.child(),
            )


@dataclass(frozen=True)
class _Policies:
    """The ids the behaviours refer to (cache and origin request policies, the viewer function)."""

    caching_optimized: pulumi.Input[str]
    caching_disabled: pulumi.Input[str]
    all_viewer_except_host: pulumi.Input[str]
    api_cache: pulumi.Input[str] | None
    viewer_address_arn: pulumi.Input[str]
