"""Operations room: config values that work offline but cannot deploy for real.

Offline, a stack's config may carry stand-ins -- documentation address ranges, AWS's example
account id, `example.com` hosts, digests nobody pushed -- and everything works, because the
embedded cloud never dials out. Against AWS they fail late or hang: an EKS endpoint nobody
can reach, a certificate in somebody else's account, a Deployment whose image never pulls
(pulumi-kubernetes waits its 10 minutes, then the rollout is marked failed). `check()` lists
every such key with what to set instead, before any work:

- `berth preflight STACK` runs it on its own (exit 1 when anything is found);
- `berth up` / `berth preview --cloud` refuse on any finding (stacks/deploy.py);
- offline `berth preview` prints the findings as warnings.

Where a check needs the network -- does each pinned image digest exist in its registry? --
it asks the registry itself (the OCI distribution API: HEAD /v2/<repo>/manifests/<digest>,
with the anonymous bearer-token handshake public registries use). A private ECR repository (the
bootstrap's, `berth bootstrap`) answers no anonymous client: it is asked through the ECR API with
the caller's AWS credentials (the CI role's), `DescribeImages` by digest. A registry that cannot
be reached is a finding too: an image nobody can confirm is not deployed.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from stacks.config import ClusterSettings, is_digest

EXAMPLE_ACCOUNTS = {"123456789012", "000000000000", "111111111111", "999999999999"}
# RFC 5737 / RFC 3849 documentation ranges, and ranges no operator's traffic comes from.
DOCUMENTATION_NETS = [ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
RESERVED_NETS = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")]
EXAMPLE_HOST = re.compile(r"(^|[./@])(example\.(com|org|net)|[a-z0-9-]+\.(example|test|invalid|localhost))($|[/:])",
                          re.IGNORECASE)
ZERO_DIGEST = re.compile(r"@sha256:0{64}$")
# A PagerDuty Events API v1 integration URL carries a 32-character integration key.
PAGERDUTY = re.compile(r"^https://events\.pagerduty\.com/integration/([^/]+)/enqueue$")
IMAGE_KEYS = ("berth:app.image", "berth:pgbouncer.image", "berth:pgbouncer.exporterImage",
              "berth:pgbouncer.caFetchImage", "berth:cluster.autoscalerImage")
MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))


# Amazon EKS: the end of standard and of extended support per Kubernetes minor (EKS User Guide,
# "Understand the Kubernetes version lifecycle on EKS", release calendar; as listed on
# endoflife.date/amazon-eks, read 2026-12-08). Standard support is 14 months from the EKS release,
# extended 12 more. Add a row when EKS releases a minor (stacks/config.py's version pattern follows).
EKS_SUPPORT: dict[str, tuple[dt.date, dt.date]] = {
    "1.28": (dt.date(2024, 11, 26), dt.date(2025, 11, 26)),
    "1.29": (dt.date(2025, 3, 23), dt.date(2026, 3, 23)),
    "1.30": (dt.date(2025, 7, 23), dt.date(2026, 7, 23)),
    "1.31": (dt.date(2025, 11, 26), dt.date(2026, 11, 26)),
    "1.32": (dt.date(2026, 3, 23), dt.date(2027, 3, 23)),
    "1.33": (dt.date(2026, 7, 29), dt.date(2027, 7, 29)),
    "1.34": (dt.date(2026, 12, 2), dt.date(2027, 12, 2)),
    "1.35": (dt.date(2027, 3, 27), dt.date(2028, 3, 27)),
    "1.36": (dt.date(2027, 8, 2), dt.date(2028, 8, 2)),
}
EKS_WARN_DAYS = 90


@dataclass(frozen=True)
class Finding:
    key: str
    value: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}: {self.problem}; {self.fix}"


def _walk(key: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(f"{key}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(f"{key}[{i}]", v)
    else:
        yield key, value


def _net(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def config_findings(config: Mapping[str, Any], *, is_prod: bool) -> list[Finding]:
    """Every config value that cannot serve a real deployment (no network needed)."""
    out: list[Finding] = []
    for top, tree in config.items():
        for key, value in _walk(top, tree):
            if not isinstance(value, str):
                continue
            net = _net(value)
            if net is not None:
                if any(net.version == d.version and net.subnet_of(d) for d in DOCUMENTATION_NETS):  # type: ignore[arg-type]
                    out.append(Finding(key, value, "a documentation address range (RFC 5737/3849): no real "
                                       "client comes from it", "set your operators' or VPN's egress ranges"))
                elif any(net.version == r.version and net.subnet_of(r) for r in RESERVED_NETS):  # type: ignore[arg-type]
                    out.append(Finding(key, value, "a reserved address range", "set a routable range you own"))
            if value.startswith("arn:"):
                parts = value.split(":")
                if len(parts) > 4 and parts[4] in EXAMPLE_ACCOUNTS:
                    out.append(Finding(key, value, f"the ARN is in the example account {parts[4]}",
                                       "set the ARN of the real resource in your account"))
            if key in IMAGE_KEYS or key.endswith(("Image", ".image")):
                out += _image_findings(key, value, is_prod=is_prod)
            elif EXAMPLE_HOST.search(value):
                out.append(Finding(key, value, "an example/reserved domain (RFC 2606): nobody receives it",
                                   "set the real host, address or URL"))
            m = PAGERDUTY.match(value)
            if m and not re.fullmatch(r"[0-9a-f]{32}", m.group(1)):
                out.append(Finding(key, value, "not a PagerDuty integration key (32 hex characters)",
                                   "paste the integration URL from the PagerDuty service"))
    return out


def _image_findings(key: str, value: str, *, is_prod: bool) -> list[Finding]:
    out = []
    if ZERO_DIGEST.search(value):
        out.append(Finding(key, value, "an all-zero digest: no such image", "pin the digest you verified "
                           "(`crane digest IMAGE:TAG`, or the digest your build pushed)"))
    repo = value.split("@")[0].split(":")[0] if "/" in value else value
    if repo.startswith(("bitnami/", "docker.io/bitnami/")):
        out.append(Finding(key, value, "Bitnami's free image catalogue was withdrawn in 2025: the pull fails",
                           "use a maintained image (PgBouncer: ghcr.io/cloudnative-pg/pgbouncer)"))
    if is_prod and not is_digest(value):
        out.append(Finding(key, value, "a mutable tag in production", "pin it by digest (repo:tag@sha256:...)"))
    if EXAMPLE_HOST.search(value.split("/")[0]):
        out.append(Finding(key, value, "an example registry host", "set the real registry"))
    return out


# ---- registries ---------------------------------------------------------------------------------
# <account>.dkr.ecr.<region>.amazonaws.com (and .amazonaws.com.cn): a private ECR registry.
ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
@dataclass(frozen=True)
class ImageRef:
    registry: str  # host[:port] as written, docker.io for Docker Hub
    repository: str
    digest: str

    @property
    def api(self) -> str:
        host = "registry-1.docker.io" if self.registry == "docker.io" else self.registry
        # Loopback registries speak plain HTTP (as Docker treats them); everything else TLS.
        scheme = "http" if host.split(":")[0] in ("127.0.0.1", "localhost") else "https"
        return f"{scheme}://{host}"


def parse_image(ref: str) -> ImageRef | None:
    """registry, repository and digest of a digest-pinned reference (None without a digest)."""
    if "@sha256:" not in ref:
        return None
    name, digest = ref.split("@", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
    path = path.rsplit(":", 1)[0] if ":" in path.rsplit("/", 1)[-1] else path  # drop the tag
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return ImageRef(registry, path, digest)


Opener = Callable[[urllib.request.Request, float], Any]


def _open(req: urllib.request.Request, timeout: float) -> Any:
    return urllib.request.urlopen(req, timeout=timeout)


def _token(challenge: str, ref: ImageRef, opener: Opener, timeout: float) -> str | None:
    """The anonymous pull token a `WWW-Authenticate: Bearer realm=...` challenge points to."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", None)
    if not realm or not challenge.lower().startswith("bearer"):
        return None
    params.setdefault("scope", f"repository:{ref.repository}:pull")
    with opener(urllib.request.Request(f"{realm}?{urllib.parse.urlencode(params)}"), timeout) as resp:
        body = json.loads(resp.read() or b"{}")
    return body.get("token") or body.get("access_token")


