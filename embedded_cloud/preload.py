"""Embedded cloud room: what the fork server imports once so that every forked run starts warm
(embedded_cloud/forks.py). Imports only: nothing here runs a program, starts a cloud or makes a
backend, so a forked child shares no state with another.
"""

from __future__ import annotations

import gc
import importlib
import os

# moto reads these when its backends start (in the child); the handlers need them set before.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")

import moto.server
import pulumi
import pulumi.runtime.mocks
import pulumi_aws
import pulumi_kubernetes  # noqa: F401
import pulumi_random  # noqa: F401

from embedded_cloud import cloud, runner  # noqa: F401
from embedded_cloud.handlers import load_all

# pulumi_aws imports its service modules on first attribute access: the ones the program uses.
for _module in ("acm", "backup", "cloudfront", "cloudwatch", "ec2", "eks", "elasticache", "iam", "kms", "rds",
                "route53", "s3", "sns", "synthetics", "vpc", "wafv2"):
    getattr(pulumi_aws, _module)
for _name in ("apps.v1", "autoscaling.v2", "batch.v1", "core.v1", "networking.v1", "policy.v1", "rbac.v1"):
    importlib.import_module(f"pulumi_kubernetes.{_name}")

cloud.share_botocore_loader()
load_all()
cloud.speed_up_moto()
import stacks.platform  # noqa: E402, F401 - the program's own modules, components included

_ = pulumi, moto.server
# What was imported lives as long as the children: out of the collector's sight, and pages that
# forked children keep sharing (a collection would touch, and so copy, them all).
gc.freeze()
