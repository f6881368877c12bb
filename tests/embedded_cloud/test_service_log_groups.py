"""Tests room (embedded cloud): services make the log groups they write when the stack did not, as on AWS."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from embedded_cloud import EmbeddedCloud
from embedded_cloud.handlers import Ctx, Res
from embedded_cloud.handlers.logs import get_log_groups, log_group
from embedded_cloud.handlers.rds import instance


def _db(name: str) -> Res:
    return Res("aws:rds/instance:Instance", name, f"urn:{name}", {
        "identifier": name, "engine": "postgres", "instanceClass": "db.t4g.medium", "allocatedStorage": 20,
        "username": "u", "password": "password123", "enabledCloudwatchLogsExports": ["postgresql"]},
        "us-east-1", "t")


def _group(name: str, urn: str) -> Res:
    return Res("aws:cloudwatch/logGroup:LogGroup", urn, f"urn:{urn}", {"name": name, "retentionInDays": 30},
               "us-east-1", "t")


def test_an_instance_exporting_logs_makes_its_group_and_a_group_made_after_it_is_refused() -> None:
    ctx = Ctx(cloud=EmbeddedCloud(), stack="t", default_region="us-east-1")
    instance(ctx, _db("late"))
    (made,) = ctx.client("logs").describe_log_groups(logGroupNamePrefix="/aws/rds/instance/late/")["logGroups"]
    assert "retentionInDays" not in made  # never expires: what the stack must prevent
    with pytest.raises(ClientError, match="ResourceAlreadyExists"):
        log_group(ctx, _group("/aws/rds/instance/late/postgresql", "late-logs"))
    # Made first, the group is the stack's and the instance writes into it.
    log_group(ctx, _group("/aws/rds/instance/early/postgresql", "early-logs"))
    instance(ctx, _db("early"))
    (kept,) = ctx.client("logs").describe_log_groups(logGroupNamePrefix="/aws/rds/instance/early/")["logGroups"]
    assert kept["retentionInDays"] == 30
    found = get_log_groups(ctx, {"logGroupNamePrefix": "/aws/rds/instance/"}, "us-east-1")
    assert sorted(found["logGroupNames"]) == ["/aws/rds/instance/early/postgresql", "/aws/rds/instance/late/postgresql"]