def manifest_exists(ref: ImageRef, *, opener: Opener = _open, timeout: float = 10.0,
                    basic_auth: tuple[str, str] | None = None) -> bool:
    """Whether the registry holds a manifest with this digest (HEAD, then the token handshake)."""
    url = f"{ref.api}/v2/{ref.repository}/manifests/{ref.digest}"

    def head(auth: str | None) -> int:
        req = urllib.request.Request(url, method="HEAD", headers={"Accept": MANIFEST_TYPES})
        if auth:
            req.add_header("Authorization", auth)
        try:
            with opener(req, timeout) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            if exc.code == 401 and auth is None:
                challenge = exc.headers.get("WWW-Authenticate", "")
                token = _token(challenge, ref, opener, timeout) if challenge else None
                if token:
                    return head(f"Bearer {token}")
                if basic_auth:
                    return head("Basic " + base64.b64encode(":".join(basic_auth).encode()).decode())
            return exc.code

    status = head(None)
    if status == 200:
        return True
    if status == 404:
        return False
    raise OSError(f"registry {ref.registry} answered HTTP {status} for {ref.repository}@{ref.digest[:19]}…")


EcrClient = Callable[[str], Any]


def _ecr_client(region: str) -> Any:
    return boto3.session.Session(region_name=region).client(
        "ecr", config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=10))


def ecr_image_exists(ref: ImageRef, *, client: EcrClient = _ecr_client) -> bool | None:
    """For a private ECR registry: whether it holds the digest (DescribeImages with the caller's
    credentials); None when the reference is not ECR's. Raises OSError when nobody could tell."""
    m = ECR_HOST.match(ref.registry)
    if m is None:
        return None
    account, region = m.groups()
    try:
        client(region).describe_images(registryId=account, repositoryName=ref.repository,
                                       imageIds=[{"imageDigest": ref.digest}])
        return True
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return False
        raise OSError(f"ECR refused DescribeImages ({code}: {exc.response.get('Error', {}).get('Message', '')}); "
                      "the role needs ecr:DescribeImages on the repository") from None
    except BotoCoreError as exc:  # no credentials, no network
        raise OSError(f"ECR could not be asked: {exc}") from None


