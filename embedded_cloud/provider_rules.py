"""Embedded cloud room: PLACEHOLDER (replaced by the table read from terraform-provider-aws)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    replace: frozenset[str] = frozenset()
    computed: frozenset[str] = frozenset()
    optional_not_computed: frozenset[str] = frozenset()
    notes: str = ""


RULES: dict[str, Rules] = {
    "aws:ec2/subnet:Subnet": Rules(replace=frozenset({"cidrBlock", "vpcId", "availabilityZone"})),
    "aws:rds/instance:Instance": Rules(
        replace=frozenset({"storageEncrypted", "identifier", "kmsKeyId", "engine", "availabilityZone"}),
        computed=frozenset({"kmsKeyId", "availabilityZone", "engineVersion", "identifier", "engine"}),
        optional_not_computed=frozenset({"storageEncrypted"}),
    ),
}
