"""Embedded cloud room: Service Quotas as a fresh account answers it -- what moto lacks.

moto's Service Quotas knows the `vpc` service's defaults and two calls (ListAWSDefaultServiceQuotas,
GetServiceQuota). The platform's preflight also asks for EC2, EKS, RDS, ElastiCache, Elastic Load
Balancing and CloudFront quotas, falls back to GetAWSDefaultServiceQuota when no applied value
exists, and a test raises a quota the way an operator does (RequestServiceQuotaIncrease). moto is
taught here (at import, idempotent, in every process where moto runs):

- `AWS_QUOTAS` (embedded_cloud/quotas.py): the defaults of the quotas berth needs, as AWS
  documents them (one table, with sources); moto's own `vpc` table answers for the vpc service;
- GetAWSDefaultServiceQuota answers from those tables (NoSuchResourceException otherwise);
- GetServiceQuota answers the applied value once one was requested; for the vpc service it
  answers moto's default as before; for the others it raises NoSuchResourceException, as AWS
  does for a quota that has no applied value in the account (callers fall back to the default);
- RequestServiceQuotaIncrease is approved at once (the applied value becomes the desired one;
  AWS refuses a value below the current one and a quota that is not adjustable).

No resource type is modelled here: quotas are read by operations (berth/operations/quotas.py).
Lazy moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import json
from typing import Any

from embedded_cloud.quotas import AWS_QUOTAS, AwsQuota


def _shape(q: AwsQuota, region: str, value: float) -> dict[str, Any]:
    return {
        "ServiceCode": q.service_code,
        "ServiceName": q.service_code,
        "QuotaArn": f"arn:aws:servicequotas:{region}::{q.service_code}/{q.quota_code}",
        "QuotaCode": q.quota_code,
        "QuotaName": q.name,
        "Value": float(value),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": q.scope == "account",
    }


def _default(service_code: str, quota_code: str, region: str) -> dict[str, Any] | None:
    from moto.servicequotas.resources.default_quotas.vpc import VPC_DEFAULT_QUOTAS

    for q in AWS_QUOTAS.values():
        if (q.service_code, q.quota_code) == (service_code, quota_code):
            return _shape(q, region, q.default)
    if service_code == "vpc":
        return next((dict(q) for q in VPC_DEFAULT_QUOTAS if q["QuotaCode"] == quota_code), None)
    return None


def teach_moto() -> None:
    """Teach moto's Service Quotas the calls and defaults above (idempotent)."""
    from moto.servicequotas.exceptions import NoSuchResource
    from moto.servicequotas.models import ServiceQuotasBackend
    from moto.servicequotas.responses import ServiceQuotasResponse

    if getattr(ServiceQuotasResponse, "_berth_taught", False):
        return

    def applied(backend: Any) -> dict[tuple[str, str], float]:
        if not hasattr(backend, "_berth_applied"):
            backend._berth_applied = {}
        return backend._berth_applied

    def get_service_quota(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
        default = _default(service_code, quota_code, self.region_name)
        if default is None:
            raise NoSuchResource
        value = applied(self).get((service_code, quota_code))
        if value is not None:
            return {**default, "Value": value}
        if service_code == "vpc":
            return default
        raise NoSuchResource  # no applied value recorded for this quota in the account

    def get_aws_default_service_quota(self: Any) -> str:
        params = json.loads(self.body)
        default = _default(str(params.get("ServiceCode")), str(params.get("QuotaCode")), self.region)
        if default is None:
            raise NoSuchResource
        return json.dumps({"Quota": default})

    def request_service_quota_increase(self: Any) -> str:
        from moto.core.exceptions import JsonRESTError

        params = json.loads(self.body)
        service_code, quota_code = str(params.get("ServiceCode")), str(params.get("QuotaCode"))
        desired = float(params.get("DesiredValue"))
        current = self.backend.get_service_quota(service_code, quota_code) if (service_code, quota_code) in applied(
            self.backend) else _default(service_code, quota_code, self.region)
        if current is None:
            raise NoSuchResource
        if desired <= current["Value"]:
            raise JsonRESTError("IllegalArgumentException",
                                f"DesiredValue {desired:g} must be above the current value {current['Value']:g}")
        applied(self.backend)[(service_code, quota_code)] = desired
        return json.dumps({"RequestedQuota": {
            "Id": f"req-{quota_code}-{int(desired)}", "ServiceCode": service_code, "QuotaCode": quota_code,
            "QuotaName": current["QuotaName"], "DesiredValue": desired, "Status": "APPROVED",
            "QuotaArn": current["QuotaArn"], "Unit": "None", "GlobalQuota": current["GlobalQuota"]}})

    ServiceQuotasBackend.get_service_quota = get_service_quota  # type: ignore[method-assign]
    ServiceQuotasResponse.get_aws_default_service_quota = get_aws_default_service_quota  # type: ignore[attr-defined]
    ServiceQuotasResponse.request_service_quota_increase = request_service_quota_increase  # type: ignore[attr-defined]
    ServiceQuotasResponse._berth_taught = True  # type: ignore[attr-defined]


teach_moto()