def registry_findings(config: Mapping[str, Any], *, opener: Opener = _open, timeout: float = 10.0,
                      ecr: EcrClient = _ecr_client) -> list[Finding]:
    """Every digest-pinned image the registry does not hold (or that no one could confirm)."""
    out: list[Finding] = []
    for key, value in ((k, v) for top, tree in config.items() for k, v in _walk(top, tree)):
        if not isinstance(value, str) or not (key in IMAGE_KEYS or key.endswith(("Image", ".image"))):
            continue
        ref = parse_image(value)
        if ref is None or ZERO_DIGEST.search(value):
            continue  # tags and zero digests are config findings already
        try:
            held = ecr_image_exists(ref, client=ecr)
            if held is None:
                held = manifest_exists(ref, opener=opener, timeout=timeout)
            if not held:
                out.append(Finding(key, value, f"{ref.registry} has no manifest {ref.digest} in {ref.repository}",
                                   "pin a digest that was pushed (the build's output, or `crane digest`)"))
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            out.append(Finding(key, value, f"could not confirm the digest with {ref.registry}: {reason}",
                               "check from a machine that reaches the registry (or fix the reference)"))
    return out


def eks_support(config: Mapping[str, Any], today: dt.date | None = None) -> tuple[list[Finding], list[Finding]]:
    """(findings, warnings) for the cluster's Kubernetes version against EKS's support calendar and the
    stack's upgrade policy: past extended support EKS creates nothing on it; past standard support a
    STANDARD policy is refused (EXTENDED bills about 6x the control plane's price); within 90 days of
    the end of standard support, a warning that names the date and what happens then."""
    cluster = config.get("berth:cluster") or {}
    if not isinstance(cluster, Mapping) or cluster.get("existing"):
        return [], []
    version = str(cluster.get("version") or ClusterSettings().version)
    policy = str(cluster.get("upgradePolicy") or ClusterSettings().upgrade_policy)
    key, today = "berth:cluster.version", today or dt.date.today()
    if version not in EKS_SUPPORT:
        return [], [Finding(key, version, "not in berth's EKS support calendar (berth/operations/preflight.py)",
                            "add its dates from the EKS release calendar")]
    standard_end, extended_end = EKS_SUPPORT[version]
    newer = [v for v, (end, _) in EKS_SUPPORT.items() if end > today + dt.timedelta(days=EKS_WARN_DAYS)]
    move = f"upgrade to {newer[0]} (or later)" if newer else "upgrade to a newer minor"
    if today >= extended_end:
        return [Finding(key, version, f"EKS support for {version} ended on {extended_end} (extended support "
                        "included): EKS would upgrade or refuse the cluster", move)], []
    if today >= standard_end:
        if policy == "STANDARD":
            return [Finding(key, version, f"standard support for {version} ended on {standard_end}: EKS "
                            "refuses berth:cluster.upgradePolicy STANDARD for a cluster in extended support "
                            "(UpdateClusterConfig fails; a cluster created without a policy got EXTENDED)",
                            f"{move} one minor at a time, or set upgradePolicy EXTENDED (extended support until "
                            f"{extended_end}, billed at about 6x the control plane's price)")], []
        return [], [Finding(key, version, f"in extended support since {standard_end} (billed at about 6x the "
                            f"control plane's price) until {extended_end}", move)]
    if (standard_end - today).days <= EKS_WARN_DAYS:
        then = ("EKS upgrades the control plane on its own, and every `up` that still names "
                f"{version} fails until berth:cluster.version is bumped (EKS cannot downgrade)"
                if policy == "STANDARD" else "extended support begins, billed at about 6x the control plane's price")
        return [], [Finding(key, version, f"standard support for {version} ends on {standard_end} "
                            f"({(standard_end - today).days} days): then {then}", move)]
    return [], []


@dataclass
class Report:
    stack: str
    findings: list[Finding]
    checked_registries: bool
    # What a real deploy can still use but someone must act on soon (EKS support ending).
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        return [str(f) for f in self.findings]


def check(stack: str, config: Mapping[str, Any], *, registries: bool = True, opener: Opener = _open,
          timeout: float = 10.0, ecr: EcrClient = _ecr_client, today: dt.date | None = None) -> Report:
    """Everything in a stack's config that a real deployment cannot use."""
    env = config.get("berth:environment")
    is_prod = env == "prod" or (env is None and (stack == "prod" or stack.startswith("prod-")))
    findings = config_findings(config, is_prod=is_prod)
    eks_findings, warnings = eks_support(config, today)
    findings += eks_findings
    if registries:
        findings += registry_findings(config, opener=opener, timeout=timeout, ecr=ecr)
    return Report(stack, findings, registries, warnings)
