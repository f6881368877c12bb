"""app room: read one secret from AWS Secrets Manager with the standard library only.

Only the database bootstrap uses it (shipments.bootstrap, to read RDS's managed master secret): for
one call the image does not carry botocore (~80 MB, and a second HTTP stack). Credentials are found
as AWS SDKs find them in a pod: EKS Pod Identity (the agent at AWS_CONTAINER_CREDENTIALS_FULL_URI,
the token in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
(/ AWS_SESSION_TOKEN). The request is signed with Signature Version 4; tests/app check the signature
against botocore's signer and read a secret from a moto server through AWS_ENDPOINT_URL_SECRETS_MANAGER.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

SERVICE = "secretsmanager"
# Errors worth another try a few seconds later: IAM and Pod Identity changes propagate
# eventually (a Job started right after its association may be refused at first), throttling.
RETRYABLE = frozenset({
    "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException",
    "ThrottlingException", "InternalServiceError", "ServiceUnavailable",
})


class AwsError(RuntimeError):
    """An AWS call failed; `code` is AWS's error type (or a transport error's class), `retryable`
    says whether waiting may help."""

    def __init__(self, code: str, message: str, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never print the keys
        return f"Credentials(access_key={self.access_key[:4]}..., token={'yes' if self.token else 'no'})"


Opener = Callable[..., Any]


def credentials(environ: Mapping[str, str] | None = None, opener: Opener = urllib.request.urlopen) -> Credentials:
    """The pod's AWS credentials: EKS Pod Identity's agent first, then the standard variables."""
    env = os.environ if environ is None else environ
    full_uri = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if full_uri:
        headers = {}
        token_file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        if token_file:
            headers["Authorization"] = Path(token_file).read_text().strip()
        elif env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"):
            headers["Authorization"] = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        try:
            with opener(urllib.request.Request(full_uri, headers=headers), timeout=5) as response:
                data = json.load(response)
        except (OSError, ValueError) as exc:  # the agent is not up yet, or said something odd
            raise AwsError(type(exc).__name__, f"no credentials from {full_uri}: {exc}", retryable=True) from None
        return Credentials(data["AccessKeyId"], data["SecretAccessKey"], data.get("Token"))
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN"))
    raise AwsError(
        "NoCredentials",
        "no AWS credentials: expected EKS Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI) or AWS_ACCESS_KEY_ID",
        retryable=False,
    )


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign_v4(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    region: str,
    service: str,
    creds: Credentials,
    now: datetime,
) -> dict[str, str]:
    """The request's headers with AWS Signature Version 4 added (X-Amz-Date, the session token,
    Authorization). Every header given is signed, and Host."""
    parts = urlsplit(url)
    amz_date = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    signed: dict[str, str] = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    if creds.token:
        signed["x-amz-security-token"] = creds.token
    names = sorted(signed)
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, _, v in sorted(p.partition("=") for p in parts.query.split("&") if p)
    )
    canonical = "\n".join([
        method,
        quote(parts.path or "/", safe="/-_.~"),
        query,
        "".join(f"{n}:{signed[n]}\n" for n in names),
        ";".join(names),
        hashlib.sha256(body).hexdigest(),
    ])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{creds.secret_key}".encode(), amz_date[:8]), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in headers.items()}
    out["X-Amz-Date"] = amz_date
    if creds.token:
        out["X-Amz-Security-Token"] = creds.token
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return out


def region_of(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != SERVICE or not parts[3]:
        raise ValueError(f"{arn!r} is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)")
    return parts[3]


def endpoint(region: str, environ: Mapping[str, str] | None = None) -> str:
    """Secrets Manager's endpoint in `region` (AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL
    override it, as in every AWS SDK)."""
    env = os.environ if environ is None else environ
    override = env.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or env.get("AWS_ENDPOINT_URL")
    if override:
        return override.rstrip("/")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{SERVICE}.{region}.{suffix}"


def get_secret_string(
    arn: str,
    *,
    creds: Credentials,
    environ: Mapping[str, str] | None = None,
    opener: Opener = urllib.request.urlopen,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> str:
    """GetSecretValue(SecretId=arn)'s SecretString."""
    region = region_of(arn)
    url = endpoint(region, environ) + "/"
    body = json.dumps({"SecretId": arn}).encode()
    headers = sign_v4(
        "POST", url,
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"},
        body, region=region, service=SERVICE, creds=creds, now=now(),
    )
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener(request, timeout=10) as response:
            data = json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read() or b"{}")
        except ValueError:
            error = {}
        code = str(error.get("__type", f"HTTP{exc.code}")).rsplit("#", 1)[-1]
        message = str(error.get("message") or error.get("Message") or exc.reason)
        raise AwsError(code, message, retryable=code in RETRYABLE or exc.code >= 500) from None
    except (OSError, ValueError) as exc:
        raise AwsError(type(exc).__name__, str(exc), retryable=True) from None
    if "SecretString" not in data:
        raise AwsError("NoSecretString", f"{arn} holds no SecretString", retryable=False)
    return str(data["SecretString"])
