"""Embedded cloud room: what the fork server imports once so that every forked run starts warm
(embedded_cloud/forks.py). Imports and caches only: nothing here runs a program, starts a cloud or
makes a backend, so a forked child shares no state with another.
"""

from __future__ import annotations

import gc
import importlib
import os

import boto3

from embedded_cloud import cloud

# Before moto is imported: moto reads botocore data at import, and takes the loader factory by name.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
cloud.share_botocore_loader()

import moto.server  # noqa: E402
import pulumi_aws  # noqa: E402
from moto.core.routing import get_service_router  # noqa: E402
from moto.core.utils import get_service_model  # noqa: E402

import stacks.platform  # noqa: E402 - the program's own modules, components included
from components import catalog  # noqa: E402
from embedded_cloud import runner  # noqa: E402
from embedded_cloud.handlers import load_all  # noqa: E402
from embedded_cloud.server import WARM_SERVICES  # noqa: E402

# pulumi_aws imports its service modules on first attribute access: the ones the program uses.
for _module in ("acm", "backup", "cloudfront", "cloudwatch", "ec2", "eks", "elasticache", "iam", "kms", "rds",
                "route53", "s3", "sns", "synthetics", "vpc", "wafv2"):
    getattr(pulumi_aws, _module)
for _name in ("apps.v1", "autoscaling.v2", "batch.v1", "core.v1", "networking.v1", "policy.v1", "rbac.v1"):
    importlib.import_module(f"pulumi_kubernetes.{_name}")

load_all()
cloud.speed_up_moto()

# What every run and every server otherwise loads first thing: botocore's models and endpoint rules
# for each service (into the shared loader's cache, which children inherit), moto's own parsed
# models and its request routers (a router per protocol, built on first use: moto's own cache).
# Only caches are filled: the session and its clients are dropped.
_session = boto3.session.Session(aws_access_key_id="preload", aws_secret_access_key="preload",
                                 region_name="us-east-1")
for _service in (*WARM_SERVICES, "route53", "autoscaling", "resourcegroupstaggingapi"):
    _session.client(_service)
    try:
        _model = get_service_model(_service)
        get_service_router(_service)._get_router(_model.protocol)
    except Exception:  # a service moto routes another way is simply not warmed
        continue
del _session

# The sizes AWS sells, which validating a stack reads (components/catalog.py: ~0.15 s per process).
catalog.warm()

_ = moto.server, stacks.platform, runner
# What was loaded lives as long as the children: out of the collector's sight, and pages that
# forked children keep sharing (a collection would touch, and so copy, them all).
gc.freeze()
