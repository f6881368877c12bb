"""Policy room: KMS guardrails (aws:kms/key:Key)."""

from __future__ import annotations

from typing import Any

from policy.core import Ctx, is_unknown, resource_rule, truthy

KEY = "aws:kms/key:Key"


@resource_rule(
    "kms-key-rotation",
    types=[KEY],
    description="Symmetric customer keys rotate their key material automatically.",
    severity="medium",
    remediation="Set enable_key_rotation=True (rotation_period_in_days defaults to 365).",
)
def key_rotation(props: dict[str, Any], ctx: Ctx) -> list[str]:
    spec = props.get("customerMasterKeySpec")
    usage = props.get("keyUsage")
    if is_unknown(spec) or is_unknown(usage):
        return []
    # Asymmetric and HMAC keys cannot rotate automatically.
    if spec not in (None, "SYMMETRIC_DEFAULT") or usage not in (None, "ENCRYPT_DECRYPT"):
        return []
    v = props.get("enableKeyRotation")
    if truthy(v) is False or v is None:
        return ["enableKeyRotation is not true"]
    return []
